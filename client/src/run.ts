import { AirlockError, ApiApprovalsResultSchema, ApiDiffResultSchema, ApiSnapshotReadResultSchema, ApiOpenResultSchema, ApiPsResultSchema, subjects, type ApiDiffResult, type ApiOpenRequest, type LogEvent, type RunRecord } from '@airlock/proto';
import type { Link } from './link.ts';
import type { ReadLogOptions } from './log.ts';
import { readRunLog } from './readers.ts';
import { ApprovalRequiredError, PolicyDeniedError, RunnerLostError } from './errors.ts';
import { Process, StepCall, type StepOptions } from './process.ts';
import { StepOutput, type ExecResult } from './output.ts';
import { RunFiles } from './files.ts';
import { pause } from './retry.ts';
import { listProcesses, pollProcess, signalProcess, startProcess, type PollOptions, type StartOptions } from './processes.ts';
import type { CloseOutcome, ProcessInfo, ProcessSignal, ProcessState } from '@airlock/proto';

/** A snapshot of a run's workspace, as its log records it. */
export type RunSnapshot = Extract<LogEvent, { type: 'snapshot.created' }>;

/** What a new run starts from (`airlock.open`). */
export interface OpenOptions extends Omit<ApiOpenRequest, 'v'> {
  /** Stops waiting for the sandbox; the run may still open (then `airlock.ps()` lists it). */
  signal?: AbortSignal;
}

/** Options of `run.exec`. */
export interface ExecOptions extends StepOptions {
  /**
   * When the command is held for approval (`ask`), wait up to this long, in ms, for an operator's
   * decision: approved, the same command is sent again and runs once; rejected, `exec` fails with
   * {@link PolicyDeniedError} (`rule` `approval.rejected`). Default 0: fail at once with
   * {@link ApprovalRequiredError}.
   */
  waitForApprovalMs?: number;
  /** Called once when the command is held, with the held step (e.g. to tell a person). */
  onHeld?: (step: number, reason: string) => void;
  /**
   * When the run's runner is lost before the command started, wait up to this long, in ms, for the
   * run to move to another runner, then send the command there. Default 180000.
   */
  moveTimeoutMs?: number;
}

/** Opens runs: what a `Run` needs of its client to fork. */
export type Opener = (req: OpenOptions) => Promise<Run>;

/** The run's step events that carry a step number. */
function stepOf(e: LogEvent): number | undefined {
  return 'step' in e && typeof e.step === 'number' ? e.step : undefined;
}

/** A step that failed with `runner_lost` before it started: the run is moving, send it again after. */
class NotStarted extends Error {
  readonly lost: RunnerLostError;
  constructor(lost: RunnerLostError) {
    super(lost.message, { cause: lost });
    this.lost = lost;
  }
}

/**
 * One run: a sandbox with a workspace, on some runner, whose every step is validated, logged and
 * snapshotted. From `airlock.open()` (closed when disposed) or `airlock.run(id)` (left open).
 */
export class Run implements AsyncDisposable {
  readonly runId: string;
  /** The run's record: as opened, or as `info()` last read it; undefined for an attached run until then. */
  record: RunRecord | undefined;
  /** File tools (read, write, edit, list, stat) without a shell; see {@link RunFiles}. */
  readonly files: RunFiles;
  readonly #link: Link;
  readonly #open: Opener;
  #closeOnDispose: boolean;

  constructor(link: Link, open: Opener, runId: string, opts: { record?: RunRecord; closeOnDispose: boolean }) {
    this.#link = link;
    this.#open = open;
    this.runId = runId;
    this.record = opts.record;
    this.#closeOnDispose = opts.closeOnDispose;
    this.files = new RunFiles(link, runId);
  }

  /**
   * Runs `cmd` (a bash command line) as the next step and resolves with how it ended, once every
   * output chunk went to `onOutput`. A non-zero exit, a timeout or an out-of-memory kill is a result
   * (`exitCode`, `timedOut`, `oomKilled`), never an exception. A command the policy denies or holds
   * rejects with {@link PolicyDeniedError} / {@link ApprovalRequiredError}: it never ran, so there
   * is no exit code to report. The harness dying fails the wait with `harness_lost`, the runner
   * dying during the step with `runner_lost`; a run moving off a lost runner is waited for.
   */
  async exec(cmd: string, opts: StartOptions): Promise<ProcessState>;
  async exec(cmd: string, opts?: ExecOptions): Promise<ExecResult>;
  async exec(cmd: string, opts: ExecOptions | StartOptions = {}): Promise<ExecResult | ProcessState> {
    // With `yieldMs`: a long-running process; the answer is its state after at most that long.
    if ('yieldMs' in opts && opts.yieldMs !== undefined) return startProcess(this.#link, this.runId, cmd, opts);
    return this.#exec(cmd, opts as ExecOptions);
  }

  /** Output and status of process `pid` (a step started with `yieldMs`) from `fromOffset`; see {@link PollOptions}. */
  poll(pid: number, opts: PollOptions = {}): Promise<ProcessState> {
    return pollProcess(this.#link, this.runId, pid, opts);
  }

  /** Sends `sig` (default SIGTERM) to process `pid`'s process group; false when it had already ended. */
  signal(pid: number, sig: ProcessSignal = 'SIGTERM', opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    return signalProcess(this.#link, this.runId, pid, sig, opts.signal);
  }

  /** The run's processes (steps started with `yieldMs`), running or ended. */
  processes(opts: { signal?: AbortSignal } = {}): Promise<ProcessInfo[]> {
    return listProcesses(this.#link, this.runId, opts.signal);
  }

  async #exec(cmd: string, opts: ExecOptions): Promise<ExecResult> {
    const moveDeadline = Date.now() + (opts.moveTimeoutMs ?? 180_000);
    let waitedForApproval = false;
    for (;;) {
      try {
        return await this.#execOnce(cmd, opts);
      } catch (err) {
        if (err instanceof NotStarted) {
          if (Date.now() >= moveDeadline) throw err.lost;
          await this.#awaitMove(moveDeadline, opts.signal).catch((e: unknown) => {
            throw e instanceof AirlockError && e.code === 'timeout' ? err.lost : e;
          });
          continue;
        }
        const wait = opts.waitForApprovalMs ?? 0;
        if (!(err instanceof ApprovalRequiredError) || wait <= 0 || waitedForApproval || err.step === undefined) throw err;
        waitedForApproval = true;
        opts.onHeld?.(err.step, err.message);
        await this.#awaitDecision(err.step, wait, opts.signal);
      }
    }
  }

  async #execOnce(cmd: string, opts: StepOptions): Promise<ExecResult> {
    opts.signal?.throwIfAborted();
    const call = await StepCall.start(this.#link, this.runId, cmd, opts, opts.signalable === true);
    try {
      return await call.result(opts.signal);
    } catch (err) {
      if (err instanceof RunnerLostError && !call.started) throw new NotStarted(err);
      throw err;
    } finally {
      call.stop();
    }
  }

  /**
   * Starts `cmd` as the next step and resolves once it passed validation, with a handle to read its
   * output as it comes and wait for its end. Rejects like `exec` when it is denied or held.
   */
  async spawn(cmd: string, opts: StepOptions = {}): Promise<Process> {
    opts.signal?.throwIfAborted();
    // As a process of the run: `proc.signal()` reaches it through the harness's process API.
    const call = await StepCall.start(this.#link, this.runId, cmd, opts, true);
    try {
      await call.accepted(opts.signal);
    } catch (err) {
      call.stop();
      throw err;
    }
    if (call.step === undefined) throw new AirlockError('internal', `the harness accepted ${JSON.stringify(cmd)} but its step number is not in the log`);
    return new Process(this.#link, call, call.step);
  }

  /**
   * The run's log: every event stored, from `fromSeq` (default 1), then, with `follow` (default
   * true), each new one as it is written, until the run closes. Needs no harness (JetStream only),
   * so it also works after the run ended and across restarts; resume a broken read with
   * `fromSeq: lastSeenSeq + 1`. Every event is checked against the log's hash chain.
   */
  log(opts: Pick<ReadLogOptions, 'fromSeq' | 'follow' | 'signal'> = {}): AsyncGenerator<LogEvent> {
    return readRunLog(this.#link.readers, this.runId, opts);
  }

  /**
   * How step `step` ended, from the run log alone (no harness needed): after an aborted wait, a
   * `harness_lost`, or from another process. Waits while the step runs. Rejects like `exec` for a
   * denied or held step, with `runner_lost` for a step its runner lost, `run_closed` when the run
   * closed without the step ending.
   */
  async result(step: number, opts: { signal?: AbortSignal; maxOutputBytes?: number } = {}): Promise<ExecResult> {
    const out = new StepOutput(opts.maxOutputBytes);
    let exited: Extract<LogEvent, { type: 'step.exited' }> | undefined;
    let snapshot: string | undefined;
    let done = false;
    const ends = (e: LogEvent) => {
      const own = stepOf(e) === step;
      // After the exit, the step's snapshot event ends it; so does anything of a later step.
      if (exited && (own ? e.type === 'snapshot.created' || e.type === 'snapshot.failed' : e.type === 'step.requested' || e.type === 'run.moved' || e.type === 'runner.lost')) done = true;
      return done;
    };
    for await (const e of readRunLog(this.#link.readers, this.runId, { follow: true, until: ends, ...(opts.signal ? { signal: opts.signal } : {}) })) {
      if (stepOf(e) !== step) continue;
      if (e.type === 'step.verdict' && e.verdict !== 'allow') {
        const data = { step, rule: e.rule, reason: e.reason, ...(e.span ? { span: e.span } : {}) };
        if (e.verdict === 'deny') throw new PolicyDeniedError(`step ${step} was denied (${e.rule}): ${e.reason}`, data);
        throw new ApprovalRequiredError(`step ${step} is held for approval (${e.rule}): ${e.reason}`, data);
      }
      if (e.type === 'step.output') out.add(e);
      if (e.type === 'step.exited') exited = e;
      if (e.type === 'snapshot.created') snapshot = e.digest;
      if (e.type === 'step.lost') throw new RunnerLostError(`runner ${e.runnerId} was lost during step ${step}: ${e.reason}`, { step, runId: this.runId });
    }
    opts.signal?.throwIfAborted();
    if (!exited) throw new AirlockError('run_closed', `run ${this.runId} closed without step ${step} ending (or it has no such step)`, { data: { step } });
    return out.result({ ...exited.result, logSeq: exited.seq, ...(snapshot ? { snapshot } : {}) });
  }

  /** Every snapshot of the run's workspace, by step (0 = as the run opened), from its log. */
  async snapshots(opts: { signal?: AbortSignal } = {}): Promise<RunSnapshot[]> {
    const list: RunSnapshot[] = [];
    for await (const e of this.log({ follow: false, ...opts })) if (e.type === 'snapshot.created') list.push(e);
    return list;
  }

  /** The snapshot taken after step `step`; `bad_request` when there is none. */
  async snapshotAt(step: number, opts: { signal?: AbortSignal } = {}): Promise<RunSnapshot> {
    const all = await this.snapshots(opts);
    if (all.length === 0) throw new AirlockError('unknown_run', `run ${this.runId} has no snapshots (unknown run?)`);
    const found = all.find((s) => s.step === step);
    if (!found) throw new AirlockError('bad_request', `run ${this.runId} has no snapshot after step ${step}; it has steps ${all.map((s) => s.step).join(', ')}`, { data: { step } });
    return found;
  }

  /**
   * Bytes of the workspace as it was after step `step`, read through the harness (`api.snapshot`,
   * for callers with no right on the snapshot stores: agents): its listing (`'manifest'`, whose
   * SHA-256 is the snapshot's digest, told to `onDigest`) or the file with this SHA-256. Unverified
   * here: hash what you read (`./airlock restore` and `export` do, through the snapshot package).
   */
  async *readSnapshot(step: number, what: 'manifest' | string, opts: { signal?: AbortSignal; onDigest?: (digest: string) => void } = {}): AsyncGenerator<Uint8Array> {
    let cursor: string | undefined;
    for (;;) {
      const body = { runId: this.runId, step, what, ...(cursor ? { cursor } : {}) };
      const piece = await this.#link.request(subjects.api.snapshot, body, ApiSnapshotReadResultSchema, { timeoutMs: 60_000, signal: opts.signal });
      if (!cursor) opts.onDigest?.(piece.digest);
      if (piece.data.length > 0) yield Buffer.from(piece.data, 'base64');
      if (piece.done || !piece.cursor) return;
      cursor = piece.cursor;
    }
  }

  /**
   * What changed in the workspace from the snapshot after step `from` (0 = as the run opened) to the
   * one after step `to` (default: the latest): paths added, modified and deleted, and with `patch`
   * unified diffs of text files (bounded per reply; past the bound a file's patch is `omitted`, ask
   * again with `paths`). Computed by the harness: no access to the snapshot store is needed.
   */
  diff(opts: { from?: number; to?: number; patch?: boolean; paths?: string[]; signal?: AbortSignal } = {}): Promise<ApiDiffResult> {
    const body = { runId: this.runId, fromStep: opts.from ?? 0, ...(opts.to !== undefined ? { toStep: opts.to } : {}), ...(opts.patch ? { patch: true } : {}), ...(opts.paths ? { paths: opts.paths } : {}) };
    return this.#link.request(subjects.api.diff, body, ApiDiffResultSchema, { timeoutMs: 120_000, signal: opts.signal });
  }

  /**
   * A new run whose workspace starts as this run's was after step `step` (default: the latest
   * snapshot). The new run is closed when disposed, as from `open`.
   */
  async fork(opts: { step?: number; image?: string; signal?: AbortSignal } = {}): Promise<Run> {
    const snap = opts.step === undefined ? (await this.snapshots(opts)).at(-1) : await this.snapshotAt(opts.step, opts);
    if (!snap) throw new AirlockError('unknown_run', `run ${this.runId} has no snapshot to fork from`);
    return this.#open({ fromSnapshot: snap.digest, fromRun: this.runId, ...(opts.image ? { image: opts.image } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
  }

  /** The run's record as the harness keeps it now (runner, steps, moves, status). */
  async info(opts: { signal?: AbortSignal } = {}): Promise<RunRecord> {
    const { runs } = await this.#link.request(subjects.api.ps, { all: true }, ApiPsResultSchema, { timeoutMs: 30_000, signal: opts.signal });
    const record = runs.find((r) => r.runId === this.runId);
    if (!record) throw new AirlockError('unknown_run', `no run ${this.runId}`);
    this.record = record;
    return record;
  }

  /**
   * Closes the run: its sandbox is removed, its workspace given back; the log and snapshots stay.
   * Idempotent. `outcome: 'failed'` records that the task failed (termination `failed`).
   */
  async close(opts: { signal?: AbortSignal; outcome?: CloseOutcome } = {}): Promise<RunRecord> {
    this.#closeOnDispose = false;
    const record = await this.#link.request(subjects.api.close, { runId: this.runId, ...(opts.outcome ? { outcome: opts.outcome } : {}) }, ApiOpenResultSchema, { timeoutMs: 90_000, signal: opts.signal });
    this.record = record;
    return record;
  }

  /** Leaves the run open when this handle is disposed. */
  detach(): void {
    this.#closeOnDispose = false;
  }

  /** Closes the run if it came from `open` (or `fork`) and was not closed or detached. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closeOnDispose) await this.close();
  }

  /** Polls the run's record until its `moves` count grows (it moved) or it closes. */
  async #awaitMove(deadline: number, signal?: AbortSignal): Promise<void> {
    const known = this.record?.moves;
    const first = await this.info(signal ? { signal } : {});
    if (first.status === 'closed') throw new AirlockError('run_closed', `run ${this.runId} was closed (${first.closeReason ?? 'no reason given'})`);
    if (known !== undefined && first.moves > known) return;
    while (Date.now() < deadline) {
      await pause(500, signal);
      const now = await this.info(signal ? { signal } : {});
      if (now.status === 'closed') throw new AirlockError('run_closed', `run ${this.runId} was closed while it moved (${now.closeReason ?? 'no reason given'})`);
      if (now.moves > first.moves) return;
    }
    throw new AirlockError('timeout', `run ${this.runId} did not move off its lost runner in time`);
  }

  /** Polls the held step until an operator decides; a rejection is a {@link PolicyDeniedError}. */
  async #awaitDecision(step: number, waitMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const { approvals } = await this.#link.request(subjects.api.approvals, { runId: this.runId, all: true }, ApiApprovalsResultSchema, { timeoutMs: 30_000, signal });
      const held = approvals.find((a) => a.step === step);
      if (held?.status === 'rejected') {
        throw new PolicyDeniedError(`step ${step} was rejected by ${held.decidedBy ?? 'an operator'}${held.note ? `: ${held.note}` : ''}`, { step, rule: 'approval.rejected', reason: held.note ?? 'rejected by an operator' });
      }
      if (held?.status === 'expired') {
        throw new PolicyDeniedError(`step ${step} expired without a decision${held.note ? `: ${held.note}` : ''}`, { step, rule: 'approval.expired', reason: held.note ?? 'nobody decided in time' });
      }
      if (held && held.status !== 'pending') return;
      if (Date.now() >= deadline) throw new AirlockError('timeout', `step ${step} of run ${this.runId} is still waiting for approval after ${Math.round(waitMs / 1000)} s`, { data: { step } });
      await pause(Math.min(500, Math.max(0, deadline - Date.now())), signal);
    }
  }
}
