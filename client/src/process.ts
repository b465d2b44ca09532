import { AirlockError, MAX_WAIT_MS, ProcessStateSchema, StepResultSchema, outputBytes, subjects, type LogEvent, type ProcessSignal, type ProcessState, type StepResult } from '@airlock/proto';
import { RunnerLostError } from './errors.ts';
import { signalProcess } from './processes.ts';
import type { Link } from './link.ts';
import { logTail } from './log.ts';
import { readRunLog } from './readers.ts';
import { StepOutput, type ExecResult } from './output.ts';

/** Options of one command (`run.exec`, `run.spawn`). */
export interface StepOptions {
  /** Environment of this step only, on top of the run's. `{{secret:NAME}}` values ask for a granted secret. */
  env?: Record<string, string>;
  /**
   * Lifetime of the command, in ms: the runner stops it after this long (the harness's default when
   * absent). Separate from how long a caller waits, which `signal` bounds.
   */
  timeoutMs?: number;
  /** Stops the wait, never the command: it runs on, and its outcome is in the log (`run.result(step)`). */
  signal?: AbortSignal;
  /** Called with each piece of output as it is logged, in order (before `exec` resolves). */
  onOutput?: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  /** Called with each log event of the step (requested, verdict, started, output, exited, snapshot). */
  onEvent?: (event: LogEvent) => void;
  /** Output kept per stream in the result's `stdout`/`stderr` (the tail), in bytes. Default 1 MiB. */
  maxOutputBytes?: number;
  /** Start in this directory (absolute, or relative to the workspace). */
  cwd?: string;
  /** Start where the previous step ended and remember where this one ends (overrides the run's `keepCwd`). */
  keepCwd?: boolean;
  /** Start with the variables earlier keepEnv steps exported and keep what this one exports (overrides the run's `keepEnv`). */
  keepEnv?: boolean;
  /** What producing this step cost you (your own figure: model tokens, cents); summed into the run's `cost` budget. */
  cost?: number;
  /**
   * Run it as a process of the run, so `run.signal(step)` reaches it while it runs (its step number
   * comes with `onEvent`'s `step.started`). `spawn` always does.
   */
  signalable?: boolean;
}

/** Events that carry a step number. */
type StepEvent = Extract<LogEvent, { step: number }>;

function stepOf(e: LogEvent): number | undefined {
  return 'step' in e && typeof e.step === 'number' ? (e as StepEvent).step : undefined;
}

/** How long, after the reply, the live follower may take to reach the step's last event before the stored log is read instead. */
const CATCH_UP_MS = 30_000;
/** Beyond a step's own timeout, how long the reply may take (the harness's grace for the runner, and more). */
const REPLY_GRACE_MS = 180_000;
const DAY_MS = 24 * 3600 * 1000;

/**
 * One command sent to the harness and followed in the run log (internal). The request and the
 * follower live on when a caller stops waiting, so a later wait picks up where the first one left.
 */
export class StepCall {
  readonly runId: string;
  readonly cmd: string;
  /** The run log's end before the request: every event of the step comes after it. */
  readonly tail: { seq: number; streamSeq: number };
  /** The step number, once the log (or the reply) told it. */
  step: number | undefined;
  /** The command reached a sandbox (`step.started`). */
  started = false;
  readonly #link: Link;
  readonly #opts: StepOptions;
  readonly #output: StepOutput;
  readonly #reply: Promise<StepResult>;
  readonly #stop = new AbortController();
  readonly #followed: Promise<boolean>;
  #delivered: number;
  /** Events read before the step number was known (a command the harness logged redacted). */
  #pending: LogEvent[] = [];
  #verdict: ((v: 'allow' | 'ask' | 'deny') => void) | undefined;
  readonly #verdictSeen: Promise<'allow' | 'ask' | 'deny'>;

  /**
   * `asProcess`: start the command as a process of the run (the harness's `exec` with `yieldMs`), so
   * the process API can signal it; its end is then waited for through `poll`.
   */
  static async start(link: Link, runId: string, cmd: string, opts: StepOptions, asProcess = false): Promise<StepCall> {
    return new StepCall(link, runId, cmd, opts, await logTail((await link.readers.for(runId)).jsm, runId), asProcess);
  }

  private constructor(link: Link, runId: string, cmd: string, opts: StepOptions, tail: { seq: number; streamSeq: number }, asProcess: boolean) {
    this.#link = link;
    this.runId = runId;
    this.cmd = cmd;
    this.#opts = opts;
    this.tail = tail;
    this.#delivered = tail.seq;
    this.#output = new StepOutput(opts.maxOutputBytes);
    this.#verdictSeen = new Promise((resolve) => (this.#verdict = resolve));
    // The follower starts at a stream position, not at "now": it may be set up while the request is on its way.
    this.#followed = (async () => {
      for await (const e of readRunLog(link.readers, runId, { fromStreamSeq: tail.streamSeq + 1, signal: this.#stop.signal, until: (ev) => this.#ends(ev) })) this.#deliver(e);
    })().then(
      () => true,
      () => false,
    );
    const timeoutMs = (opts.timeoutMs ?? DAY_MS) + REPLY_GRACE_MS;
    const session = { ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}), ...(opts.keepCwd !== undefined ? { keepCwd: opts.keepCwd } : {}), ...(opts.keepEnv !== undefined ? { keepEnv: opts.keepEnv } : {}), ...(opts.cost !== undefined ? { cost: opts.cost } : {}) };
    const body = { runId, cmd, ...(opts.env ? { env: opts.env } : {}), ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}), ...session };
    const reply = asProcess
      ? link.send(subjects.api.exec, { ...body, yieldMs: MAX_WAIT_MS }, ProcessStateSchema, MAX_WAIT_MS + REPLY_GRACE_MS).then((st) => this.#untilEnded(st))
      : link.send(subjects.api.exec, body, StepResultSchema, timeoutMs);
    this.#reply = reply.then((r) => {
      this.#setStep(r.step);
      return r;
    });
    this.#reply.catch(() => undefined);
  }

  /** A process's state until it has ended: polled (each poll waits for news) while it runs. */
  async #untilEnded(first: ProcessState): Promise<StepResult> {
    let state = first;
    for (;;) {
      this.#setStep(state.pid);
      if (state.status === 'exited' && state.result) return state.result;
      if (state.status === 'lost') throw new RunnerLostError(`step ${state.pid} of run ${this.runId} was lost with its runner: ${state.reason ?? ''}`, { runId: this.runId, step: state.pid });
      if (state.status === 'refused') throw new AirlockError('validation_denied', `step ${state.pid} of run ${this.runId} did not run: ${state.reason ?? ''}`, { data: { step: state.pid } });
      const poll = { runId: this.runId, pid: state.pid, fromOffset: state.nextOffset, waitMs: MAX_WAIT_MS };
      state = await this.#link.send(subjects.api.poll, poll, ProcessStateSchema, MAX_WAIT_MS + REPLY_GRACE_MS);
    }
  }

  /** The step's last event: it exited, or its runner was lost. */
  #ends(e: LogEvent): boolean {
    return this.step !== undefined && stepOf(e) === this.step && (e.type === 'step.exited' || e.type === 'step.lost');
  }

  /** Each event once, in order, whether read live or from the stored log. */
  #deliver(e: LogEvent): void {
    if (e.seq <= this.#delivered) return;
    this.#delivered = e.seq;
    if (this.step === undefined && e.type === 'step.requested' && e.cmd === this.cmd) this.step = e.step;
    if (this.step === undefined) {
      this.#pending.push(e);
      return;
    }
    this.#handle(e);
  }

  /** The step number, from the reply when the log did not tell it first. */
  #setStep(step: number): void {
    if (this.step !== undefined) return;
    this.step = step;
    for (const e of this.#pending.splice(0)) this.#handle(e);
  }

  #handle(e: LogEvent): void {
    if (stepOf(e) !== this.step) return;
    if (e.type === 'step.verdict') this.#verdict?.(e.verdict);
    if (e.type === 'step.started') this.started = true;
    if (e.type === 'step.output') {
      const data = this.#output.add(e);
      this.#opts.onOutput?.(e.stream, data);
    }
    this.#opts.onEvent?.(e);
  }

  #lostData = () => ({ runId: this.runId, ...(this.step !== undefined ? { step: this.step } : {}) });

  /**
   * Resolves once the command passed validation (its process is starting), or rejects with the
   * typed error of the reply (denied, held, closed run, …).
   */
  async accepted(signal?: AbortSignal): Promise<void> {
    const allowed = this.#verdictSeen.then((v) => (v === 'allow' ? undefined : this.#reply.then(() => undefined)));
    await this.#link.guard(Promise.race([allowed, this.#reply.then(() => undefined)]), { signal, lostData: this.#lostData });
  }

  /** Waits for the reply, then for every event up to the step's end to be delivered. */
  async result(signal?: AbortSignal): Promise<ExecResult> {
    let r: StepResult;
    try {
      r = await this.#link.guard(this.#reply, { signal, lostData: this.#lostData });
    } catch (err) {
      // What the stored log says of the step (did it start?), for the caller's next move; bounded,
      // since NATS itself may be what is gone.
      if (!signal?.aborted) await this.#catchUp(Number.MAX_SAFE_INTEGER, AbortSignal.timeout(CATCH_UP_MS / 6)).catch(() => undefined);
      throw err;
    }
    const grace = setTimeout(() => this.#stop.abort(), CATCH_UP_MS);
    let live: boolean;
    try {
      live = this.#delivered >= r.logSeq || (await this.#followed);
    } finally {
      clearTimeout(grace);
    }
    if (!live || this.#delivered < r.logSeq) await this.#catchUp(r.logSeq);
    this.stop();
    return this.#output.result(r);
  }

  /** Delivers what the stored log holds after the tail, up to `lastSeq`. */
  async #catchUp(lastSeq: number, signal?: AbortSignal): Promise<void> {
    for await (const e of readRunLog(this.#link.readers, this.runId, { fromStreamSeq: this.tail.streamSeq + 1, follow: false, ...(signal ? { signal } : {}) })) {
      if (e.seq > lastSeq) break;
      this.#deliver(e);
    }
  }

  /** Ends the live follower (the command is not touched). Idempotent. */
  stop(): void {
    this.#stop.abort();
  }
}

/**
 * A command running in a run's sandbox (`run.spawn`). Its output is in the run log, so `stdout`,
 * `stderr` and `events` can be read any number of times, from the start, while it runs or after it
 * ended; leaving a `for await` early only stops that reader. `wait()` may be aborted and called
 * again. Disposing a `Process` stops following it; the command runs on.
 */
export class Process implements AsyncDisposable {
  readonly runId: string;
  /** Its step number in the run (its id in the log). */
  readonly step: number;
  readonly cmd: string;
  readonly #call: StepCall;
  readonly #link: Link;

  constructor(link: Link, call: StepCall, step: number) {
    this.#link = link;
    this.#call = call;
    this.runId = call.runId;
    this.cmd = call.cmd;
    this.step = step;
  }

  /** Every log event of this step, from its request to its snapshot, then the iteration ends. */
  get events(): AsyncIterable<LogEvent> {
    return { [Symbol.asyncIterator]: () => this.#events() };
  }

  /** The step's stdout, chunk by chunk as logged. */
  get stdout(): AsyncIterable<Buffer> {
    return { [Symbol.asyncIterator]: () => this.#stream('stdout') };
  }

  /** The step's stderr, chunk by chunk as logged. */
  get stderr(): AsyncIterable<Buffer> {
    return { [Symbol.asyncIterator]: () => this.#stream('stderr') };
  }

  async *#events(): AsyncGenerator<LogEvent> {
    let exited = false;
    const ends = (e: LogEvent) => {
      if (stepOf(e) !== this.step) return e.type === 'step.requested' && exited;
      if (e.type === 'step.exited') exited = true;
      return e.type === 'step.lost' || e.type === 'snapshot.created' || e.type === 'snapshot.failed';
    };
    for await (const e of readRunLog(this.#link.readers, this.runId, { fromStreamSeq: this.#call.tail.streamSeq + 1, until: ends })) {
      if (stepOf(e) === this.step) yield e;
    }
  }

  async *#stream(stream: 'stdout' | 'stderr'): AsyncGenerator<Buffer> {
    for await (const e of this.#events()) {
      if (e.type === 'step.output' && e.stream === stream) yield outputBytes(e);
      if (e.type === 'step.exited' || e.type === 'step.lost') return;
    }
  }

  /**
   * How the command ended. `signal` stops this wait only; call `wait()` again later. Fails with
   * `harness_lost` when the harness dies meanwhile (then `run.result(step)` reads the outcome from
   * the log) and `runner_lost` when the sandbox's runner does.
   */
  wait(opts: { signal?: AbortSignal } = {}): Promise<ExecResult> {
    return this.#call.result(opts.signal);
  }

  /**
   * Sends `sig` (default SIGTERM) to the command's process group, through the harness's process
   * API (`run.signal(step)`). Resolves true when it was delivered, false when the command had already
   * ended. The command's end (`wait()`) then says how it ended (`signal`, `exitCode`).
   */
  signal(sig: ProcessSignal = 'SIGTERM', opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    return signalProcess(this.#link, this.runId, this.step, sig, opts.signal);
  }

  /** `signal('SIGKILL')`. */
  kill(opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    return this.signal('SIGKILL', opts);
  }

  /** Stops following the command; it runs on. Idempotent. */
  detach(): void {
    this.#call.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.detach();
  }
}
