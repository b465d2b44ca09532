/**
 * Node flags for Airlock's long-lived processes (harness, runner, CLI), given on node's command line
 * (V8 reads them at start). Measured on the ledger bench (`bench/ledger.ts`, 256 MB through one step):
 *
 * - `--liftoff-only` keeps V8 on its baseline wasm compiler. By default V8 recompiles the hot
 *   functions of the validator's tree-sitter grammar with its optimising compiler in the background,
 *   which cost ~500 MB of RSS and a core for several seconds in the first busy step of every harness
 *   and runner (peak RSS 645 MB -> 123 MB; validation rate unchanged within noise, 30-49k commands/s).
 * - `--max-semi-space-size=4` caps V8's young generation at a few MB. Streaming output allocates fast,
 *   and V8 otherwise grows the young generation to ~100 MB: runner RSS growth over a 256 MB step went
 *   from 99-104 MB to 3-11 MB, with throughput the same or better (more, cheaper scavenges).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--liftoff-only', '--max-semi-space-size=4'];
