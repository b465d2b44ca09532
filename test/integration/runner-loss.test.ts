// A runner dies (SIGKILL): its in-flight step is marked lost, its runs move to another runner from
// their last snapshot, and a restarted runner reaps what it left behind.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, type NatsHandles } from '@airlock/transport';
import { HarnessConfigSchema, HarnessService } from '@airlock/harness';
import { Airlock } from '@airlock/client';
import { RunnerHeartbeatSchema, subjects, type LogEvent } from '@airlock/proto';
import { NatsServer, containersOf, silent, spawnRunner, stopProcesses, waitUntil } from '../fixtures.ts';

let nats: NatsServer;
let conn: NatsHandles;
let harness: HarnessService;
let client: Airlock;
let state: string;
const runners = new Map<string, ChildProcess>();
const ids = [`loss-a-${process.pid}`, `loss-b-${process.pid}`];
/**
 * How long the harness waits for a runner's answer to an open. An open whose runner dies must be
 * offered again long before that: the harness aborts the wait when it declares the runner lost.
 */
const OPEN_REQUEST_TIMEOUT_MS = 180_000;

/** Starts the runners a previous test killed and did not start again (so one failure does not fail the next test too). */
async function bothRunnersUp(): Promise<void> {
  for (const id of ids) {
    const child = runners.get(id);
    if (!child || child.exitCode !== null || child.signalCode !== null) startRunner(id);
  }
  await waitUntil('both runners up', async () => (await client.status()).runners.length === 2, 30_000);
}

function startRunner(id: string): ChildProcess {
  const child = spawnRunner({ natsUrl: nats.url, id, slots: 4, stateDir: state });
  runners.set(id, child);
  return child;
}

beforeAll(async () => {
  nats = await NatsServer.start();
  state = mkdtempSync(join(tmpdir(), 'airlock-loss-'));
  conn = await connectNats({ servers: nats.url, name: 'loss-harness' });
  harness = await HarnessService.start(HarnessConfigSchema.parse({ natsUrl: nats.url, runnerLostMs: 2000, openTimeoutMs: 10_000, openRequestTimeoutMs: OPEN_REQUEST_TIMEOUT_MS, keyFile: join(state, 'key.pem'), secretsDir: join(state, 'secrets') }), conn, silent);
  for (const id of ids) startRunner(id);
  client = await Airlock.connect({ servers: nats.url });
  await waitUntil('both runners to heartbeat', async () => (await client.status()).runners.length === 2, 30_000);
});
afterAll(async () => {
  await stopProcesses(runners.values());
  await client?.[Symbol.asyncDispose]();
  await harness?.drain(2000);
  await conn?.drain();
  await nats?.[Symbol.asyncDispose]();
  rmSync(state, { recursive: true, force: true });
  for (const id of ids) expect(await containersOf(id)).toEqual([]);
});

describe('runner loss', () => {
  it('marks the in-flight step lost, moves the run to the other runner from its last snapshot, and goes on', async () => {
    const run = await client.open({});
    const holder = run.record!.runnerId;
    const other = ids.find((i) => i !== holder)!;
    await run.exec('echo kept > state.txt');

    let started = false;
    const inFlight = run.exec('echo started; sleep 60', { onOutput: () => (started = true) });
    await waitUntil('the long step to start', () => started, 20_000);
    const killedAt = Date.now();
    runners.get(holder)!.kill('SIGKILL');

    await expect(inFlight).rejects.toMatchObject({ code: 'runner_lost' });
    const failedAfterMs = Date.now() - killedAt;
    await waitUntil('the run to move', async () => (await client.ps()).runs.find((r) => r.runId === run.runId)?.runnerId === other, 60_000);
    const resumedAfterMs = Date.now() - killedAt;
    expect(failedAfterMs).toBeLessThan(15_000);
    console.log(`runner SIGKILL -> step reported lost in ${failedAfterMs} ms, run resumed on ${other} in ${resumedAfterMs} ms`);

    const out: string[] = [];
    const next = await run.exec('cat state.txt', { onOutput: (_, d) => out.push(d.toString()) });
    expect(next).toMatchObject({ exitCode: 0, step: 3 });
    expect(out.join('')).toBe('kept\n');

    const events: LogEvent[] = [];
    for await (const e of run.log({ follow: false })) events.push(e);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.find((e) => e.type === 'runner.lost')).toMatchObject({ runnerId: holder });
    expect(events.find((e) => e.type === 'step.lost')).toMatchObject({ step: 2, runnerId: holder });
    expect(events.find((e) => e.type === 'run.moved')).toMatchObject({ fromRunner: holder, toRunner: other, afterStep: 1 });
    const record = (await client.ps()).runs.find((r) => r.runId === run.runId);
    expect(record?.moves).toBe(1);
    await client.close(run.runId);

    // The dead runner's sandbox is still there; started again under its id, the runner reaps it.
    expect((await containersOf(holder)).length).toBe(1);
    startRunner(holder);
    await waitUntil('the restarted runner to reap its orphans', async () => (await containersOf(holder)).length === 0, 30_000);
  });

  it('offers an open again when the runner that took it dies before answering', async () => {
    await bothRunnersUp();
    // A workspace of 3,000 files makes the open take a while (ownership, first snapshot).
    const ws = mkdtempSync(join(state, 'ws-'));
    for (let i = 0; i < 3000; i++) writeFileSync(join(ws, `f${i}.txt`), `file ${i}\n`);
    // The runner that takes the open says so in a heartbeat at once: kill it right then.
    const watcher = await connectNats({ servers: nats.url, name: 'heartbeat-watch' });
    let killed: string | undefined;
    watcher.nc.subscribe(subjects.runnerHeartbeat, {
      callback: (_err, m) => {
        const hb = RunnerHeartbeatSchema.parse(m.json());
        if (killed === undefined && (hb.openingRunIds ?? []).length > 0) {
          killed = hb.runnerId;
          runners.get(killed)!.kill('SIGKILL');
        }
      },
    });
    const t0 = Date.now();
    const run = await client.open({ workspace: ws });
    const tookMs = Date.now() - t0;
    await watcher.drain();
    expect(killed).toBeDefined();
    expect(run.record!.runnerId).not.toBe(killed);
    // Offered again once the runner was declared lost (runnerLostMs), not after the request timed out.
    // The bound is loose on purpose (the survivor chowns and snapshots 3,000 files on a loaded
    // machine; 8-17 s measured): a timing target belongs in a benchmark, the mechanism here.
    expect(tookMs).toBeLessThan(OPEN_REQUEST_TIMEOUT_MS / 2);
    const out: string[] = [];
    expect(await run.exec('ls | wc -l', { onOutput: (_, d) => out.push(d.toString()) })).toMatchObject({ exitCode: 0 });
    expect(out.join('').trim()).toBe('3000');
    await client.close(run.runId);
    console.log(`open re-offered after its runner died: ${tookMs} ms`);
    startRunner(killed!);
    await waitUntil('the restarted runner to reap', async () => (await containersOf(killed!)).length === 0, 30_000);
  });

  it('fails a run with a stated reason when no runner can take it', async () => {
    // Leave one runner, open a run on it, kill it: nobody is left to take the run.
    await bothRunnersUp();
    const run = await client.open({});
    const survivor = ids.find((i) => i !== run.record!.runnerId)!;
    const s = runners.get(survivor)!;
    const exited = new Promise((r) => s.once('exit', r));
    s.kill('SIGKILL');
    await exited;
    runners.get(run.record!.runnerId)!.kill('SIGKILL');
    await waitUntil('the run to be closed', async () => (await client.ps({ all: true })).runs.find((r) => r.runId === run.runId)?.status === 'closed', 40_000);
    const rec = (await client.ps({ all: true })).runs.find((r) => r.runId === run.runId);
    expect(rec?.closeReason).toMatch(/lost/);
    // Clean up what the killed runners left: restart both, they reap.
    for (const id of ids) startRunner(id);
    await waitUntil('orphans reaped', async () => (await containersOf(ids[0]!)).length === 0 && (await containersOf(ids[1]!)).length === 0, 30_000);
  });
});
