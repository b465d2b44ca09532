// Issue 14's other two budgets, end to end: active wall time (`activeMs`, the sum of the steps' wall
// time) and output bytes (`outputBytes`, stdout + stderr of all steps). Exhausting one pauses the
// run before its next step with a typed reason (across a harness restart); an operator raises it,
// resumes, and the run goes on. Real stack (dockerd, nats-server).
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '@airlock/proto';
import { errorCode, runEvents, useStack, eventsOfType } from '../fixtures.ts';

const harness = { auth: 'required' as const };
const stack = useStack({ harness });
const of = eventsOfType;

describe('activeMs and outputBytes budgets', () => {
  it('each pauses the run with its typed reason once used up; raise and resume continue it, across a restart', async () => {
    await using bot = await stack.as('bot-1', 'agent');
    await using olga = await stack.as('olga', 'operator');

    const slow = await bot.open({ budgets: { activeMs: 1000 } });
    expect((await bot.run(slow.runId).exec('sleep 1.5')).exitCode).toBe(0);
    await expect(bot.run(slow.runId).exec('echo next')).rejects.toMatchObject({ code: 'run_paused', data: { cause: { kind: 'budget', budget: 'activeMs', limit: 1000 } } });

    const loud = await bot.open({ budgets: { outputBytes: 4096 } });
    expect((await bot.run(loud.runId).exec('head -c 6000 /dev/zero | tr "\\0" x')).stdoutBytes).toBe(6000);
    await expect(bot.run(loud.runId).exec('echo next')).rejects.toMatchObject({ code: 'run_paused', data: { cause: { kind: 'budget', budget: 'outputBytes', used: 6000, limit: 4096 } } });

    await stack.restartHarness();
    expect(await errorCode(bot.run(loud.runId).exec('echo next'))).toBe('run_paused');
    expect(await errorCode(bot.raise(loud.runId, { outputBytes: 100_000 }))).toBe('forbidden');
    expect(await olga.raise(slow.runId, { activeMs: 60_000 })).toMatchObject({ budgets: { activeMs: 60_000 } });
    expect(await olga.raise(loud.runId, { outputBytes: 100_000 })).toMatchObject({ budgets: { outputBytes: 100_000 } });
    await olga.resume(slow.runId);
    await olga.resume(loud.runId);
    expect(await bot.run(slow.runId).exec('echo next')).toMatchObject({ step: 2, exitCode: 0 });
    expect(await bot.run(loud.runId).exec('echo next')).toMatchObject({ step: 2, exitCode: 0 });
    expect(of(await runEvents(stack.client, slow.runId), 'run.governed')).toMatchObject([{ action: 'pause', cause: { kind: 'budget', budget: 'activeMs' } }]);
    expect(of(await runEvents(stack.client, loud.runId), 'run.governed')).toMatchObject([{ action: 'pause', cause: { kind: 'budget', budget: 'outputBytes' } }]);
    await bot.close(slow.runId);
    await bot.close(loud.runId);
  });
});
