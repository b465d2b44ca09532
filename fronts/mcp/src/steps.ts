// Pure logic of the MCP tools: a run's log folded into steps, and output bounded for a model's context.
import { outputBytes } from '@airlock/proto';
import type { LogEvent, StepResult } from '@airlock/proto';

/** Where a step stands, as the agent sees it. */
export const STEP_STATES = ['requested', 'denied', 'held', 'running', 'exited', 'timed_out', 'killed', 'sandbox_died', 'lost'] as const;
export type StepState = (typeof STEP_STATES)[number];

/** One step of a run, from its log. */
export interface StepSummary {
  step: number;
  command: string;
  state: StepState;
  verdict?: { decision: 'allow' | 'ask' | 'deny'; rule: string; reason: string };
  /** Who decided a held step, when an operator did (`expired`: nobody did in time, a denial by the harness). */
  decision?: { outcome: 'approved' | 'rejected' | 'expired'; by: string; note?: string };
  exit_code?: number | null;
  signal?: string | null;
  duration_ms?: number;
  stdout_bytes: number;
  stderr_bytes: number;
  /** Digest of the workspace snapshot after the step. */
  snapshot?: string;
}

/** The state a finished step's result stands for. */
export function resultState(r: Pick<StepResult, 'timedOut' | 'sandboxDied' | 'signal' | 'exitCode'>): StepState {
  if (r.timedOut) return 'timed_out';
  if (r.sandboxDied) return 'sandbox_died';
  if (r.exitCode === null && r.signal) return 'killed';
  return 'exited';
}

/** Folds a run's events into its steps, in step order. */
export function foldSteps(events: Iterable<LogEvent>): StepSummary[] {
  const steps = new Map<number, StepSummary>();
  const at = (step: number, cmd = ''): StepSummary => {
    let s = steps.get(step);
    if (!s) {
      s = { step, command: cmd, state: 'requested', stdout_bytes: 0, stderr_bytes: 0 };
      steps.set(step, s);
    }
    return s;
  };
  for (const e of events) foldEvent(e, at);
  return [...steps.values()].sort((a, b) => a.step - b.step);
}

function foldEvent(e: LogEvent, at: (step: number, cmd?: string) => StepSummary): void {
  switch (e.type) {
    case 'step.requested':
      at(e.step, e.cmd).command = e.cmd;
      return;
    case 'step.verdict': {
      const s = at(e.step, e.cmd);
      s.verdict = { decision: e.verdict, rule: e.rule, reason: e.reason };
      if (e.verdict === 'deny') s.state = 'denied';
      else if (e.verdict === 'ask') s.state = 'held';
      return;
    }
    case 'step.decided':
      at(e.step).decision = { outcome: e.decision, by: e.decidedBy, ...(e.note ? { note: e.note } : {}) };
      if (e.decision !== 'approved') at(e.step).state = 'denied';
      return;
    case 'step.started':
      at(e.step).state = 'running';
      return;
    case 'step.output': {
      const s = at(e.step);
      const n = outputBytes(e).length;
      if (e.stream === 'stdout') s.stdout_bytes = Math.max(s.stdout_bytes, e.offset + n);
      else s.stderr_bytes = Math.max(s.stderr_bytes, e.offset + n);
      return;
    }
    case 'step.exited': {
      const s = at(e.step);
      s.state = resultState(e.result);
      s.exit_code = e.result.exitCode;
      s.signal = e.result.signal;
      s.duration_ms = Math.round(e.result.durationMs);
      s.stdout_bytes = e.result.stdoutBytes;
      s.stderr_bytes = e.result.stderrBytes;
      return;
    }
    case 'step.lost':
      at(e.step).state = 'lost';
      return;
    case 'snapshot.created':
      if (e.step > 0) at(e.step).snapshot = e.digest;
      return;
    default:
      return;
  }
}

/**
 * Output kept within `limit` bytes: the first half and the last half of what came, with the count of
 * what was left out between them (a model needs the start of a build log and its end, not its middle).
 */
export class BoundedOutput {
  readonly limit: number;
  #head: Buffer[] = [];
  #headBytes = 0;
  #tail: Buffer[] = [];
  #tailBytes = 0;
  total = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  push(data: Buffer): void {
    this.total += data.length;
    const headRoom = Math.ceil(this.limit / 2) - this.#headBytes;
    if (headRoom > 0) {
      const part = data.subarray(0, headRoom);
      this.#head.push(part);
      this.#headBytes += part.length;
      data = data.subarray(part.length);
    }
    if (data.length === 0) return;
    this.#tail.push(data);
    this.#tailBytes += data.length;
    const keep = Math.floor(this.limit / 2);
    while (this.#tailBytes - (this.#tail[0]?.length ?? 0) >= keep && this.#tail.length > 1) this.#tailBytes -= this.#tail.shift()!.length;
  }

  get truncated(): boolean {
    return this.total > this.#headBytes + Math.min(this.#tailBytes, Math.floor(this.limit / 2));
  }

  /** The kept text, with a marker where bytes were left out. */
  text(omittedHint = ''): string {
    const head = Buffer.concat(this.#head).toString('utf8');
    const tailAll = Buffer.concat(this.#tail);
    const keep = Math.floor(this.limit / 2);
    const tail = tailAll.subarray(Math.max(0, tailAll.length - keep));
    const omitted = this.total - this.#headBytes - tail.length;
    if (omitted <= 0) return head + tail.toString('utf8');
    return `${head}\n[... ${omitted} bytes left out${omittedHint} ...]\n${tail.toString('utf8')}`;
  }
}

/** The output of one step from its log events, from byte offsets on, at most `maxBytes` per stream. */
export function stepOutput(events: Iterable<LogEvent>, step: number, from: { stdout: number; stderr: number }, maxBytes: number): { stdout: Buffer; stderr: Buffer; more: { stdout: boolean; stderr: boolean } } {
  const parts = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const taken = { stdout: 0, stderr: 0 };
  const more = { stdout: false, stderr: false };
  for (const e of events) {
    if (e.type !== 'step.output' || e.step !== step) continue;
    const bytes = outputBytes(e);
    const start = Math.max(0, from[e.stream] - e.offset);
    if (start >= bytes.length) continue;
    const room = maxBytes - taken[e.stream];
    if (room <= 0) {
      more[e.stream] = true;
      continue;
    }
    const part = bytes.subarray(start, start + room);
    if (part.length < bytes.length - start) more[e.stream] = true;
    parts[e.stream].push(part);
    taken[e.stream] += part.length;
  }
  return { stdout: Buffer.concat(parts.stdout), stderr: Buffer.concat(parts.stderr), more };
}

/** The last non-empty line of some output, at most `max` characters (for progress messages). */
export function lastLine(text: string, max = 200): string {
  const lines = text.split('\n').map((l) => l.trimEnd()).filter(Boolean);
  const line = lines.at(-1) ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
