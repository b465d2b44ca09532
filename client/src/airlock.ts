import { Objm } from '@nats-io/obj';
import {
  AirlockError,
  ApiApprovalsResultSchema,
  ApiBundleResultSchema,
  ApiOpenResultSchema,
  ApiPsResultSchema,
  ApiRetryResultSchema,
  ApiStatusResultSchema,
  RollbackJobSchema,
  ApprovalSchema,
  RunStateSchema,
  names,
  subjects,
  type ApiApprovalsResult,
  type ApiPsResult,
  type ApiRetryResult,
  type RollbackJob,
  type ApiStatusResult,
  type Approval,
  type ApprovalDecision,
  type RunRecord,
  type Budgets,
  type ControlVerb,
  type RunState,
  type CloseOutcome,
} from '@airlock/proto';
import { randomUUID } from 'node:crypto';
import { openNats, splitCredentials, type ConnectOptions, type NatsHandles } from './connection.ts';
import { HarnessWatch } from './harness-watch.ts';
import { Link } from './link.ts';
import { Run, type OpenOptions } from './run.ts';

/** Default of `harnessLostMs`: five missed harness heartbeats. */
const HARNESS_LOST_MS = 5000;

/**
 * A connection to an Airlock deployment (its NATS): opens runs, and the operator's reads
 * (`ps`, `status`, approvals). Dispose it (`await using`) to close the connection.
 *
 * ```ts
 * await using airlock = await Airlock.connect({ servers: 'nats://127.0.0.1:4222' });
 * await using run = await airlock.open({ image: 'airlock/sandbox:default' });
 * const r = await run.exec('python3 -V');
 * console.log(r.exitCode, r.stdout);
 * ```
 */
export class Airlock implements AsyncDisposable {
  /**
   * The NATS connection and its JetStream handles, for tools built on Airlock's stores (the CLI's
   * snapshot and audit commands). Not needed for anything this class offers.
   */
  readonly nats: NatsHandles;
  readonly #link: Link;
  #closed: Promise<void> | undefined;

  private constructor(nats: NatsHandles, link: Link) {
    this.nats = nats;
    this.#link = link;
  }

  /** Connects to the deployment's NATS; `no_harness` (retryable) when it cannot be reached. */
  static async connect(opts: ConnectOptions): Promise<Airlock> {
    const where = splitCredentials(opts.servers).servers.join(',');
    let nats: NatsHandles;
    try {
      nats = await openNats(opts);
    } catch (cause) {
      // The harness's own answer (an agent's session request: `forbidden`, `no_harness`) says more.
      if (cause instanceof AirlockError) throw cause;
      throw new AirlockError('no_harness', `cannot reach NATS at ${where}: ${(cause as Error)?.message ?? String(cause)}; start Airlock with \`./airlock up\``, { cause });
    }
    const watch = new HarnessWatch(nats.nc, opts.harnessLostMs ?? HARNESS_LOST_MS);
    const reach = { servers: splitCredentials(opts.servers).servers, ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}) };
    return new Airlock(nats, new Link(nats, watch, where, opts.credential, reach));
  }

  /**
   * Opens a run: a sandbox on a runner with a free slot (waiting for one up to the harness's
   * `openTimeoutMs`). The returned run is closed when disposed.
   */
  async open(opts: OpenOptions = {}): Promise<Run> {
    const { signal, ...req } = opts;
    const record = await this.#link.request(subjects.api.open, req, ApiOpenResultSchema, { timeoutMs: 180_000, signal });
    return new Run(this.#link, (o) => this.open(o), record.runId, { record, closeOnDispose: true });
  }

  /**
   * A handle on an existing run, by id (from `ps`, another process, an earlier session). Disposing
   * it leaves the run open unless `closeOnDispose`. No request is made: a wrong id fails on first use.
   */
  run(runId: string, opts: { closeOnDispose?: boolean } = {}): Run {
    return new Run(this.#link, (o) => this.open(o), runId, { closeOnDispose: opts.closeOnDispose ?? false });
  }

  /** Closes a run by id (`run(id).close()`). Idempotent. */
  close(runId: string, opts: { signal?: AbortSignal; outcome?: CloseOutcome } = {}): Promise<RunRecord> {
    return this.run(runId).close(opts);
  }

  /** The runs the harness knows: open ones, or all with `all`. */
  ps(opts: { all?: boolean; signal?: AbortSignal } = {}): Promise<ApiPsResult> {
    return this.#link.request(subjects.api.ps, { all: opts.all ?? false }, ApiPsResultSchema, { timeoutMs: 30_000, signal: opts.signal });
  }

  /** The harness and the runners it hears from. `timeoutMs` bounds the wait (default 5000). */
  status(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ApiStatusResult> {
    return this.#link.request(subjects.api.status, {}, ApiStatusResultSchema, { timeoutMs: opts.timeoutMs ?? 5000, signal: opts.signal });
  }

  /** Steps held for approval: pending ones, or every decision with `all`. */
  approvals(opts: { runId?: string; all?: boolean; signal?: AbortSignal } = {}): Promise<ApiApprovalsResult> {
    return this.#link.request(subjects.api.approvals, { ...(opts.runId ? { runId: opts.runId } : {}), all: opts.all ?? false }, ApiApprovalsResultSchema, { timeoutMs: 30_000, signal: opts.signal });
  }

  /**
   * Decides a held step (an operator's call; nobody decides their own request): `approve` (this
   * command, once), `approve_run` (the same rule and command prefix for the rest of the run, see the
   * request's `choices`), `reject`, `reject_pause` (deny and pause the run). `by` names who decided
   * where no credential does. An expired request can no longer be decided (`already_decided`).
   * `hold`: an egress hold of step `step` (its id `<step>.<hold>` in `approvals`), not the step's command.
   */
  decide(runId: string, step: number, decision: ApprovalDecision, opts: { by: string; note?: string; hold?: number; signal?: AbortSignal }): Promise<Approval> {
    return this.#link.request(subjects.api.decide, { runId, step, decision, by: opts.by, ...(opts.note ? { note: opts.note } : {}), ...(opts.hold !== undefined ? { hold: opts.hold } : {}) }, ApprovalSchema, { timeoutMs: 30_000, signal: opts.signal });
  }

  /** Has the harness build and sign a run's proof bundle; resolves with its JSON text. */
  async bundle(runId: string, opts: { signal?: AbortSignal } = {}): Promise<{ text: string; keyId: string; events: number }> {
    const made = await this.#link.request(subjects.api.bundle, { runId }, ApiBundleResultSchema, { timeoutMs: 300_000, signal: opts.signal });
    const bucket = await new Objm(this.nats.nc).open(names.bundlesBucket);
    const bytes = await bucket.getBlob(made.object);
    if (!bytes) throw new AirlockError('internal', `bundle ${made.object} is not in the bundles store`);
    return { text: new TextDecoder().decode(bytes), keyId: made.keyId, events: made.events };
  }

  /**
   * An operator's control on a run: `pause` (no new step starts), `resume`, `cancel` (after the
   * running step, then close), `kill` (now), `raise` (budgets). Stored in the run's log with who and
   * why; idempotent per `requestId` (a fresh one when absent): the same request again changes nothing.
   * Resolves with the run's state after it. `forbidden` for a credential whose role may not.
   */
  control(runId: string, verb: ControlVerb, opts: { reason?: string; budgets?: Budgets; requestId?: string; interrupt?: boolean; graceMs?: number; signal?: AbortSignal } = {}): Promise<RunState> {
    const body = {
      runId,
      verb,
      requestId: opts.requestId ?? randomUUID(),
      ...(opts.reason ? { reason: opts.reason } : {}),
      ...(opts.budgets ? { budgets: opts.budgets } : {}),
      ...(opts.interrupt ? { interrupt: true } : {}),
      ...(opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {}),
    };
    return this.#link.request(subjects.api.control, body, RunStateSchema, { timeoutMs: 90_000, signal: opts.signal });
  }

  /**
   * Pauses a run: no new step starts. With `interrupt`, the running step also gets SIGINT, then
   * SIGTERM after `graceMs` (default 10 s) if it has not ended; the step's result shows the signal.
   */
  pause(runId: string, opts: { reason?: string; requestId?: string; interrupt?: boolean; graceMs?: number } = {}): Promise<RunState> {
    return this.control(runId, 'pause', opts);
  }

  resume(runId: string, opts: { reason?: string; requestId?: string } = {}): Promise<RunState> {
    return this.control(runId, 'resume', opts);
  }

  cancel(runId: string, opts: { reason?: string; requestId?: string } = {}): Promise<RunState> {
    return this.control(runId, 'cancel', opts);
  }

  kill(runId: string, opts: { reason?: string; requestId?: string } = {}): Promise<RunState> {
    return this.control(runId, 'kill', opts);
  }

  /** Raises a run's budgets (operators): each new limit above what the run used; then `resume` a run a budget paused. */
  raise(runId: string, budgets: Budgets, opts: { reason?: string; requestId?: string } = {}): Promise<RunState> {
    return this.control(runId, 'raise', { ...opts, budgets });
  }

  /**
   * Retries step `step` of a run (operators): a new branch run whose workspace is the snapshot after
   * step `step - 1` re-runs the step's command, validated again under the harness's policy. Parent
   * and branch name each other in their logs. The same `requestId` again answers with the same branch.
   */
  retry(runId: string, step: number, opts: { reason?: string; requestId?: string; signal?: AbortSignal } = {}): Promise<ApiRetryResult> {
    const body = { runId, step, requestId: opts.requestId ?? randomUUID(), ...(opts.reason ? { reason: opts.reason } : {}) };
    return this.#link.request(subjects.api.retry, body, ApiRetryResultSchema, { timeoutMs: 600_000, signal: opts.signal });
  }

  /**
   * Plans a rollback of a run's workspace to its snapshot after `toStep` (operators): nothing changes
   * yet; the job lists (and `patches` shows) what applying it would undo. Refused while a step runs.
   */
  planRollback(runId: string, toStep: number, opts: { reason?: string; signal?: AbortSignal } = {}): Promise<RollbackJob> {
    return this.#link.request(subjects.api.rollback, { runId, action: 'plan', toStep, ...(opts.reason ? { reason: opts.reason } : {}) }, RollbackJobSchema, { timeoutMs: 120_000, signal: opts.signal });
  }

  /**
   * Approves a planned rollback (a second operator: the planner is refused under the two-person rule).
   * It is applied to the workspace at once (the running sandbox is replaced) unless `apply` is false,
   * which leaves it `approved` for a separate {@link applyRollback}.
   */
  approveRollback(runId: string, jobId: string, opts: { apply?: boolean; signal?: AbortSignal } = {}): Promise<RollbackJob> {
    return this.#link.request(subjects.api.rollback, { runId, action: 'approve', jobId, ...(opts.apply === false ? { apply: false } : {}) }, RollbackJobSchema, { timeoutMs: 180_000, signal: opts.signal });
  }

  /** Rejects a planned rollback (a second operator): the workspace is left as it is, and the job ends. */
  rejectRollback(runId: string, jobId: string, opts: { reason?: string; signal?: AbortSignal } = {}): Promise<RollbackJob> {
    return this.#link.request(subjects.api.rollback, { runId, action: 'reject', jobId, ...(opts.reason ? { reason: opts.reason } : {}) }, RollbackJobSchema, { timeoutMs: 60_000, signal: opts.signal });
  }

  /** Applies an approved rollback to the workspace (any operator; refused while a step runs). */
  applyRollback(runId: string, jobId: string, opts: { signal?: AbortSignal } = {}): Promise<RollbackJob> {
    return this.#link.request(subjects.api.rollback, { runId, action: 'apply', jobId }, RollbackJobSchema, { timeoutMs: 180_000, signal: opts.signal });
  }

  /** A rollback job as the run's log has it (with its diff). */
  rollbackJob(runId: string, jobId: string, opts: { signal?: AbortSignal } = {}): Promise<RollbackJob> {
    return this.#link.request(subjects.api.rollback, { runId, action: 'show', jobId }, RollbackJobSchema, { timeoutMs: 60_000, signal: opts.signal });
  }

  /** A run's governance state: running, paused (and why), cancelling or closed (and how); budgets and what is used. */
  runState(runId: string, opts: { signal?: AbortSignal } = {}): Promise<RunState> {
    return this.#link.request(subjects.api.runState, { runId }, RunStateSchema, { timeoutMs: 30_000, signal: opts.signal });
  }

  /** Closes the connection (pending publishes are flushed). Runs stay as they are. Idempotent. */
  disconnect(): Promise<void> {
    this.#closed ??= (async () => {
      this.#link.watch.close();
      await this.#link.readers.close();
      if (!this.nats.nc.isClosed()) await this.nats.nc.drain().catch(() => this.nats.nc.close());
    })();
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect();
  }
}
