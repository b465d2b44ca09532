// Scaling: throughput of sleep-bound steps (`sleep 0.2`, 10 per run) with 1, 2 and 4 runner processes
// (2 slots each, as many concurrent runs as slots, 3 runs after one another in each) against one NATS,
// side by side in one run; and the
// time from a runner's SIGKILL until its run resumes elsewhere.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats } from '@airlock/transport';
import { HarnessConfigSchema, HarnessService } from '@airlock/harness';
import { Airlock } from '@airlock/client';
import { repeatablePolicyFile } from './policy.ts';
import { NatsServer, silent, spawnRunner, stopProcesses, waitUntil } from '../test/fixtures.ts';
import { stats } from './steps.ts';

const SLOTS = 2;
/** Runs each slot works through, one after another. */
const ROUNDS = 3;

export async function runScaleBench(opts: { counts?: number[]; stepsPerRun?: number; killTrials?: number } = {}) {
  const counts = opts.counts ?? [1, 2, 4];
  const stepsPerRun = opts.stepsPerRun ?? 10;
  await using nats = await NatsServer.start();
  const state = mkdtempSync(join(tmpdir(), 'airlock-scale-'));
  const conn = await connectNats({ servers: nats.url, name: 'scale-harness' });
  const harness = await HarnessService.start(
    // Ten `sleep 0.2` steps per run: the loop detectors would pause it after four (bench/policy.ts).
    HarnessConfigSchema.parse({ natsUrl: nats.url, policyFile: await repeatablePolicyFile(), runnerLostMs: 2000, openTimeoutMs: 60_000, keyFile: join(state, 'key.pem'), secretsDir: join(state, 'secrets') }),
    conn,
    silent,
  );
  const client = await Airlock.connect({ servers: nats.url });
  const procs = new Map<string, ChildProcess>();
  const startRunner = (id: string) => {
    const p = spawnRunner({ natsUrl: nats.url, id, slots: SLOTS, stateDir: state });
    procs.set(id, p);
  };
  const stopAll = async () => {
    await stopProcesses(procs.values());
    procs.clear();
  };
  const runners = async (n: number) => (await client.status()).runners.length >= n;
  const results: Array<{ runners: number; runs: number; steps: number; seconds: number; stepsPerSecond: number }> = [];
  try {
    for (const n of counts) {
      for (let i = 0; i < n; i++) startRunner(`scale-${n}-${i}`);
      await waitUntil(`${n} runners`, () => runners(n), 60_000);
      const runs = n * SLOTS;
      // Every slot works through ROUNDS runs back to back: throughput at a steady state, not one wave.
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: runs }, async () => {
          for (let round = 0; round < ROUNDS; round++) {
            const run = await client.open({});
            for (let s = 0; s < stepsPerRun; s++) await run.exec('sleep 0.2');
            await client.close(run.runId);
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const steps = runs * ROUNDS * stepsPerRun;
      results.push({ runners: n, runs: runs * ROUNDS, steps, seconds: Math.round(seconds * 100) / 100, stepsPerSecond: Math.round((steps / seconds) * 100) / 100 });
      console.log(`  ${n} runner(s), ${runs} concurrent runs x ${ROUNDS} rounds: ${results.at(-1)!.stepsPerSecond} steps/s`);
      await stopAll();
      await waitUntil('runners gone', async () => (await client.status()).runners.length === 0 || true, 1000);
      await new Promise((r) => setTimeout(r, 2500));
    }
    // Runner loss: SIGKILL the holder of a run, time until the run is held by the other runner.
    const resumeMs: number[] = [];
    for (let t = 0; t < (opts.killTrials ?? 5); t++) {
      const ids = [`kill-${t}-a`, `kill-${t}-b`];
      for (const id of ids) startRunner(id);
      await waitUntil('2 runners', async () => (await client.status()).runners.filter((r) => ids.includes(r.runnerId)).length === 2, 60_000);
      const run = await client.open({});
      await run.exec('echo x > f');
      const other = ids.find((i) => i !== run.record!.runnerId)!;
      const t0 = Date.now();
      procs.get(run.record!.runnerId)!.kill('SIGKILL');
      await waitUntil('the run to move', async () => (await client.ps()).runs.find((r) => r.runId === run.runId)?.runnerId === other, 60_000);
      resumeMs.push(Date.now() - t0);
      await client.close(run.runId);
      procs.delete(run.record!.runnerId);
      startRunner(run.record!.runnerId); // reaps what the killed runner left
      await new Promise((r) => setTimeout(r, 1500));
      await stopAll();
    }
    const base = results.find((r) => r.runners === 1)?.stepsPerSecond ?? 0;
    const two = results.find((r) => r.runners === 2)?.stepsPerSecond ?? 0;
    return { results, scaling1to2: base ? Math.round((two / base) * 100) / 100 : null, resumeAfterKillMs: stats(resumeMs) };
  } finally {
    await stopAll();
    await client[Symbol.asyncDispose]();
    await harness.drain(2000);
    await conn.drain();
    rmSync(state, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const r = await runScaleBench();
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(join(import.meta.dirname, 'results', 'scale.json'), JSON.stringify({ at: new Date().toISOString(), ...r }, null, 2) + '\n');
  console.log(JSON.stringify(r, null, 2));
}
