// Nothing lost when NATS goes away: a run's log is file-backed, a follower resumes after a
// nats-server restart without gaps or duplicates, and steps logged during the outage are kept.
import { describe, expect, it } from 'vitest';
import { outputBytes, type LogEvent } from '@airlock/proto';
import { Airlock } from '@airlock/client';
import { useStack, waitUntil } from '../fixtures.ts';

const stack = useStack();

describe('nats-server restart mid-run', () => {
  it('keeps every event and a follower resumes without gap or duplicate', async () => {
    const c = stack.client;
    const run = await c.open({});
    await run.exec('echo before');

    await using follower = await Airlock.connect({ servers: stack.nats.url });
    const seen: LogEvent[] = [];
    const stop = new AbortController();
    const following = (async () => {
      for await (const e of follower.run(run.runId).log({ signal: stop.signal })) seen.push(e);
    })();
    await waitUntil('the follower to catch up', () => seen.some((e) => e.type === 'step.exited'));

    // A step that prints for a while; the server restarts while it runs.
    const step = run.exec('for i in $(seq 1 30); do echo line$i; sleep 0.1; done');
    await new Promise((r) => setTimeout(r, 700));
    await stack.nats.restart();
    const result = await step.catch((e: unknown) => e);
    // The step may finish, or its reply may be lost with the connection; either way the log is whole.
    await run.exec('echo after').catch(async () => {
      await new Promise((r) => setTimeout(r, 1000));
      return run.exec('echo after');
    });
    await c.close(run.runId);
    await following;
    stop.abort();

    const stored: LogEvent[] = [];
    for await (const e of run.log({ follow: false })) stored.push(e);
    expect(stored.map((e) => e.seq)).toEqual(stored.map((_, i) => i + 1));
    expect(seen.map((e) => e.seq)).toEqual(stored.map((e) => e.seq));
    const out = stored.flatMap((e) => (e.type === 'step.output' && e.step === 2 ? [outputBytes(e).toString()] : [])).join('');
    expect(out).toBe(Array.from({ length: 30 }, (_, i) => `line${i + 1}\n`).join(''));
    expect(stored.at(-1)?.type).toBe('run.closed');
    void result;
  });
});
