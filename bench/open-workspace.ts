// The open of a run on a 3,000-file workspace (the survivor's work in runner-loss.test.ts: ownership
// and the first snapshot of every file), plain and re-offered after the runner that took it died
// (SIGKILL as its heartbeat names the open; runnerLostMs 2 s), taken in turns in one run. Session 8
// saw the re-offered one at 8.5-10 s on one commit and 13-17 s on the next (two runs each); this row
// tells load from a change: 3c9234f and 5ba1d44 measured side by side gave 4.0-12.1 s for both.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats } from '@airlock/transport';
import { HarnessConfigSchema, HarnessService } from '@airlock/harness';
import { Airlock } from '@airlock/client';
import { RunnerHeartbeatSchema, subjects } from '@airlock/proto';
import { NatsServer, containersOf, silent, spawnRunner, stopProcesses, waitUntil } from '../test/fixtures.ts';
import { stats, type Stats } from './steps.ts';

/** Files in the workspace, as in runner-loss.test.ts. */
const FILES = 3000;

export interface OpenWorkspaceBench {
  files: number;
  /** Open of the workspace on a live runner, ms. */
  plainMs: Stats;
  /** Open offered again after the runner that took it died, ms (includes the 2 s loss detection). */
  reofferedMs: Stats;
}

export async function runOpenWorkspaceBench(opts: { rounds?: number } = {}): Promise<OpenWorkspaceBench> {
  const rounds = opts.rounds ?? 3;
  await using nats = await NatsServer.start();
  const state = mkdtempSync(join(tmpdir(), 'airlock-openws-'));
  const conn = await connectNats({ servers: nats.url, name: 'openws-harness' });
  const harness = await HarnessService.start(
    HarnessConfigSchema.parse({ natsUrl: nats.url, runnerLostMs: 2000, openTimeoutMs: 10_000, openRequestTimeoutMs: 180_000, keyFile: join(state, 'key.pem'), secretsDir: join(state, 'secrets') }),
    conn,
    silent,
  );
  const client = await Airlock.connect({ servers: nats.url });
  const runners = new Map<string, ChildProcess>();
  const ids = ['openws-a', 'openws-b'];
  const bothUp = async () => {
    for (const id of ids) {
      const c = runners.get(id);
      if (!c || c.exitCode !== null || c.signalCode !== null) runners.set(id, spawnRunner({ natsUrl: nats.url, id, slots: 4, stateDir: state }));
    }
    await waitUntil('both runners up', async () => (await client.status()).runners.length === 2, 60_000);
  };
  const workspace = () => {
    const dir = mkdtempSync(join(state, 'ws-'));
    for (let i = 0; i < FILES; i++) writeFileSync(join(dir, `f${i}.txt`), `file ${i}\n`);
    return dir;
  };
  const plain: number[] = [];
  const reoffered: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      await bothUp();
      const ws = workspace();
      const t0 = performance.now();
      const run = await client.open({ workspace: ws });
      plain.push(performance.now() - t0);
      await client.close(run.runId);

      await bothUp();
      const ws2 = workspace();
      const watch = await connectNats({ servers: nats.url, name: 'openws-heartbeats' });
      let killed = false;
      watch.nc.subscribe(subjects.runnerHeartbeat, {
        callback: (_err, m) => {
          const hb = RunnerHeartbeatSchema.parse(m.json());
          if (!killed && (hb.openingRunIds ?? []).length > 0) {
            killed = true;
            runners.get(hb.runnerId)?.kill('SIGKILL');
          }
        },
      });
      const t1 = performance.now();
      const again = await client.open({ workspace: ws2 });
      const took = performance.now() - t1;
      await watch.drain();
      if (!killed) throw new Error('the runner that took the open was not killed: no heartbeat named it');
      reoffered.push(took);
      await client.close(again.runId);
    }
    // The killed runner, started again, reaps the sandbox it left behind.
    await bothUp();
    await waitUntil('the killed runners to reap their sandboxes', async () => (await Promise.all(ids.map(containersOf))).every((c) => c.length === 0), 60_000);
  } finally {
    await stopProcesses(runners.values());
    await client[Symbol.asyncDispose]();
    await harness.drain(2000);
    await conn.drain();
    rmSync(state, { recursive: true, force: true });
  }
  return { files: FILES, plainMs: stats(plain), reofferedMs: stats(reoffered) };
}
