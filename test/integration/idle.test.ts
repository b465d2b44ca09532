// Idle runs (issue 14): a run with no step for the policy's idleTimeout is suspended (sandbox
// removed, runner slot freed) and its next step restores it from its last snapshot; after maxIdle it
// is closed with termination `idle` (or `budget`/`loop` when it sat paused for one); a suspended
// run whose snapshot cannot be restored ends `sandbox_lost`. Short timeouts come from the test
// policy; the harness restarts in the middle.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AirlockError } from '@airlock/proto';
import type { LogEvent, RunRecord } from '@airlock/proto';
import { defaultPolicy } from '@airlock/validate';
import { containersOf, runCli, runEvents, useStack, waitUntil, eventsOfType } from '../fixtures.ts';

/** A policy file: the shipped policy with these governance settings. */
async function policyWith(governance: Record<string, unknown>): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'airlock-idle-')), 'policy.json');
  writeFileSync(file, JSON.stringify({ ...(await defaultPolicy()), governance }));
  return file;
}

const policies = { suspend: '', expire: '' };
// An open waits for a slot while an idle run is being suspended: room for a loaded machine.
const openTimeoutMs = 30_000;
// Suspension: 2 slots, suspended after 1.5 s idle, closed only after an hour.
const stack = useStack(async () => ({ slots: 2, harness: { openTimeoutMs, policyFile: (policies.suspend = await policyWith({ idleTimeout: '1500ms', maxIdle: '1h' })) } }));
// Expiry: closed after 4 s idle (suspended after 1 s first).
const expiring = useStack(async () => ({ slots: 2, harness: { openTimeoutMs, policyFile: (policies.expire = await policyWith({ idleTimeout: '1s', maxIdle: '4s' })) } }));

const of = eventsOfType;
const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof AirlockError ? e.code : String(e)));

async function recordOf(s: typeof stack, runId: string): Promise<RunRecord> {
  const { runs } = await s.client.ps({ all: true });
  const r = runs.find((x) => x.runId === runId);
  if (!r) throw new Error(`run ${runId} not in ps`);
  return r;
}

describe('idle runs are suspended and restored', () => {
  it('5 abandoned runs on a 2-slot runner: every open succeeds; a suspended run\'s next step sees its files, across a harness restart', async () => {
    const runs: string[] = [];
    for (let i = 0; i < 5; i++) {
      // Opens 3..5 find both slots held by abandoned runs: they succeed once those are suspended.
      const run = await stack.client.open({});
      await run.exec(`echo run-${i} > mine.txt && mkdir -p d && seq 1 ${100 + i} > d/numbers`);
      runs.push(run.runId);
    }
    // The first three were suspended to make room; the log and ps say so.
    for (const runId of runs.slice(0, 3)) {
      const log = await runEvents(stack.client, runId);
      const suspended = of(log, 'run.suspended');
      expect(suspended).toHaveLength(1);
      expect(suspended[0]).toMatchObject({ by: 'harness', runnerId: stack.runnerId, afterStep: 1 });
      expect(suspended[0]!.idleMs).toBeGreaterThanOrEqual(1500);
      expect(suspended[0]!.reason).toContain('idleTimeout');
      expect((await recordOf(stack, runId)).suspended).toMatchObject({ afterStep: 1, runnerId: stack.runnerId });
    }
    const ps = await runCli(['--nats', stack.nats.url, 'ps']);
    expect(ps.stdout).toMatch(new RegExp(`${runs[0]}\\s+suspended \\(idle\\)`));
    // No container of a suspended run is left; the runner holds at most its 2 slots.
    expect(stack.runner.runIds.length).toBeLessThanOrEqual(2);
    expect((await containersOf(stack.runnerId)).length).toBeLessThanOrEqual(2);

    await stack.harness.drain(2000);
    await stack.startHarness({ openTimeoutMs, policyFile: policies.suspend });

    // The first run's next step restores it (the slot it needs is freed by suspending another).
    const first = stack.client.run(runs[0]!);
    const r = await first.exec('cat mine.txt && wc -l < d/numbers');
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toBe('run-0\n100\n');
    const log = await runEvents(stack.client, runs[0]!);
    const moved = of(log, 'run.moved');
    expect(moved).toHaveLength(1);
    expect(moved[0]).toMatchObject({ fromRunner: stack.runnerId, toRunner: stack.runnerId, afterStep: 1, reason: expect.stringContaining('idle suspension') });
    expect((await recordOf(stack, runs[0]!)).suspended).toBeUndefined();
    // The step after it goes on in the same sandbox, numbered on.
    const again = await first.exec('echo more >> mine.txt && cat mine.txt');
    expect(again.step).toBe(3);
    expect(again.stdout.toString()).toBe('run-0\nmore\n');
    expect((await stack.client.runState(runs[0]!)).suspended).toBeUndefined();
    for (const runId of runs) await stack.client.close(runId);
    for (const runId of runs) expect((await recordOf(stack, runId)).termination).toBe('succeeded');
  });

  it('a suspended run whose sandbox cannot be restored (its image is gone) fails its next step and ends sandbox_lost', async () => {
    const tag = `airlock/sandbox:idle-gone-${process.pid}`;
    execFileSync('docker', ['tag', 'airlock/sandbox:default', tag]);
    try {
      const run = await stack.client.open({ image: tag });
      await run.exec('echo x > f');
      await waitUntil('the run is suspended', async () => (await recordOf(stack, run.runId)).suspended !== undefined, 20_000);
      // Removing the tag leaves the image (the default tag holds it): only this run's name is gone.
      execFileSync('docker', ['rmi', tag]);
      const failed = await run.exec('cat f').then(
        () => 'ran',
        (e: unknown) => (e instanceof AirlockError ? `${e.code}: ${e.message}` : String(e)),
      );
      expect(failed).toMatch(/^run_closed: .*could not be restored/);
      expect(await recordOf(stack, run.runId)).toMatchObject({ status: 'closed', termination: 'sandbox_lost' });
      const closed = of(await runEvents(stack.client, run.runId), 'run.closed');
      expect(closed.at(-1)).toMatchObject({ termination: 'sandbox_lost', reason: expect.stringContaining('image') });
    } finally {
      execFileSync('docker', ['rmi', '-f', tag], { stdio: 'ignore' });
    }
  });
});

describe('idle runs are closed after maxIdle', () => {
  it('a run with no step for maxIdle is closed with termination idle; one that sat paused by its budget ends budget', async () => {
    const idle = await expiring.client.open({});
    await idle.exec('echo hi');
    const capped = await expiring.client.open({ budgets: { steps: 1 } });
    await capped.exec('echo one');
    expect(await code(capped.exec('echo two'))).toBe('run_paused');
    // A harness restart in the middle: the idle clock is the log's, so it goes on.
    await expiring.harness.drain(2000);
    await expiring.startHarness({ openTimeoutMs, policyFile: policies.expire });
    for (const runId of [idle.runId, capped.runId]) {
      await waitUntil(`run ${runId} is closed`, async () => (await recordOf(expiring, runId)).status === 'closed', 30_000);
    }
    const a = await recordOf(expiring, idle.runId);
    expect(a.termination).toBe('idle');
    expect(a.closeReason).toMatch(/no step for .* \(maxIdle 4 s\)/);
    const aLog = await runEvents(expiring.client, idle.runId);
    expect(of(aLog, 'run.suspended')).toHaveLength(1);
    expect(of(aLog, 'run.closed').at(-1)).toMatchObject({ termination: 'idle', reason: expect.stringContaining('maxIdle') });
    expect((await recordOf(expiring, capped.runId)).termination).toBe('budget');
    const ps = await runCli(['--nats', expiring.nats.url, 'ps', '--all']);
    expect(ps.stdout).toMatch(new RegExp(`${idle.runId}\\s+closed:idle`));
    expect(ps.stdout).toMatch(new RegExp(`${capped.runId}\\s+closed:budget`));
    const log = await runCli(['--nats', expiring.nats.url, 'log', idle.runId]);
    expect(log.stdout).toMatch(/run SUSPENDED \(idle/);
    expect(log.stdout).toMatch(/run closed \(IDLE\)/);
  });
});
