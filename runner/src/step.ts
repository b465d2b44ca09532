// The step path: one step of a run, from opening its process to its result, snapshot included.
// Whether its deadline fired comes from the party that enforced it (see exec/deadline.ts).
import { constants as osConstants } from 'node:os';
import { MAX_CHUNK_BYTES, outputFields } from '@airlock/proto';
import type { RunnerExecRequest, StepResult } from '@airlock/proto';
import { Redactor } from '@airlock/trust';
import type { ContainerClient, ContainerState, ExecHandle, ExecSpec } from './docker/client.ts';
import type { Frame } from './docker/demux.ts';
import { pumpChunks, type ChunkerTotals } from './exec/chunker.ts';
import { exportedChanges, stepSession } from './exec/session.ts';
import { cpuReader, cpuSinceLast } from './cpu.ts';
import type { LiveRun } from './live-run.ts';
import { egressStepSpec } from './egress/wire.ts';
import type { Logger } from './logger.ts';
import type { SandboxEvents } from './sandbox-events.ts';

/** Grace after a step's timeout before the runner kills the whole sandbox as a backstop. */
const BACKSTOP_GRACE_MS = 5000;
/** At the deadline the step's process group gets TERM, then KILL this many ms later. */
const KILL_AFTER_MS = 2000;
/** How long a step stopped for a lost log waits for the log to come back before it reports its end. */
const LOG_RECOVERY_MS = 30_000;
// With the writer's own retry budget (giveUpAfterMs, 60 s) this stays inside the harness's wait for
// a step's reply (its timeout + STEP_REPLY_GRACE_MS in the harness), so the caller gets `logLost`,
// not a timeout on a run that is still busy.

/** What the step path needs from the runner service. */
export interface StepHost {
  readonly docker: ContainerClient;
  readonly log: Logger;
  /** Output kept per stream per step; beyond it the step is marked truncated. */
  readonly maxOutputBytes: number;
  readonly events: SandboxEvents;
  /** Starts a fresh sandbox for the run (its previous one died) and records it on the run. */
  startSandbox(run: LiveRun): Promise<string>;
  /** Snapshots the run's workspace after a step; undefined when the snapshot failed (logged). */
  snapshot(run: LiveRun, step: number): Promise<string | undefined>;
}

/**
 * Runs one authorized, re-checked step in the run's sandbox: streams its redacted output into the
 * run log, decides how it ended, and snapshots the workspace. A dead sandbox is a result, not an error.
 */
export async function runStep(host: StepHost, run: LiveRun, req: RunnerExecRequest): Promise<StepResult> {
  const log = host.log.child({ runId: run.runId, step: req.step });
  if (run.containerId === null) {
    const id = await host.startSandbox(run);
    await run.log.append({ type: 'sandbox.started', containerId: id, reason: 'the previous sandbox died; fresh sandbox on the same workspace' });
  }
  // A process (exec with yieldMs) reports its shell's pid (signals), a keepCwd step its final cwd.
  const session = stepSession(req);
  run.session = { step: req.step, facts: session.facts, endsAt: Date.now() + req.timeoutMs };
  const execSpec = {
    cmd: ['bash', '-c', session.script],
    // Enforced (TERM to the whole process group, then KILL) by whoever runs the command, who also
    // reports whether it fired: the runner never guesses it from a clock of its own.
    deadline: { timeoutMs: req.timeoutMs, killAfterMs: KILL_AFTER_MS },
    // Secrets reach this exec only: never the container's environment, a log or a snapshot.
    env: { ...run.env, ...req.env, ...req.secrets },
    user: run.workspace.user,
    workdir: run.mountPath,
    // A step given a secret starts in a sandbox with nothing left running from earlier steps.
    isolate: Object.keys(req.secrets).length > 0,
  };
  const redactor = Object.keys(req.secrets).length > 0 ? new Redactor(req.secrets) : null;
  // Taken before the exec opens, so no OOM the step causes can come before it.
  const oomsBefore = run.containerId ? host.events.ooms(run.containerId) : 0;
  const containerBefore = run.containerId;
  // With egress (policy network.mode proxy): the loopback forwarder in front, the proxy variables set.
  const opened = await openExec(host, run, req.step, await egressStepSpec(run, execSpec, req.secrets));
  const containerId = run.containerId!;
  try {
    await run.log.append({ type: 'step.started', step: req.step, containerId });
  } catch (err) {
    // The process is already running: stop it and read its output to the end, or the sandbox's
    // executor channel would stay busy and the next step on it would wait forever.
    log.error({ err }, 'could not log the step start; stopping the step');
    await host.docker.kill(containerId).catch((e: unknown) => log.error({ err: e }, 'could not stop the step'));
    await drainOutput(opened.output).catch(() => undefined);
    run.containerId = null;
    host.docker.remove(containerId).catch((e: unknown) => log.warn({ err: e }, 'could not remove the stopped sandbox'));
    throw err;
  }
  // Duration only (reported, never used to decide anything).
  const started = performance.now();
  let backstopFired = false;
  const backstop = setTimeout(() => {
    backstopFired = true;
    log.warn('step outlived its timeout; killing the sandbox');
    void host.docker.kill(containerId).catch((err: unknown) => log.error({ err }, 'backstop kill failed'));
  }, req.timeoutMs + KILL_AFTER_MS + BACKSTOP_GRACE_MS);

  let totals: ChunkerTotals = { stdoutBytes: 0, stderrBytes: 0, truncated: false };
  let exitCode: number | null = null;
  let deadlineFired = false;
  try {
    const handle = opened;
    // The chunks stand or fall together: after one could not be stored, none later is written.
    const output = run.log.sequence();
    const frames = session.strip(handle.output);
    totals = await pumpChunks(
      redactor ? redactFrames(frames, redactor) : frames,
      { maxChunkBytes: MAX_CHUNK_BYTES, maxStreamBytes: host.maxOutputBytes, flushAfterMs: 20, window: 8 },
      async (chunk) => {
        await output.append({ type: 'step.output', step: req.step, stream: chunk.stream, offset: chunk.offset, ...outputFields(chunk.data) });
      },
    );
    if (totals.logLost) {
      // Never run on with output nobody records: stop the step, then wait for the log to take its end.
      log.error({ err: totals.logLost }, 'the run log did not store the step output; stopping the step');
      await host.docker.kill(containerId).catch((err: unknown) => log.error({ err }, 'could not stop the step'));
      await run.log.waitWritable({ timeoutMs: LOG_RECOVERY_MS }).catch((err: unknown) => log.error({ err }, 'the run log is still unavailable'));
    }
    const exit = await handle.exit().catch((err: unknown) => {
      log.warn({ err }, 'exit status unknown');
      return { code: null, timedOut: false };
    });
    exitCode = exit.code;
    deadlineFired = exit.timedOut;
  } catch (err) {
    // The exec could not even start: the sandbox is gone (409 not running / 404). Handled below.
    log.warn({ err }, 'exec failed');
  } finally {
    clearTimeout(backstop);
    run.session = undefined;
  }
  const durationMs = performance.now() - started;
  // The deadline fired if its enforcer says so, or if the runner's own backstop had to kill the sandbox.
  const timedOut = deadlineFired || backstopFired;

  // Only look closer when the exit was abnormal: normal exits cost no extra Docker call.
  let sandboxDied = false;
  let oomKilled = false;
  let containerExit: number | null = null;
  if (exitCode === null || exitCode >= 124) {
    const state = await settledState(host, containerId, exitCode);
    sandboxDied = state === null || !state.running;
    containerExit = state?.exitCode ?? null;
    // A count, not a time: an OOM event counts for this step if it came after the mark taken before the exec.
    const before = containerId === containerBefore ? oomsBefore : 0;
    oomKilled = (state?.oomKilled ?? false) || host.events.ooms(containerId) > before;
  }
  const signal = signalOf(exitCode, timedOut, sandboxDied);
  // Read before a dead sandbox is removed; a sandbox that died with the step has no cgroup left.
  const cpuSeconds = sandboxDied ? undefined : await cpuSinceLast(run, containerId, cpuReader(host.docker)).catch(() => undefined);
  const result = {
    runId: run.runId,
    step: req.step,
    exitCode: sandboxDied ? null : exitCode,
    signal,
    oomKilled,
    timedOut,
    sandboxDied,
    durationMs: Math.round(durationMs * 1000) / 1000,
    stdoutBytes: totals.stdoutBytes,
    stderrBytes: totals.stderrBytes,
    truncated: totals.truncated,
    ...(totals.logLost ? { logLost: true } : {}),
    ...(cpuSeconds !== undefined ? { cpuSeconds: Math.round(cpuSeconds * 1e6) / 1e6 } : {}),
    ...(req.reportCwd && session.facts.cwd ? { cwd: session.facts.cwd } : {}),
    ...(req.reportEnv && session.facts.env ? { env: exportedChanges(session.facts.envStart ?? execSpec.env, session.facts.env, (v) => redactor !== null && redactor.redactString(v) !== v) } : {}),
  };
  if (sandboxDied) {
    run.containerId = null;
    host.events.forget(containerId);
    await run.log.append({
      type: 'sandbox.died',
      step: req.step,
      containerId,
      exitCode: containerExit,
      oomKilled,
      reason: oomKilled ? 'out of memory' : timedOut ? 'killed after the step timeout' : totals.logLost ? 'stopped: the run log could not store the step output' : 'the sandbox stopped during the step',
    });
    void host.docker.remove(containerId).catch((err: unknown) => log.warn({ err }, 'could not remove a dead sandbox'));
  }
  const exited = await run.log.append({ type: 'step.exited', step: req.step, result });
  // Also after a failed or killed step: the workspace is what the next step will see.
  const snapshot = await host.snapshot(run, req.step);
  log.debug({ exitCode: result.exitCode, durationMs: result.durationMs }, 'step done');
  return { ...result, logSeq: exited.seq, ...(snapshot ? { snapshot } : {}) };
}

/**
 * Starts the step's process. A sandbox found dead before the step (killed between steps) is
 * replaced by a fresh one on the same workspace, and the log says so.
 */
async function openExec(host: StepHost, run: LiveRun, step: number, spec: ExecSpec): Promise<ExecHandle> {
  const id = run.containerId!;
  try {
    return await host.docker.exec(id, spec);
  } catch (err) {
    const state = await host.docker.inspect(id).catch(() => null);
    if (state?.running) throw err;
    run.containerId = null;
    await run.log.append({
      type: 'sandbox.died',
      step,
      containerId: id,
      exitCode: state?.exitCode ?? null,
      oomKilled: state?.oomKilled ?? false,
      reason: 'the sandbox had stopped before the step',
    });
    void host.docker.remove(id).catch((err: unknown) => host.log.warn({ err, runId: run.runId, containerId: id }, 'could not remove a dead sandbox'));
    const fresh = await host.startSandbox(run);
    await run.log.append({ type: 'sandbox.started', containerId: fresh, reason: 'the previous sandbox died; fresh sandbox on the same workspace' });
    return await host.docker.exec(fresh, spec);
  }
}

/**
 * The container's state after an abnormal exit. A killed sandbox ends the exec stream a moment
 * before the engine marks the container stopped, so a SIGKILL-looking exit is re-checked briefly.
 */
async function settledState(host: StepHost, containerId: string, exitCode: number | null): Promise<ContainerState | null> {
  const deadline = Date.now() + (exitCode === null || exitCode === 137 ? 1000 : 0);
  for (;;) {
    const state = await host.docker.inspect(containerId).catch(() => null);
    if (state === null || !state.running || host.events.died(containerId) || Date.now() >= deadline) return state;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Redacts secrets from demultiplexed output before anything is chunked or logged: one stream per
 * output, holding back just enough bytes to catch a secret split across frames.
 */
async function* redactFrames(frames: AsyncIterable<Frame>, redactor: Redactor): AsyncGenerator<Frame> {
  const streams = { stdout: redactor.stream(), stderr: redactor.stream() };
  for await (const f of frames) {
    const out = streams[f.stream].push(f.data);
    if (out.length > 0) yield { stream: f.stream, data: out };
  }
  for (const name of ['stdout', 'stderr'] as const) {
    const rest = streams[name].flush();
    if (rest.length > 0) yield { stream: name, data: rest };
  }
}

/** Names the signal that ended a step, if any. */
function signalOf(exitCode: number | null, timedOut: boolean, sandboxDied: boolean): string | null {
  if (sandboxDied) return 'SIGKILL';
  if (timedOut) return exitCode === 137 ? 'SIGKILL' : 'SIGTERM';
  if (exitCode !== null && exitCode > 128 && exitCode < 128 + 65) {
    const n = exitCode - 128;
    const name = Object.entries(osConstants.signals).find(([, num]) => num === n)?.[0];
    return name ?? null;
  }
  return null;
}

/** Reads a step's output to its end, discarding it (the step is being abandoned). */
async function drainOutput(output: AsyncIterable<Frame>): Promise<void> {
  for await (const _ of output);
}
