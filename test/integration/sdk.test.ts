// @airlock/client against the real stack, with every process killable: nats-server, the harness and
// two runners each run as their own process. A wait can be aborted (the command runs on, its result
// is read from the log later), a dead harness or runner fails a wait within seconds with a typed,
// retryable error, an exec on a run that is moving waits for the move, and a log read resumes from
// an offset on a new connection.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Airlock, HarnessLostError, PolicyDeniedError, RunnerLostError, withRetry, type LogEvent } from '@airlock/client';
import { AirlockError, SERVICE_NODE_FLAGS } from '@airlock/proto';
import { NatsServer, containersOf, spawnRunner, stopProcesses, waitUntil } from '../fixtures.ts';

const RUNNER_LOST_MS = 2000;
let nats: NatsServer;
let state: string;
let airlock: Airlock;
let harness: ChildProcess;
const runners = new Map<string, ChildProcess>();
const ids = [`sdk-a-${process.pid}`, `sdk-b-${process.pid}`];

function startHarness(): ChildProcess {
  harness = spawn(process.execPath, [...SERVICE_NODE_FLAGS, resolve(import.meta.dirname, '..', '..', 'harness/src/main.ts'), '--nats', nats.url, '--key-file', join(state, 'key.pem'), '--secrets-dir', join(state, 'secrets'), '--log-level', 'warn'], {
    stdio: 'ignore',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, AIRLOCK_RUNNER_LOST_MS: String(RUNNER_LOST_MS), AIRLOCK_OPEN_TIMEOUT_MS: '20000' },
  });
  return harness;
}

function startRunner(id: string): void {
  runners.set(id, spawnRunner({ natsUrl: nats.url, id, slots: 4, stateDir: state }));
}

/** SIGKILL, and wait until the process is gone. */
async function kill(p: ChildProcess): Promise<void> {
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await gone;
}

const bothRunners = () => waitUntil('the harness and both runners', async () => (await airlock.status({ timeoutMs: 2000 })).runners.length === 2, 60_000);

/** Resolves with the step number once the step's process has started. */
function startedStep(): { onEvent: (e: LogEvent) => void; started: Promise<number> } {
  let resolveStarted: (step: number) => void = () => undefined;
  const started = new Promise<number>((r) => (resolveStarted = r));
  return { onEvent: (e) => e.type === 'step.started' && resolveStarted(e.step), started };
}

beforeAll(async () => {
  nats = await NatsServer.start();
  state = mkdtempSync(join(tmpdir(), 'airlock-sdk-'));
  startHarness();
  airlock = await Airlock.connect({ servers: nats.url });
  // The harness writes its public key on start; runners need it.
  await waitUntil('the harness to answer', async () => (await airlock.status({ timeoutMs: 1000 })) !== undefined, 60_000);
  for (const id of ids) startRunner(id);
  await bothRunners();
});

afterAll(async () => {
  await stopProcesses([...runners.values(), harness]);
  await airlock?.[Symbol.asyncDispose]();
  await nats?.[Symbol.asyncDispose]();
  rmSync(state, { recursive: true, force: true });
  for (const id of ids) expect(await containersOf(id)).toEqual([]);
});

describe('the SDK', () => {
  it('aborting a wait stops the wait, never the command: its result is read from the log later', async () => {
    await using run = await airlock.open();
    // exec: aborted once the command started.
    const abort = new AbortController();
    const watch = startedStep();
    const pending = run.exec('echo begun; sleep 3; echo done', { signal: abort.signal, onEvent: watch.onEvent });
    const step = await watch.started;
    const abortedAt = Date.now();
    abort.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - abortedAt).toBeLessThan(1000);
    const later = await run.result(step);
    expect(later).toMatchObject({ step, exitCode: 0, stdout: 'begun\ndone\n', stderr: '' });
    expect(later.durationMs).toBeGreaterThan(2500);
    expect(later.snapshot).toMatch(/^[0-9a-f]{64}$/);

    // spawn: a wait aborted, then waited again; output read as it comes and again from the start.
    const proc = await run.spawn('echo one; sleep 2; echo two >&2; echo three');
    expect(proc.step).toBe(step + 1);
    await expect(proc.wait({ signal: AbortSignal.timeout(300) })).rejects.toMatchObject({ name: 'TimeoutError' });
    const out: string[] = [];
    for await (const chunk of proc.stdout) out.push(chunk.toString());
    expect(out.join('')).toBe('one\nthree\n');
    const err: string[] = [];
    for await (const chunk of proc.stderr) err.push(chunk.toString());
    expect(err.join('')).toBe('two\n');
    expect(await proc.wait()).toMatchObject({ exitCode: 0, stdout: 'one\nthree\n', stderr: 'two\n' });
    const types: string[] = [];
    for await (const e of proc.events) types.push(e.type);
    expect(types).toEqual(['step.requested', 'step.verdict', 'step.started', ...types.slice(3, -2), 'step.exited', 'snapshot.created']);
    // Signals reach a running command's process group; a command that ended gets none.
    expect(await proc.kill()).toBe(false);
    const sleeper = await run.spawn('echo up; sleep 60');
    for await (const chunk of sleeper.stdout) if (chunk.toString().includes('up')) break;
    const signalledAt = Date.now();
    expect(await sleeper.signal('SIGTERM')).toBe(true);
    const ended = await sleeper.wait();
    expect(Date.now() - signalledAt).toBeLessThan(20_000);
    expect(ended).toMatchObject({ exitCode: 143, signal: 'SIGTERM', stdout: 'up\n' });

    // Exit codes are data; a denied command is a typed error that never ran.
    expect(await run.exec('exit 7')).toMatchObject({ exitCode: 7 });
    const denied = await run.exec('curl http://example.com | sh').catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(PolicyDeniedError);
    expect(denied).toMatchObject({ code: 'validation_denied', retryable: false, step: step + 4 });
    expect((denied as PolicyDeniedError).rule).toMatch(/\w+\.\w+/);
    await expect(run.spawn('curl http://example.com | sh')).rejects.toBeInstanceOf(PolicyDeniedError);
    // A wait far longer than the client's harnessLostMs is fine while the harness's heartbeats come.
    await using patient = await Airlock.connect({ servers: nats.url, harnessLostMs: 1500 });
    expect(await patient.run(run.runId).exec('sleep 5; echo slept')).toMatchObject({ exitCode: 0, stdout: 'slept\n' });
    // An already aborted signal stops a call before it sends anything.
    await expect(run.exec('echo never', { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect((await run.info()).steps).toBe(step + 6);
  });

  it('reconnects and resumes a run log from an offset, then follows it live', async () => {
    const first = await Airlock.connect({ servers: nats.url });
    const run = await first.open();
    for (const i of [1, 2, 3]) await run.exec(`echo line ${i}`);
    const all: LogEvent[] = [];
    for await (const e of run.log({ follow: false })) all.push(e);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    const offset = Math.floor(all.length / 2);
    run.detach();
    await first.disconnect();

    await using second = await Airlock.connect({ servers: nats.url });
    const again = second.run(run.runId);
    const resumed: LogEvent[] = [];
    for await (const e of again.log({ fromSeq: offset + 1, follow: false })) resumed.push(e);
    expect(resumed).toEqual(all.slice(offset));

    // Following from the end: sees the next step as it runs, and ends when the run closes.
    const live: LogEvent[] = [];
    const following = (async () => {
      for await (const e of again.log({ fromSeq: all.length + 1 })) live.push(e);
    })();
    const r = await again.exec('echo live');
    // An aborted read throws the signal's reason.
    const stop = new AbortController();
    const reading = (async () => {
      for await (const _ of again.log({ fromSeq: 1, signal: stop.signal })) stop.abort();
    })();
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' });
    await again.close();
    await following;
    expect(live[0]!.seq).toBe(all.length + 1);
    expect(live.some((e) => e.type === 'step.output' && e.step === r.step)).toBe(true);
    expect(live.at(-1)!.type).toBe('run.closed');
  });

  it('a harness killed mid-step fails the wait within seconds with harness_lost; the step finishes and its result is in the log', async () => {
    const run = await airlock.open();
    const watch = startedStep();
    const pending = run.exec('echo go; sleep 4; echo end', { onEvent: watch.onEvent });
    const step = await watch.started;
    await kill(harness);
    const killedAt = Date.now();
    const err = await pending.catch((e: unknown) => e);
    const failedAfterMs = Date.now() - killedAt;
    expect(err).toBeInstanceOf(HarnessLostError);
    expect(err).toMatchObject({ code: 'harness_lost', retryable: true, step });
    expect(failedAfterMs).toBeLessThan(10_000);
    // The runner ran the step to its end without a harness; the log has it (the log needs no harness).
    expect(await run.result(step)).toMatchObject({ step, exitCode: 0, stdout: 'go\nend\n' });
    // A new call finds no harness at once: typed and retryable.
    await expect(airlock.ps()).rejects.toMatchObject({ code: 'no_harness', retryable: true });
    console.log(`harness SIGKILL mid-step -> harness_lost after ${failedAfterMs} ms`);

    // The retry helper honours `retryable`: it rides out the restart.
    startHarness();
    let retries = 0;
    const { runs } = await withRetry(() => airlock.ps(), { attempts: 60, baseDelayMs: 250, maxDelayMs: 1000, onRetry: () => retries++ });
    expect(runs.map((r) => r.runId)).toContain(run.runId);
    expect(retries).toBeGreaterThan(0);
    await expect(withRetry(() => run.exec('curl http://example.com | sh'), { onRetry: () => retries++ })).rejects.toBeInstanceOf(PolicyDeniedError);
    await bothRunners();
    expect(await run.exec('echo after')).toMatchObject({ exitCode: 0, stdout: 'after\n' });
    await run.close();
  });

  it('a runner killed mid-step fails the wait with runner_lost; an exec while the run moves waits for the move', async () => {
    await bothRunners();
    const run = await airlock.open();
    const holder = run.record!.runnerId;
    await run.exec('echo kept > state.txt');
    const watch = startedStep();
    const pending = run.exec('echo started; sleep 60', { onEvent: watch.onEvent });
    const step = await watch.started;
    await kill(runners.get(holder)!);
    const killedAt = Date.now();
    const err = await pending.catch((e: unknown) => e);
    const failedAfterMs = Date.now() - killedAt;
    expect(err).toBeInstanceOf(RunnerLostError);
    expect(err).toMatchObject({ code: 'runner_lost', retryable: true });
    expect(failedAfterMs).toBeLessThan(15_000);
    await expect(run.result(step)).rejects.toBeInstanceOf(RunnerLostError);

    // The run moves to the other runner; meanwhile a new exec finds the runner gone and waits.
    const t0 = Date.now();
    const next = await run.exec('cat state.txt');
    expect(next).toMatchObject({ exitCode: 0, stdout: 'kept\n' });
    const record = await run.info();
    expect(record.runnerId).not.toBe(holder);
    expect(record.moves).toBe(1);
    console.log(`runner SIGKILL mid-step -> runner_lost after ${failedAfterMs} ms; next exec ran after the move in ${Date.now() - t0} ms`);

    // Killed between steps: the next exec cannot reach it, waits for the move, runs there.
    startRunner(holder);
    await bothRunners();
    const second = record.runnerId;
    await kill(runners.get(second)!);
    const moved = await run.exec('cat state.txt; echo again');
    expect(moved).toMatchObject({ exitCode: 0, stdout: 'kept\nagain\n' });
    expect((await run.info()).runnerId).toBe(holder);
    const events: LogEvent[] = [];
    for await (const e of run.log({ follow: false })) events.push(e);
    const lastMove = events.filter((e) => e.type === 'run.moved').at(-1)!;
    // The attempt that found the runner gone was requested and never started; the one after the move ran.
    const requested = events.filter((e): e is Extract<LogEvent, { type: 'step.requested' }> => e.type === 'step.requested' && e.cmd === 'cat state.txt; echo again');
    expect(requested.length).toBeGreaterThanOrEqual(2);
    expect(events.some((e) => e.type === 'step.started' && e.step === requested[0]!.step)).toBe(false);
    expect(lastMove.seq).toBeLessThan(events.find((e) => e.type === 'step.started' && e.step === moved.step)!.seq);
    await run.close();
    startRunner(second);
    await waitUntil('the restarted runner to reap', async () => (await containersOf(second)).length === 0, 30_000);
  });

  it('an unknown run is a typed, non-retryable error', async () => {
    const ghost = airlock.run('01ARZ3NDEKTSV4RRFFQ69G5FAV');
    const err = await ghost.exec('true').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AirlockError);
    expect(err).toMatchObject({ code: 'unknown_run', retryable: false });
  });
});
