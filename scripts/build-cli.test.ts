// The CLI bundle (scripts/build-cli.ts) and the `./airlock` launcher that runs it: what `exec`, `log`
// and `--help` load before a command runs, and the rebuild when a source differs from what the bundle was built from.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_BUNDLE_DIR, INPUTS_FILE, buildCli, eagerOutputs } from './build-cli.ts';

const run = promisify(execFile);
/** NODE_OPTIONS that make Node print every CLI entry module it loads (`loaded <url>`) to stderr. */
const TRACE_ENTRY = `--import=data:text/javascript,${encodeURIComponent("import{registerHooks}from'node:module';registerHooks({load(u,c,n){if(/cli[/]main[.](ts|js)$/.test(u))process.stderr.write('loaded '+u+'\\n');return n(u,c)}})")}`;
const ROOT = resolve(import.meta.dirname, '..');
const scratch = mkdtempSync(join(tmpdir(), 'airlock-cli-bundle-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('CLI bundle', { timeout: 120_000 }, () => {
  it('loads no snapshot, ledger, trust or validator code before a command asks for it', async () => {
    const meta = await buildCli(join(scratch, 'cli'));
    const eagerInputs = eagerOutputs(meta).flatMap((o) => Object.keys(meta.outputs[o]!.inputs));
    const allInputs = Object.keys(meta.inputs);
    const heavy = (f: string) => /(^|\/)(snapshot|ledger|trust|validate)\/src\//.test(f) || f.includes('web-tree-sitter') || f.includes('/tar-stream/');
    // The lazy chunks do hold the snapshot store (so the check below looks at real paths)…
    expect(allInputs.filter(heavy).length).toBeGreaterThan(5);
    // …and none of it is in what every start loads.
    expect(eagerInputs.filter(heavy)).toEqual([]);
    expect(eagerInputs.some((f) => f.endsWith('harness/src/cli/main.ts'))).toBe(true);
  });

  it('./airlock rebuilds the bundle when a source changed, also to an older time, then runs it', async () => {
    await run(join(ROOT, 'airlock'), ['--help']);
    const manifest = join(CLI_BUNDLE_DIR, INPUTS_FILE);
    const inputs = JSON.parse(readFileSync(manifest, 'utf8')) as [string, number, number][];
    expect(inputs.map(([f]) => f)).toContain('harness/src/cli/format.ts');
    const source = join(ROOT, 'harness', 'src', 'cli', 'format.ts');
    const before = statSync(source);
    // Put back with a time 20 years old (as `cp -p`, `tar` or `rsync -t` do): not newer than the bundle, still changed.
    const old = new Date(Date.now() - 3_600_000 * 24 * 365 * 20);
    utimesSync(source, old, old);
    const builtBefore = statSync(manifest).mtimeMs;
    try {
      const { stdout, stderr } = await run(join(ROOT, 'airlock'), ['--help'], { env: { ...process.env, NODE_OPTIONS: TRACE_ENTRY } });
      expect(stdout).toContain('Usage: airlock');
      expect(stderr).toContain('harness/dist/cli/main.js');
      expect(stderr).not.toContain('harness/src/cli/main.ts');
      expect(statSync(manifest).mtimeMs).toBeGreaterThan(builtBefore);
      const entry = (JSON.parse(readFileSync(manifest, 'utf8')) as [string, number, number][]).find(([f]) => f === 'harness/src/cli/format.ts');
      expect(entry?.[2]).toBe(statSync(source).mtimeMs);
    } finally {
      utimesSync(source, before.atime, before.mtime);
    }
  });

  it('./airlock rebuilds a bundle without its list of sources, and one built from another directory lists them', async () => {
    rmSync(join(CLI_BUNDLE_DIR, INPUTS_FILE), { force: true });
    const { stdout } = await run(join(ROOT, 'airlock'), ['--help'], { cwd: tmpdir() });
    expect(stdout).toContain('Usage: airlock');
    const inputs = JSON.parse(readFileSync(join(CLI_BUNDLE_DIR, INPUTS_FILE), 'utf8')) as [string, number, number][];
    expect(inputs.map(([f]) => f)).toEqual(expect.arrayContaining(['harness/src/cli/main.ts', 'proto/src/index.ts', 'client/src/airlock.ts', 'package-lock.json']));
    for (const [f] of inputs) expect(existsSync(join(ROOT, f)), f).toBe(true);
  });

  it('AIRLOCK_CLI_FROM_SOURCE=1 runs the TypeScript sources', async () => {
    const { stdout, stderr } = await run(join(ROOT, 'airlock'), ['validate', '--json', '--', 'ls'], { env: { ...process.env, AIRLOCK_CLI_FROM_SOURCE: '1', NODE_OPTIONS: TRACE_ENTRY } });
    expect(JSON.parse(stdout)).toMatchObject({ verdict: 'allow' });
    expect(stderr).toContain('harness/src/cli/main.ts');
    expect(stderr).not.toContain('harness/dist/cli/main.js');
  });
});
