import { createHash } from 'node:crypto';
import type { Actor, Budgets, ControlVerb, LogEvent, PauseCause, RunState, Suspended, Termination } from '@airlock/proto';
import type { Usage } from './budgets.ts';
import type { StepTrace } from './loops.ts';

/** A control request as stored: what it did, so the same request id gets the same answer. */
export interface AppliedControl {
  verb: ControlVerb;
  requestId: string;
  by: Actor;
  at: string;
}

/**
 * A run's governance state: the fold of its log. Nothing here lives only in memory: a restarted
 * harness reads the log again and gets the same state (pause, budgets raised, usage, loop window).
 */
export interface RunFold {
  state: RunState['state'];
  paused?: { cause: PauseCause; by?: Actor; reason: string; at: string };
  termination?: Termination;
  /** Budgets operators raised (over the policy's and the run's own). */
  raised: Budgets;
  used: Usage;
  /** Steps since the last operator input or detection: the loop detectors' window (oldest first). */
  trace: StepTrace[];
  warnings: number;
  stepInFlight?: number;
  /** Control request ids already applied. */
  applied: Map<string, AppliedControl>;
  lastControl?: AppliedControl;
  /** When the run last did something (opened, a step requested or ended, a control, a restore): the idle clock. */
  lastActiveAt?: string;
  /** Set while the run is suspended for idleness (from `run.suspended` until the restore's `run.moved`). */
  suspended?: Suspended;
}

export function emptyFold(): RunFold {
  return { state: 'running', raised: {}, used: { steps: 0, activeMs: 0, outputBytes: 0, cpuSeconds: 0, cost: 0 }, trace: [], warnings: 0, applied: new Map() };
}

/** Folds every event of a run's log, in order. */
export function foldRun(events: Iterable<LogEvent>): RunFold {
  const f = emptyFold();
  for (const e of events) applyEvent(f, e);
  return f;
}

/** Fingerprint of a command: runs of whitespace count as one, so `ls  -la` and `ls -la` are the same step. */
export function commandPrint(cmd: string): string {
  return createHash('sha256').update(cmd.trim().replace(/\s+/g, ' ')).digest('hex').slice(0, 32);
}

/** A bare `sleep N`: waiting for something outside the run, not a loop of the agent's making. */
export function isWait(cmd: string): boolean {
  return /^\s*sleep\s+\d+(\.\d+)?[smhd]?\s*$/.test(cmd);
}

/** Fingerprint of a step's result: how it ended and how much it printed (the harness never sees the output itself). */
export function resultPrint(r: { exitCode: number | null; signal: string | null; timedOut: boolean; stdoutBytes: number; stderrBytes: number }): string {
  return `${String(r.exitCode)}/${r.signal ?? '-'}/${r.timedOut ? 't' : '-'}/${r.stdoutBytes}/${r.stderrBytes}`;
}

function traceOf(f: RunFold, step: number): StepTrace | undefined {
  for (let i = f.trace.length - 1; i >= 0; i--) if (f.trace[i]!.step === step) return f.trace[i];
  return undefined;
}

/** Events that reset the idle clock: the run did something, or someone did something to it. */
const ACTIVITY: ReadonlySet<LogEvent['type']> = new Set(['run.opened', 'run.moved', 'step.requested', 'step.exited', 'step.decided', 'run.control']);

/** Applies one event to the fold (in place) and returns it. */
export function applyEvent(f: RunFold, e: LogEvent): RunFold {
  if (ACTIVITY.has(e.type)) f.lastActiveAt = e.ts;
  switch (e.type) {
    case 'step.requested':
      f.stepInFlight = e.step;
      if (e.cost) f.used.cost += e.cost;
      break;
    case 'run.suspended':
      f.suspended = { at: e.ts, afterStep: e.afterStep, snapshot: e.snapshot, runnerId: e.runnerId };
      break;
    case 'run.moved':
      delete f.suspended;
      break;
    case 'step.verdict': {
      // Only a deny counts as refused: a step held for approval (ask) waits for a person, it is not probing.
      if (e.verdict !== 'allow') delete f.stepInFlight;
      else f.used.steps++;
      f.trace.push({ step: e.step, cmd: commandPrint(e.cmd), result: null, exitCode: null, refused: e.verdict === 'deny', ...(isWait(e.cmd) ? { wait: true } : {}) });
      break;
    }
    case 'step.exited':
      applyResult(f, e.step, e.result);
      break;
    case 'step.lost':
      delete f.stepInFlight;
      break;
    case 'snapshot.created': {
      const t = traceOf(f, e.step);
      if (t) t.snapshot = e.digest;
      break;
    }
    case 'step.decided':
      // An operator looked at the run: the loop window starts again.
      f.trace = [];
      break;
    case 'run.control':
      applyControl(f, e);
      break;
    case 'run.governed':
      if (e.action === 'pause') {
        f.state = f.state === 'closed' ? 'closed' : 'paused';
        f.paused = { cause: e.cause, reason: e.reason, at: e.ts };
      } else f.warnings++;
      if (e.cause.kind === 'loop') f.trace = [];
      break;
    case 'run.closed':
      f.state = 'closed';
      delete f.stepInFlight;
      f.termination = e.termination ?? f.termination ?? 'succeeded';
      break;
    default:
      break;
  }
  return f;
}

/** A step's result (from its `step.exited` event, or the runner's reply): usage and the loop trace. */
export function applyResult(f: RunFold, step: number, r: StepResultLike, snapshot?: string): void {
  if (f.stepInFlight === step) delete f.stepInFlight;
  const t = traceOf(f, step);
  // The reply and the log both carry the result: count it once.
  if (t?.result != null) return;
  f.used.activeMs += r.durationMs;
  f.used.outputBytes += r.stdoutBytes + r.stderrBytes;
  f.used.cpuSeconds += r.cpuSeconds ?? 0;
  if (t) {
    t.result = resultPrint(r);
    t.exitCode = r.exitCode;
    if (snapshot) t.snapshot = snapshot;
  }
}

type StepResultLike = Parameters<typeof resultPrint>[0] & { durationMs: number; cpuSeconds?: number | undefined };

function applyControl(f: RunFold, e: Extract<LogEvent, { type: 'run.control' }>): void {
  const by = e.actor ?? { principal: 'unknown', role: 'operator' as const };
  const applied: AppliedControl = { verb: e.verb, requestId: e.requestId, by, at: e.ts };
  f.applied.set(e.requestId, applied);
  f.lastControl = applied;
  if (f.state === 'closed') return;
  switch (e.verb) {
    case 'pause':
      f.state = 'paused';
      f.paused = { cause: { kind: 'operator' }, by, reason: e.reason ?? 'paused by an operator', at: e.ts };
      break;
    case 'resume':
      f.state = 'running';
      delete f.paused;
      f.trace = [];
      break;
    case 'cancel':
      f.state = 'cancelling';
      f.termination = 'cancelled';
      break;
    case 'kill':
      f.termination = 'killed';
      break;
    case 'raise':
      f.raised = { ...f.raised, ...e.budgets };
      break;
  }
}
