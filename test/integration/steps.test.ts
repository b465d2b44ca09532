// A step's whole path: harness -> NATS -> runner -> Docker -> JetStream log -> client, on real services.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { outputBytes, type LogEvent } from '@airlock/proto';
import { Airlock } from '@airlock/client';
import { useStack } from '../fixtures.ts';

const stack = useStack();

function collect() {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  return {
    onOutput: (s: 'stdout' | 'stderr', d: Buffer) => (s === 'stdout' ? out : err).push(d),
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => Buffer.concat(err).toString('utf8'),
    bytes: () => Buffer.concat(out),
  };
}

describe('a step round trip', () => {
  it('runs a command, streams stdout and stderr apart, and logs every transition in order', async () => {
    const c = stack.client;
    const run = await c.open({});
    expect(run.record!.status).toBe('open');
    const io = collect();
    const result = await run.exec('echo hello; echo oops >&2; printf "%s" "$PWD"', { onOutput: io.onOutput });
    expect(result).toMatchObject({ step: 1, exitCode: 0, signal: null, sandboxDied: false, timedOut: false, oomKilled: false });
    expect(io.stdout()).toBe('hello\n/workspace');
    expect(io.stderr()).toBe('oops\n');

    const events: LogEvent[] = [];
    for await (const e of run.log({ follow: false })) events.push(e);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const types = events.map((e) => e.type);
    expect(types.slice(0, 2)).toEqual(['run.opened', 'snapshot.created']);
    expect(types.slice(2, 5)).toEqual(['step.requested', 'step.verdict', 'step.started']);
    expect(events[3]).toMatchObject({ type: 'step.verdict', verdict: 'allow', by: 'harness' });
    // ... → exited → snapshotted (step 0's snapshot follows run.opened).
    expect(types.slice(-2)).toEqual(['step.exited', 'snapshot.created']);
    expect(result.logSeq).toBe(events.at(-2)!.seq);
    expect(events.at(-1)).toMatchObject({ type: 'snapshot.created', step: 1, digest: result.snapshot });
    // Each event names the hash of the one before it.
    for (let i = 1; i < events.length; i++) expect(events[i]!.prev).not.toBe(events[i - 1]!.prev);

    const listed = await c.ps();
    expect(listed.runs.map((r) => r.runId)).toContain(run.runId);
    await c.close(run.runId);
    expect((await c.ps()).runs.map((r) => r.runId)).not.toContain(run.runId);
    expect((await c.ps({ all: true })).runs.find((r) => r.runId === run.runId)?.status).toBe('closed');
    await expect(run.exec('true')).rejects.toMatchObject({ code: 'run_closed' });
  });

  it('delivers 10 MB of output complete and in order, live and again from the durable log', async () => {
    const c = stack.client;
    const run = await c.open({});
    const io = collect();
    // `seq` output is ordered and distinct everywhere, so a lost, repeated or swapped chunk changes the hash.
    const result = await run.exec('seq 1 1500000', { onOutput: io.onOutput });
    const expected = execFileSync('seq', ['1', '1500000'], { maxBuffer: 64 * 1024 * 1024 });
    expect(expected.length).toBeGreaterThan(10 * 1024 * 1024);
    expect(result.stdoutBytes).toBe(expected.length);
    expect(result.truncated).toBe(false);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(sha(io.bytes())).toBe(sha(expected));

    // A brand-new client reading the log after the fact gets the same bytes, offsets contiguous.
    await using reader = await Airlock.connect({ servers: stack.nats.url });
    const parts: Buffer[] = [];
    let offset = 0;
    for await (const e of reader.run(run.runId).log({ follow: false })) {
      if (e.type !== 'step.output') continue;
      expect(e.offset).toBe(offset);
      const data = outputBytes(e);
      offset += data.length;
      parts.push(data);
    }
    expect(sha(Buffer.concat(parts))).toBe(sha(expected));
    await c.close(run.runId);
  });

  it('reports non-zero exit codes and signals as results', async () => {
    const c = stack.client;
    const run = await c.open({});
    expect((await run.exec('exit 42')).exitCode).toBe(42);
    const killed = await run.exec('kill -TERM $$');
    expect(killed).toMatchObject({ exitCode: 143, signal: 'SIGTERM', sandboxDied: false });
    expect((await run.exec('nonexistent-command-xyz')).exitCode).toBe(127);
    // Steps are numbered without gaps.
    expect((await run.exec('true')).step).toBe(4);
    await c.close(run.runId);
  });

  it('keeps the workspace across steps and gives no environment of its own processes to the sandbox', async () => {
    process.env.AIRLOCK_CANARY_SECRET = 'canary-7f3a';
    try {
      const c = stack.client;
      const run = await c.open({ env: { GRANTED_RUN: 'yes' } });
      await run.exec('echo data > kept.txt');
      const io = collect();
      // `env` itself is held for approval by the default policy (it may print secrets); list names instead.
      await run.exec('cat kept.txt; echo "$GRANTED_RUN $GRANTED_STEP"; compgen -e', { env: { GRANTED_STEP: 'also' }, onOutput: io.onOutput });
      const [kept, granted, ...names] = io.stdout().trim().split('\n');
      expect(kept).toBe('data');
      expect(granted).toBe('yes also');
      const allowed = new Set(['PATH', 'HOME', 'LANG', 'PAGER', 'GIT_PAGER', 'HOSTNAME', 'PWD', 'SHLVL', 'OLDPWD', '_', 'GRANTED_RUN', 'GRANTED_STEP']);
      expect(names.filter((n) => !allowed.has(n))).toEqual([]);
      expect(names).toContain('GRANTED_RUN');
      const io2 = collect();
      await run.exec('compgen -e', { onOutput: io2.onOutput });
      expect(io2.stdout()).not.toContain('GRANTED_STEP');
      await c.close(run.runId);
    } finally {
      delete process.env.AIRLOCK_CANARY_SECRET;
    }
  });
});
