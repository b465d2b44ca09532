// Chaos: concurrent runs on two runner processes over a 3-node NATS cluster (R3 streams) while a
// runner is SIGKILLed, sandboxes are killed, an OOM, a fork bomb and a full disk happen inside
// sandboxes, and one NATS node is stopped. Afterwards: the harness never went down, every run
// completed or ended with a stated reason, no run's log has a gap or duplicate, nothing leaked.
//   npm run chaos            (CHAOS_RUNS, default 20)
//   make test runs a short form (project chaos-short: 6 runs)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogEvent } from '@airlock/proto';
import { connectNats, type NatsHandles } from '@airlock/transport';
import { HarnessConfigSchema, HarnessService } from '@airlock/harness';
import { Airlock } from '@airlock/client';
import { containersOf, freePort, silent, spawnRunner, stopProcesses, waitUntil } from '../fixtures.ts';

const RUNS = Number(process.env.CHAOS_RUNS ?? 20);
/** Steps each run takes at least; runs go on stepping until every fault has happened. */
const STEPS = 6;
const MAX_STEPS = 40;
let dir: string;
const nats: Array<{ port: number; cport: number; proc?: ChildProcess }> = [];
const runners = new Map<string, ChildProcess>();
let conn: NatsHandles;
let harness: HarnessService;
let client: Airlock;
const urls = () => nats.map((n) => `nats://127.0.0.1:${n.port}`).join(',');
const ids = [`chaos-a-${process.pid}`, `chaos-b-${process.pid}`];

const open = (port: number) =>
  new Promise<boolean>((r) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), r(true)));
    s.once('error', () => r(false));
  });

function startNats(i: number): void {
  const n = nats[i]!;
  const routes = nats.filter((_, j) => j !== i).map((m) => `nats://127.0.0.1:${m.cport}`).join(',');
  n.proc = spawn('nats-server', ['-js', '-sd', join(dir, `n${i}`), '-n', `n${i}`, '-a', '127.0.0.1', '-p', String(n.port), '--cluster_name', 'chaos', '--cluster', `nats://127.0.0.1:${n.cport}`, '--routes', routes], { stdio: 'ignore' });
}

function startRunner(id: string): void {
  runners.set(id, spawnRunner({ natsUrl: urls(), id, slots: RUNS, stateDir: dir, env: { AIRLOCK_REPLICAS: '3' } }));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-chaos-'));
  for (let i = 0; i < 3; i++) nats.push({ port: await freePort(), cport: await freePort() });
  for (let i = 0; i < 3; i++) startNats(i);
  for (const n of nats) await waitUntil('nats node', () => open(n.port), 15_000);
  // JetStream needs a meta leader before anything can use it: retry until the cluster answers.
  for (let i = 0; ; i++) {
    try {
      conn = await connectNats({ servers: urls().split(','), name: 'chaos-harness' });
      break;
    } catch (err) {
      if (i > 20) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  harness = await HarnessService.start(
    HarnessConfigSchema.parse({
      natsUrl: urls(), replicas: 3, runnerLostMs: 2500, openTimeoutMs: 60_000, keyFile: join(dir, 'key.pem'), secretsDir: join(dir, 'secrets'),
      limits: { memoryBytes: 256 * 1024 * 1024, pids: 256, nanoCpus: 1_000_000_000, tmpfsBytes: 32 * 1024 * 1024 },
    }),
    conn,
    silent,
  );
  for (const id of ids) startRunner(id);
  client = await Airlock.connect({ servers: urls() });
  await waitUntil('runners', async () => (await client.status()).runners.length === 2, 60_000);
}, 180_000);

afterAll(async () => {
  await stopProcesses(runners.values());
  await client?.[Symbol.asyncDispose]();
  await harness?.drain(2000);
  await conn?.drain();
  for (const n of nats) if (n.proc && n.proc.exitCode === null) n.proc.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dir, { recursive: true, force: true });
});

type Outcome = { runId: string; steps: number; ended: string };

/** Why a run was closed, as the harness lists it; asks again while NATS is recovering from a fault. */
async function closeReasonOf(runId: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await client.ps({ all: true })).runs.find((r) => r.runId === runId)?.closeReason ?? '?';
    } catch (err) {
      if (attempt >= 4) throw err;
      await new Promise((r) => setTimeout(r, 1500));
    }
  }
}

describe('chaos', () => {
  it(`${RUNS} concurrent runs survive a runner SIGKILL, killed sandboxes, OOM, a fork bomb, a full disk and a NATS node going down`, async () => {
    const faults: string[] = [];
    let faultsDone = false;
    // Which runner each run opened on, as the harness answered the open: the victim is chosen from
    // this, not from a `ps` listing taken while the cluster is busy (one once took a minute).
    const openedOn = new Map<string, string>();
    let opensSettled = 0;
    const work = Array.from({ length: RUNS }, async (_, i): Promise<Outcome> => {
      let run;
      for (let attempt = 0; ; attempt++) {
        try {
          run = await client.open({});
          openedOn.set(run.runId, run.record!.runnerId);
          opensSettled++;
          break;
        } catch (err) {
          if (attempt >= 4) {
            opensSettled++;
            return { runId: '-', steps: 0, ended: `closed: could not open: ${(err as Error).message}` };
          }
          await new Promise((r) => setTimeout(r, 2000));
        }
      }
      let done = 0;
      const failed: string[] = [];
      let s = 1;
      for (; s <= MAX_STEPS && (s <= STEPS || !faultsDone); s++) {
        // The fork bomb is a script file: the validator cannot see into it, so the sandbox's pids
        // limit and the step timeout are what contain it.
        const [cmd, timeoutMs] =
          s === 3 && i % 5 === 0 ? ['python3 -c "x = bytearray(1024 * 1024 * 1024)"', 30_000]
          : s === 3 && i % 5 === 1 ? ['head -c 100M /dev/zero > /tmp/fill; rm -f /tmp/fill', 30_000]
          : s === 3 && i % 5 === 2 ? ["printf 'f(){ f | f & }; f\\n' > /tmp/bomb.sh; bash /tmp/bomb.sh", 4000]
          : [`echo run${i} step${s} >> progress.txt; sleep 0.5`, 30_000];
        // A lost runner or a NATS hiccup: the run moves within a few seconds; try the step again.
        for (let attempt = 0; attempt < 5; attempt++) {
          try {
            await run.exec(cmd, { timeoutMs });
            done++;
            break;
          } catch (err) {
            const code = (err as { code?: string }).code;
            if (attempt === 4) failed.push(`step ${s}: ${code ?? 'error'}: ${(err as Error).message.slice(0, 160)}`);
            if (code === 'run_closed') return { runId: run.runId, steps: done, ended: 'closed: ' + (await closeReasonOf(run.runId)) };
            await new Promise((r) => setTimeout(r, 1500));
          }
        }
      }
      await client.close(run.runId).catch(async () => {
        await new Promise((r) => setTimeout(r, 2000));
        await client.close(run.runId);
      });
      const tried = s - 1;
      return { runId: run.runId, steps: done, ended: done === tried ? 'completed' : `closed: ${tried - done} of ${tried} steps failed (${failed.join('; ')})` };
    });

    // Handled from the start: a run's driver failing while the faults below are injected must fail
    // the test with its error at the end, not as an unhandled rejection in the middle.
    const settled = Promise.allSettled(work);

    // Faults, while the runs work. First the runner holding the most runs, once the runs are open.
    await waitUntil('every run to open (or give up)', () => opensSettled >= RUNS, 60_000);
    const held = [...openedOn.values()];
    const victim = ids.map((id) => [id, held.filter((r) => r === id).length] as const).sort((a, b) => b[1] - a[1])[0]![0];
    const survivor = ids.find((id) => id !== victim)!;
    runners.get(victim)!.kill('SIGKILL');
    faults.push(`SIGKILL runner ${victim} (holding ${held.filter((r) => r === victim).length} runs)`);
    await new Promise((r) => setTimeout(r, 1500));
    const sandboxes = (await containersOf(survivor)).slice(0, 3);
    for (const id of sandboxes) spawn('docker', ['kill', id], { stdio: 'ignore' });
    faults.push(`docker kill ${sandboxes.length} sandboxes`);
    nats[2]!.proc!.kill('SIGTERM');
    faults.push('stopped NATS node n2');
    await new Promise((r) => setTimeout(r, 5000));
    startNats(2);
    faults.push('restarted NATS node n2');
    faultsDone = true;

    const outcomes = (await settled).map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    });

    // The harness never went down.
    expect((await client.status()).harness.pid).toBe(process.pid);
    // Every run completed or ended with a stated reason.
    for (const o of outcomes) expect(o.ended === 'completed' || /closed: .+/.test(o.ended)).toBe(true);
    // No log has a gap or a duplicate (the reader throws on a break in the sequence).
    const summary: string[] = [];
    for (const o of outcomes.filter((x) => x.runId !== '-')) {
      const seqs: number[] = [];
      const types = new Map<string, number>();
      let oom = 0;
      let timedOut = 0;
      for await (const e of client.run(o.runId).log({ follow: false })) {
        seqs.push(e.seq);
        types.set(e.type, (types.get(e.type) ?? 0) + 1);
        if (e.type === 'step.exited' && e.result.oomKilled) oom++;
        if (e.type === 'step.exited' && e.result.timedOut) timedOut++;
      }
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      summary.push(`${o.runId}  ${String(o.steps).padStart(2)} steps  ${o.ended.padEnd(10)}  events ${seqs.length}  moved ${types.get('run.moved') ?? 0}  sandbox deaths ${types.get('sandbox.died') ?? 0}  oom ${oom}  timed out ${timedOut}`);
    }
    // Nothing leaked: the killed runner, restarted under its id, reaps what it left.
    startRunner(victim);
    await waitUntil('no sandboxes left', async () => (await containersOf(ids[0]!)).length + (await containersOf(ids[1]!)).length === 0, 60_000);
    // The table first: a failed check below is read against it.
    console.log(`faults: ${faults.join('; ')}\nRUN ID                      STEPS       END         EVENTS\n${summary.join('\n')}`);
    // The killed runner's runs moved: the fault hit live runs.
    expect(summary.some((line) => !/moved 0 /.test(line))).toBe(true);
    expect(outcomes.filter((o) => o.ended === 'completed').length).toBeGreaterThan(RUNS / 2);
  }, 600_000);
});
