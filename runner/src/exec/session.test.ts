import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Frame } from '../docker/demux.ts';
import { exportedChanges, newNonce, parseEnv, stripSessionMarks, wrapCommand, type SessionFacts } from './session.ts';

async function collect(frames: Frame[], nonce: string): Promise<{ out: Record<string, string>; facts: SessionFacts }> {
  const facts: SessionFacts = {};
  const out: Record<string, string> = { stdout: '', stderr: '' };
  async function* src() {
    yield* frames;
  }
  for await (const f of stripSessionMarks(src(), nonce, facts)) out[f.stream] += f.data.toString('utf8');
  return { out, facts };
}

const frame = (stream: 'stdout' | 'stderr', s: string): Frame => ({ stream, data: Buffer.from(s) });

describe('session marks', () => {
  it('takes the pid and the cwd out of stderr and leaves every other byte', async () => {
    const n = 'abc123';
    const { out, facts } = await collect([frame('stderr', `\x1eabc123:pid:42\x1eerr1\n`), frame('stdout', 'out\n'), frame('stderr', `tail\x1eabc123:cwd:/w/src\x1e`)], n);
    expect(out).toEqual({ stdout: 'out\n', stderr: 'err1\ntail' });
    expect(facts).toEqual({ pid: 42, cwd: '/w/src' });
  });

  it('finds a marker split across frames, byte by byte', async () => {
    const text = `before\x1enonce9:cwd:/x/y z\x1eafter`;
    const frames = [...text].map((c) => frame('stderr', c));
    const { out, facts } = await collect(frames, 'nonce9');
    expect(out.stderr).toBe('beforeafter');
    expect(facts.cwd).toBe('/x/y z');
  });

  it('ignores markers of another nonce and keeps text that only looks like the start of one', async () => {
    const { out, facts } = await collect([frame('stderr', '\x1eother:cwd:/etc\x1e'), frame('stderr', 'x\x1en')], 'nonce9');
    expect(out.stderr).toBe('\x1eother:cwd:/etc\x1ex\x1en');
    expect(facts).toEqual({});
  });

  it('keeps the first pid and the last cwd, and refuses malformed values', async () => {
    const n = 'k';
    const { facts } = await collect([frame('stderr', '\x1ek:pid:7\x1e\x1ek:pid:9\x1e\x1ek:cwd:/a\x1e\x1ek:cwd:relative\x1e\x1ek:cwd:/b\x1e')], n);
    expect(facts).toEqual({ pid: 7, cwd: '/b' });
  });

  it('wraps a real bash command so that cd and exit are reported', async () => {
    const nonce = newNonce();
    const script = wrapCommand('cd /tmp && echo hi; exit 3', { pid: true, cwd: true }, nonce);
    let stderr = '';
    let stdout = '';
    let code = 0;
    try {
      stdout = execFileSync('bash', ['-c', `${script}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const e = err as { status: number; stdout: string; stderr: string };
      code = e.status;
      stdout = e.stdout;
      stderr = e.stderr;
    }
    expect(code).toBe(3);
    expect(stdout).toBe('hi\n');
    const { out, facts } = await collect([frame('stderr', stderr)], nonce);
    expect(out.stderr).toBe('');
    expect(facts.cwd).toBe('/tmp');
    expect(facts.pid).toBeGreaterThan(1);
  });

  it('reports the exported environment at exit, and keeps only what changed and holds no secret', async () => {
    const nonce = newNonce();
    const script = wrapCommand('export NEW=hello; export LEAK="$TOKEN"; unset GONE; cd /tmp', { pid: false, cwd: true, env: true }, nonce);
    const start = { PATH: '/usr/bin:/bin', TOKEN: 's3cret-value', GONE: 'x', SAME: 'y' };
    const { stderr } = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: start });
    const out = await collect([frame('stderr', stderr)], nonce);
    expect(out.facts.cwd).toBe('/tmp');
    expect(out.facts.env).toMatchObject({ NEW: 'hello', SAME: 'y' });
    // Against the environment the shell reported at its start (its start-up files may export more than it was given).
    expect(out.facts.envStart).toMatchObject({ TOKEN: 's3cret-value', GONE: 'x' });
    expect(out.facts.envStart?.NEW).toBeUndefined();
    const kept = exportedChanges(out.facts.envStart!, out.facts.env!, (v) => v.includes('s3cret-value'));
    expect(kept).toEqual({ NEW: 'hello' });
  });

  it('parses env -0 output, skipping names a shell would not accept', () => {
    expect(parseEnv(Buffer.from('A=1\0B=x=y\0bad-name=2\0C=\0'))).toEqual({ A: '1', B: 'x=y', C: '' });
  });
});
