// Global options (--json, --nats, --state-dir) count anywhere before `--`, through the real `./airlock`.
// Only commands that need no services here: `validate` runs offline, and a NATS URL nobody listens on
// fails fast with a typed error, which is enough to see which URL and which output format were used.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const AIRLOCK = resolve(import.meta.dirname, '..', '..', '..', 'airlock');

function airlock(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(AIRLOCK, args, { timeout: 60_000, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' } }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

/** A port with nothing listening: connection refused at once. */
const DEAD_NATS = 'nats://127.0.0.1:1';

// Each case starts a Node process; on a loaded 2-core machine that takes seconds.
describe('./airlock global options', { timeout: 60_000 }, () => {
  it('--json after the command', async () => {
    const r = await airlock(['validate', '--json', '--', 'ls -la']);
    expect(r.stderr).not.toContain('unknown option');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ cmd: 'ls -la', verdict: 'allow' });
  });

  it('words after `--` stay the command, even when they look like global options', async () => {
    const r = await airlock(['validate', '--', 'echo', '--json', '--nats', 'x']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ALLOW /); // text output: --json was not taken as the option
    const j = await airlock(['validate', '--json', '--', 'echo', '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ cmd: 'echo --json' });
  });

  it('--nats and --json after the command (and after its own options) reach the client', async () => {
    const cases = [
      ['ps', '--all', '--json', '--nats', DEAD_NATS],
      ['ps', '--nats=' + DEAD_NATS, '--all', '--json'],
      ['--json', 'ps', '--nats', DEAD_NATS],
      ['log', 'RUN', '--from', '2', '--json', '--nats', DEAD_NATS],
    ];
    const results = await Promise.all(cases.map((args) => airlock(args)));
    for (const [i, args] of cases.entries()) {
      const r = results[i]!;
      expect(r.stderr, args.join(' ')).not.toContain('unknown option');
      expect(r.code, args.join(' ')).toBe(125);
      expect(JSON.parse(r.stdout), args.join(' ')).toMatchObject({ type: 'error', code: 'no_harness', message: expect.stringContaining(DEAD_NATS) });
    }
  });

  it('--state-dir after the command', async () => {
    const r = await airlock(['down', '--state-dir', '/nonexistent/airlock-state']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('/nonexistent/airlock-state');
  });

  it('an unknown option is still an error', async () => {
    const r = await airlock(['ps', '--jsn', '--nats', DEAD_NATS]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("unknown option '--jsn'");
  });
});
