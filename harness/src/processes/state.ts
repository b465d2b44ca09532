// A process's state, read from the run's log: the log is the only record, so any client, after any
// reconnect or harness restart, sees the same state and the whole output.
import { AirlockError, outputBytes } from '@airlock/proto';
import type { LogEvent, ProcessChunk, ProcessInfo, ProcessState, StepResult } from '@airlock/proto';

type Of<T extends LogEvent['type']> = Extract<LogEvent, { type: T }>;

/** Everything the log says about one step. */
export interface StepFacts {
  requested?: Of<'step.requested'>;
  refused?: Of<'step.verdict'>;
  started: boolean;
  exited?: Of<'step.exited'>;
  snapshot?: string;
  /** The runner logged the snapshot after the step (created or failed): nothing more comes. */
  settled: boolean;
  lost?: Of<'step.lost'>;
  output: Array<Of<'step.output'>>;
  /** A later step started: if this one never did, it never will. */
  overtaken: boolean;
}

/** Collects the facts of every step in `events` (or only of `only`). */
export function stepFacts(events: readonly LogEvent[], only?: number): Map<number, StepFacts> {
  const steps = new Map<number, StepFacts>();
  const of = (n: number) => {
    let f = steps.get(n);
    if (!f) steps.set(n, (f = { started: false, settled: false, output: [], overtaken: false }));
    return f;
  };
  let lastStarted = 0;
  for (const e of events) {
    // A run that moved to another runner left its running steps behind (a harness that restarted
    // meanwhile may not have logged `step.lost` for a process it no longer waited on).
    if (e.type === 'run.moved') {
      for (const f of steps.values()) if (f.started && !f.exited && !f.lost) f.lost = { ...e, type: 'step.lost', step: 0, runnerId: e.fromRunner, reason: `the run moved to runner ${e.toRunner}: ${e.reason}` };
      continue;
    }
    if (!('step' in e) || typeof e.step !== 'number') continue;
    if (e.type === 'step.started') lastStarted = Math.max(lastStarted, e.step);
    if (only !== undefined && e.step !== only) continue;
    const f = of(e.step);
    switch (e.type) {
      case 'step.requested':
        f.requested = e;
        break;
      case 'step.verdict':
        if (e.verdict !== 'allow') f.refused = e;
        break;
      case 'step.started':
        f.started = true;
        break;
      case 'step.output':
        f.output.push(e);
        break;
      case 'step.exited':
        f.exited = e;
        break;
      case 'snapshot.created':
        if (f.exited) {
          f.snapshot = e.digest;
          f.settled = true;
        }
        break;
      case 'snapshot.failed':
        if (f.exited) f.settled = true;
        break;
      case 'step.lost':
        f.lost = e;
        break;
      default:
        break;
    }
  }
  for (const [n, f] of steps) f.overtaken = !f.started && lastStarted > n;
  return steps;
}

/** The status a step's facts add up to. */
export function statusOf(f: StepFacts): { status: ProcessState['status']; reason?: string } {
  // Exited once its snapshot is logged too: a caller that sees `exited` can restore or diff it at once.
  if (f.exited && f.settled) return { status: 'exited' };
  if (f.lost) return { status: 'lost', reason: f.lost.reason };
  if (f.refused) return { status: 'refused', reason: `${f.refused.verdict} (${f.refused.rule}): ${f.refused.reason}` };
  if (f.started || f.exited) return { status: 'running' };
  if (f.overtaken) return { status: 'refused', reason: 'it never started (the runner refused it, e.g. while another process of the run was running)' };
  return { status: 'starting' };
}

/**
 * The state of process `pid` with its output from `fromOffset` (bytes of both streams together, in
 * log order), at most `maxBytes` of it. A chunk that straddles `fromOffset` is cut there.
 */
export function processState(runId: string, pid: number, events: readonly LogEvent[], fromOffset: number, maxBytes: number): ProcessState {
  const f = stepFacts(events, pid).get(pid);
  if (!f?.requested) throw new AirlockError('unknown_process', `run ${runId} has no step ${pid}; \`processes\` lists the run's processes`);
  const output: ProcessChunk[] = [];
  let at = 0;
  let sent = 0;
  let next = fromOffset;
  let more = false;
  for (const e of f.output) {
    const bytes = outputBytes(e);
    const end = at + bytes.length;
    if (end > fromOffset) {
      const from = Math.max(0, fromOffset - at);
      if (sent >= maxBytes) {
        more = true;
        break;
      }
      const piece = bytes.subarray(from, from + (maxBytes - sent));
      output.push({ stream: e.stream, offset: at + from, ...(e.text !== undefined && from === 0 && piece.length === bytes.length ? { text: e.text } : textOrData(piece)) });
      sent += piece.length;
      next = at + from + piece.length;
      if (from + piece.length < bytes.length) {
        more = true;
        break;
      }
    }
    at = end;
  }
  const { status, reason } = statusOf(f);
  const result: StepResult | undefined = f.exited && status === 'exited' ? { ...f.exited.result, logSeq: f.exited.seq, ...(f.snapshot ? { snapshot: f.snapshot } : {}) } : undefined;
  return {
    runId,
    pid,
    cmd: f.requested.cmd,
    status,
    output,
    nextOffset: Math.max(next, fromOffset),
    more,
    ...(result ? { result } : {}),
    ...(reason ? { reason } : {}),
  };
}

function textOrData(b: Buffer): { text: string } | { data: string } {
  const text = b.toString('utf8');
  return Buffer.from(text, 'utf8').equals(b) ? { text } : { data: b.toString('base64') };
}

/** The processes of a run: its steps started with `yieldMs`, in order. */
export function processList(events: readonly LogEvent[]): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const [pid, f] of stepFacts(events)) {
    if (f.requested?.yieldMs === undefined) continue;
    const bytes = f.output.reduce((n, e) => n + outputBytes(e).length, 0);
    out.push({
      pid,
      cmd: f.requested.cmd,
      status: statusOf(f).status,
      outputBytes: bytes,
      ...(f.exited && f.settled ? { exitCode: f.exited.result.exitCode } : {}),
      requestedAt: f.requested.ts,
    });
  }
  return out.sort((a, b) => a.pid - b.pid);
}
