/** The export condition under which this repository's packages resolve to their .ts sources. */
export const SOURCE_CONDITION = 'airlock-source';

/**
 * Node flags for Airlock's long-lived processes (harness, runner, CLI), given on node's command line
 * (V8 reads them at start). Measured on the ledger bench (`bench/ledger.ts`, 256 MB through one step):
 *
 * - `--liftoff-only` keeps V8 on its baseline wasm compiler. By default V8 recompiles the hot
 *   functions of the validator's tree-sitter grammar with its optimising compiler in the background,
 *   which cost ~500 MB of RSS and a core for several seconds in the first busy step of every harness
 *   and runner (peak RSS 645 MB -> 123 MB). The price is validation speed: on the benign corpus the
 *   chain ran 13,500 commands per CPU-second with it against 22,200 without (measured side by side;
 *   `npm run bench` measured 17,600 with it). A step validates one command, so services take the
 *   memory; a warm-up at start did not move the optimisation out of the first busy step.
 * - `--max-semi-space-size=4` caps V8's young generation at a few MB. Streaming output allocates fast,
 *   and V8 otherwise grows the young generation to ~100 MB: runner RSS growth over a 256 MB step went
 *   from 99-104 MB to 3-11 MB, with throughput the same or better (more, cheaper scavenges).
 * - `--conditions=airlock-source` makes `@airlock/proto` and `@airlock/client` resolve to their .ts
 *   sources, as everything in this repository runs them; without it they resolve to the dist/ build
 *   that only their `npm pack` tarballs need.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--liftoff-only', '--max-semi-space-size=4', `--conditions=${SOURCE_CONDITION}`];
