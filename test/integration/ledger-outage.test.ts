// NATS away longer than the runner may wait while a step streams output: the step is stopped with a
// typed result (`logLost`), the log holds a whole prefix of its output and the step's end, and the
// runner process goes on (an unhandled rejection would fail this file). The short outage, where
// everything is kept, is durability.test.ts.
import { describe, expect, it } from 'vitest';
import { outputBytes, type LogEvent, type StepResult } from '@airlock/proto';
import { runEvents, useStack, waitUntil } from '../fixtures.ts';

const LOG_RETRY_MS = 2000;
// The runner gives up on an append after 2 s; the harness must not declare it lost meanwhile.
const stack = useStack({ runner: { logRetryMs: LOG_RETRY_MS }, harness: { runnerLostMs: 600_000 } });

describe('nats-server stopped mid-stream for longer than the log retry', () => {
  it('stops the step with logLost, keeps a whole prefix of its output, logs its end once NATS is back, and the runner goes on', async () => {
    const c = stack.client;
    const run = await c.open({});
    const lines = 600;
    const full = Array.from({ length: lines }, (_, i) => `line${i + 1}\n`).join('');
    const step = run
      .exec(`for i in $(seq 1 ${lines}); do echo line$i; sleep 0.05; done`, { timeoutMs: 120_000 })
      .then((r) => ({ ok: true as const, r }), (err: unknown) => ({ ok: false as const, err }));

    // Output is flowing into the log.
    await waitUntil('output in the log', async () => (await runEvents(c, run.runId)).some((e) => e.type === 'step.output'), 20_000);
    await stack.nats.stop();
    await new Promise((r) => setTimeout(r, LOG_RETRY_MS * 3));
    await stack.nats.restart();

    const outcome = await step;
    // The step's end reaches the log once NATS is back, whether or not the reply made it.
    await waitUntil('the step end in the log', async () => (await runEvents(c, run.runId)).some((e) => e.type === 'step.exited'), 60_000);
    const events = await runEvents(c, run.runId);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const exited = events.find((e): e is Extract<LogEvent, { type: 'step.exited' }> => e.type === 'step.exited')!;
    expect(exited.result.logLost).toBe(true);
    expect(exited.result.exitCode).toBeNull();
    if (outcome.ok) {
      const r: StepResult = outcome.r;
      expect(r.logLost).toBe(true);
      expect(r.logSeq).toBe(exited.seq);
    }
    expect(events.some((e) => e.type === 'sandbox.died' && /run log/.test(e.reason))).toBe(true);

    // The log holds a prefix of the output, with no hole: offsets follow each other from 0.
    const chunks = events.filter((e): e is Extract<LogEvent, { type: 'step.output' }> => e.type === 'step.output');
    let offset = 0;
    for (const ch of chunks) {
      expect(ch.offset).toBe(offset);
      offset += outputBytes(ch).length;
    }
    const logged = chunks.map((ch) => outputBytes(ch).toString()).join('');
    expect(full.startsWith(logged)).toBe(true);
    expect(logged.length).toBeGreaterThan(0);
    // It was stopped: the command did not get to write everything.
    expect(logged.length).toBeLessThan(full.length);
    expect(exited.result.stdoutBytes).toBeGreaterThanOrEqual(logged.length);
    expect(exited.result.stdoutBytes).toBeLessThan(full.length);

    // The runner goes on: the next step runs in a fresh sandbox and is logged in full.
    const next = await run.exec('echo after');
    expect(next.exitCode).toBe(0);
    expect(next.logLost).toBeUndefined();
    expect(stack.runner.state).toBe('running');
    await c.close(run.runId);
  }, 180_000);
});
