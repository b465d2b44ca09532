// Operators' controls of issue 14 beyond pause/resume/cancel/kill/raise: `pause --interrupt`, scoped
// and expiring approvals, `retry --step N` on a linked branch, and two-person rollback. Each test
// restarts the harness in the middle: what it checks afterwards comes back from JetStream.
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '@airlock/proto';
import { useStack, runEvents, waitUntil, errorCode, eventsOfType } from '../fixtures.ts';

const harness = { auth: 'required' as const };
const stack = useStack({ harness });

const as = (...args: Parameters<typeof stack.as>) => stack.as(...args);
const restartHarness = () => stack.restartHarness();

const events = (runId: string) => runEvents(stack.client, runId);
const of = eventsOfType;
const code = errorCode;

describe('pause --interrupt', () => {
  it('the running step gets SIGINT and ends; the run is paused across a restart; an agent may not', async () => {
    await using bot = await as('bot-1', 'agent');
    await using olga = await as('olga', 'operator');
    const run = await bot.open({});
    const step = bot.run(run.runId).exec(`trap 'echo caught-int; exit 130' INT; echo started; for i in $(seq 1 600); do sleep 0.2; done`);
    await waitUntil('step 1 running', async () => (await olga.runState(run.runId)).stepInFlight === 1);
    expect(await code(bot.pause(run.runId, { interrupt: true }))).toBe('forbidden');
    const t0 = Date.now();
    expect((await olga.pause(run.runId, { interrupt: true, graceMs: 30_000, reason: 'stop that' })).state).toBe('paused');
    const r = await step;
    // SIGINT, not TERM: it ended long before the grace period.
    expect(r).toMatchObject({ step: 1, exitCode: 130 });
    expect(r.stdout).toContain('caught-int');
    expect(Date.now() - t0).toBeLessThan(20_000);
    await restartHarness();
    await expect(bot.run(run.runId).exec('echo more')).rejects.toMatchObject({ code: 'run_paused' });
    const log = await events(run.runId);
    expect(of(log, 'run.control')).toMatchObject([{ verb: 'pause', interrupt: { step: 1, graceMs: 30_000 }, actor: { principal: 'olga' } }]);
    expect(of(log, 'access.denied').map((d) => d.actor?.principal)).toContain('bot-1');
    expect((await olga.resume(run.runId)).state).toBe('running');
    expect(await bot.run(run.runId).exec('echo more')).toMatchObject({ step: 2, exitCode: 0 });
    await bot.close(run.runId);
  });

  it('a step that ignores SIGINT gets SIGTERM after the grace period, from a harness that restarted while it ran', async () => {
    await using bot = await as('bot-1', 'agent');
    await using olga = await as('olga', 'operator');
    const run = await bot.open({});
    // Started as a process: it keeps running while the harness restarts.
    const started = await bot.run(run.runId).exec(`trap '' INT; echo ignoring; sleep 120`, { yieldMs: 500 });
    expect(started.status).toBe('running');
    await restartHarness();
    const t0 = Date.now();
    expect((await olga.pause(run.runId, { interrupt: true, graceMs: 1500 })).state).toBe('paused');
    await waitUntil('step 1 ended', async () => (await bot.run(run.runId).poll(1)).status === 'exited', 60_000);
    const ended = await bot.run(run.runId).poll(1);
    expect(ended.result).toMatchObject({ signal: 'SIGTERM' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    expect(of(await events(run.runId), 'run.control')).toMatchObject([{ verb: 'pause', interrupt: { step: 1, graceMs: 1500 } }]);
    await olga.kill(run.runId);
  });

  it('a harness restarted during the grace period still sends SIGTERM when it ends', async () => {
    await using bot = await as('bot-1', 'agent');
    await using olga = await as('olga', 'operator');
    const run = await bot.open({});
    expect((await bot.run(run.runId).exec(`trap '' INT; sleep 120`, { yieldMs: 500 })).status).toBe('running');
    const t0 = Date.now();
    expect((await olga.pause(run.runId, { interrupt: true, graceMs: 6000 })).state).toBe('paused');
    // Stopped well before the grace ends: the new harness finds the interrupt in the log.
    await restartHarness();
    expect((await bot.run(run.runId).poll(1)).status).toBe('running');
    await waitUntil('step 1 ended', async () => (await bot.run(run.runId).poll(1)).status === 'exited', 60_000);
    expect((await bot.run(run.runId).poll(1)).result).toMatchObject({ signal: 'SIGTERM' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(6000);
    await olga.kill(run.runId);
  });
});

describe('retry --step N', () => {
  it('re-runs the step on a branch from the snapshot before it, validated again; parent and branch name each other; idempotent across a restart', async () => {
    await using bot = await as('bot-1', 'agent');
    await using olga = await as('olga', 'operator');
    const run = await bot.open({});
    const r = bot.run(run.runId);
    await r.exec('echo a > f');
    expect((await r.exec('echo b >> f; cat f')).stdout).toBe('a\nb\n');
    await r.exec('echo c >> f');
    expect(await code(bot.retry(run.runId, 2))).toBe('forbidden');
    expect(await code(olga.retry(run.runId, 9))).toBe('bad_request');
    const retried = await olga.retry(run.runId, 2, { requestId: 'retry-req-0001', reason: 'flaky' });
    // The branch's workspace is the one after step 1: `f` holds only `a` before the step appends `b`.
    expect(retried).toMatchObject({ parentRunId: run.runId, step: 2, cmd: 'echo b >> f; cat f', result: { step: 1, exitCode: 0 } });
    const branchId = retried.runId;
    expect(branchId).not.toBe(run.runId);
    const before = of(await events(run.runId), 'snapshot.created').find((s) => s.step === 1)!;
    expect(retried.fromSnapshot).toBe(before.digest);
    expect((await olga.run(branchId).result(1)).stdout).toBe('a\nb\n');
    await restartHarness();
    // The same request after the restart: the same branch, nothing run again.
    expect(await olga.retry(run.runId, 2, { requestId: 'retry-req-0001' })).toMatchObject({ runId: branchId, step: 2 });
    const parentLog = await events(run.runId);
    const branchLog = await events(branchId);
    expect(of(parentLog, 'run.retried')).toMatchObject([{ step: 2, branchRunId: branchId, fromSnapshot: before.digest, requestId: 'retry-req-0001', reason: 'flaky', actor: { principal: 'olga', role: 'operator' } }]);
    expect(of(branchLog, 'run.branched')).toMatchObject([{ parentRunId: run.runId, step: 2, fromSnapshot: before.digest, actor: { principal: 'olga' } }]);
    expect(of(branchLog, 'run.opened')[0]).toMatchObject({ fromSnapshot: before.digest });
    // Validated again, under the policy the harness enforces now.
    const { harness: h } = await olga.status();
    expect(of(branchLog, 'step.verdict')).toMatchObject([{ step: 1, verdict: 'allow', cmd: 'echo b >> f; cat f', policyHash: h.policyHash }]);
    expect(of(branchLog, 'step.requested')).toHaveLength(1);
    expect(of(parentLog, 'access.denied').map((d) => d.actor?.principal)).toContain('bot-1');
    // The branch is a run of its own; the parent is untouched.
    expect((await olga.run(branchId).exec('cat f')).stdout).toBe('a\nb\n');
    expect((await r.exec('cat f')).stdout).toBe('a\nb\nc\n');
    await olga.close(branchId);
    await bot.close(run.runId);
  });
});

describe('rollback --to-step N', () => {
  it('is planned with its diff, refused while a step runs, approved by a second operator only, applied to the workspace, across a restart', async () => {
    await using bot = await as('bot-1', 'agent');
    await using olga = await as('olga', 'operator');
    await using oscar = await as('oscar', 'operator');
    const run = await bot.open({});
    const r = bot.run(run.runId);
    await r.exec('echo v1 > a; echo keep > k');
    await r.exec('echo v2 > a; echo new > b; rm k');
    expect(await code(bot.planRollback(run.runId, 1))).toBe('forbidden');
    // Refused while a step runs.
    const busy = await r.exec('sleep 3', { yieldMs: 200 });
    expect(busy.status).toBe('running');
    expect(await code(olga.planRollback(run.runId, 1))).toBe('run_busy');
    await waitUntil('the sleep ended', async () => (await r.poll(3)).status === 'exited', 30_000);
    const plan = await olga.planRollback(run.runId, 1, { reason: 'bad edit' });
    expect(plan).toMatchObject({ status: 'planned', toStep: 1, requestedBy: { principal: 'olga' }, diff: { added: ['k'], modified: ['a'], deleted: ['b'], counts: { added: 1, modified: 1, deleted: 1 } } });
    expect(plan.patches?.find((p) => p.path === 'a')?.patch).toMatch(/-v2\n\+v1/);
    // Nothing changed yet (a step that changes nothing keeps the plan current).
    expect((await r.exec('cat a')).stdout).toBe('v2\n');
    await restartHarness();
    // The operator who planned it may not approve it.
    await expect(olga.approveRollback(run.runId, plan.jobId)).rejects.toMatchObject({ code: 'forbidden', message: expect.stringContaining('two-person') });
    expect((await oscar.rollbackJob(run.runId, plan.jobId)).status).toBe('planned');
    const applied = await oscar.approveRollback(run.runId, plan.jobId);
    expect(applied).toMatchObject({ status: 'applied', requestedBy: { principal: 'olga' }, approvedBy: { principal: 'oscar' } });
    expect(await code(oscar.approveRollback(run.runId, plan.jobId))).toBe('already_decided');
    const after = await r.exec('cat a k; ls');
    expect(after.stdout).toBe('v1\nkeep\na\nk\n');
    const log = await events(run.runId);
    expect(of(log, 'run.rollback').map((e) => [e.phase, e.requestedBy.principal, e.approvedBy?.principal, e.actor?.principal])).toEqual([
      ['planned', 'olga', undefined, 'olga'],
      ['approved', 'olga', 'oscar', 'oscar'],
      ['applied', 'olga', 'oscar', 'oscar'],
    ]);
    expect(of(log, 'access.denied').map((d) => [d.actor?.principal, d.subject.endsWith('.rollback')])).toEqual(expect.arrayContaining([['bot-1', true], ['olga', true]]));
    await bot.close(run.runId);
  });
});
