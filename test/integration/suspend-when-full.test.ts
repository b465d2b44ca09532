// Early suspension (issue 14, idle runs): when a new run finds every runner slot busy, the run idle
// longest (at least the policy's `suspendWhenFull`) is suspended at once, as the idle timeout would
// have later (sandbox removed, slot freed), instead of the open waiting and being refused; its next
// step restores it from its last snapshot (freeing a slot the same way when all are taken). With `suspendWhenFull: off` the open is refused as before.
// Real dockerd and nats-server; 2-slot and 1-slot runners; a harness restart in the middle.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '@airlock/proto';
import { defaultPolicy } from '@airlock/validate';
import { containersOf, errorCode, runCli, runEvents, useStack, eventsOfType } from '../fixtures.ts';

async function policyWith(governance: Record<string, unknown>): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'airlock-full-')), 'policy.json');
  writeFileSync(file, JSON.stringify({ ...(await defaultPolicy()), governance }));
  return file;
}

let earlyPolicy = '';
// The idle timeout is an hour: only the early suspension can free a slot here.
const stack = useStack(async () => ({ slots: 2, harness: { openTimeoutMs: 30_000, policyFile: (earlyPolicy = await policyWith({ idleTimeout: '1h', suspendWhenFull: '2s' })) } }));
const off = useStack(async () => ({ slots: 1, harness: { openTimeoutMs: 4000, policyFile: await policyWith({ idleTimeout: '1h', suspendWhenFull: 'off' }) } }));

const of = eventsOfType;
/** The idle age a run needs before it may be suspended early (the policy's 2 s, with a margin). */
const IDLE_AGE_MS = 2500;

describe('suspendWhenFull', () => {
  it('a third open on a full 2-slot runner suspends the longest-idle run, not the other; it is restored on its next step, across a restart', async () => {
    const oldest = await stack.client.open({});
    await oldest.exec('echo first > mine.txt && mkdir -p d && seq 1 50 > d/n');
    const younger = await stack.client.open({});
    await younger.exec('echo second > mine.txt');
    // Both idle past 2 s; the younger one less long (it ran a step since).
    await sleep(IDLE_AGE_MS);
    await younger.exec('echo again >> mine.txt');
    await sleep(IDLE_AGE_MS);

    const t0 = Date.now();
    const third = await stack.client.open({});
    // Not the 30 s open timeout: the slot was freed as soon as the runner said it was full.
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect((await third.exec('echo third')).exitCode).toBe(0);

    const suspended = of(await runEvents(stack.client, oldest.runId), 'run.suspended');
    expect(suspended).toHaveLength(1);
    expect(suspended[0]).toMatchObject({ by: 'harness', runnerId: stack.runnerId, afterStep: 1 });
    expect(suspended[0]!.idleMs).toBeGreaterThanOrEqual(2000);
    expect(suspended[0]!.reason).toContain('every runner slot is busy');
    expect(of(await runEvents(stack.client, younger.runId), 'run.suspended')).toHaveLength(0);
    const ps = await runCli(['--nats', stack.nats.url, 'ps']);
    expect(ps.stdout).toMatch(new RegExp(`${oldest.runId}\\s+suspended`));
    expect(stack.runner.runIds.sort()).toEqual([younger.runId, third.runId].sort());
    expect((await containersOf(stack.runnerId)).length).toBe(2);

    await stack.harness.drain(2000);
    await stack.startHarness({ openTimeoutMs: 30_000, policyFile: earlyPolicy });

    // Its next step needs a slot while both are taken: the run idle longest now (the younger one)
    // gives its slot up the same way, and the oldest comes back with its files.
    await sleep(IDLE_AGE_MS);
    const back = await stack.client.run(oldest.runId).exec('cat mine.txt && wc -l < d/n');
    expect(back.stdout.toString()).toBe('first\n50\n');
    expect(of(await runEvents(stack.client, oldest.runId), 'run.moved')).toMatchObject([{ afterStep: 1, reason: expect.stringContaining('idle suspension') }]);
    const gaveWay = of(await runEvents(stack.client, younger.runId), 'run.suspended');
    expect(gaveWay).toMatchObject([{ afterStep: 2, reason: expect.stringContaining('every runner slot is busy') }]);
    expect(of(await runEvents(stack.client, third.runId), 'run.suspended')).toHaveLength(0);
    // And the younger one, in turn, by the third (idle longest by then).
    expect((await stack.client.run(younger.runId).exec('cat mine.txt')).stdout.toString()).toBe('second\nagain\n');
    expect(of(await runEvents(stack.client, third.runId), 'run.suspended')).toHaveLength(1);
    expect((await containersOf(stack.runnerId)).length).toBe(2);
    await stack.client.close(third.runId);
    await stack.client.close(oldest.runId);
    await stack.client.close(younger.runId);
  });

  it('with suspendWhenFull off, an open on a full 1-slot runner is refused and the idle run keeps its sandbox', async () => {
    const held = await off.client.open({});
    await held.exec('echo mine > f');
    await sleep(IDLE_AGE_MS);
    expect(await errorCode(off.client.open({}))).toBe('capacity_exhausted');
    expect(of(await runEvents(off.client, held.runId), 'run.suspended')).toHaveLength(0);
    expect(off.runner.runIds).toEqual([held.runId]);
    expect((await held.exec('cat f')).stdout.toString()).toBe('mine\n');
    await off.client.close(held.runId);
  });
});
