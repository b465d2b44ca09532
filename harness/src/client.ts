import { randomUUID } from 'node:crypto';
import { headers as natsHeaders, type Msg } from '@nats-io/transport-node';
import {
  AirlockError,
  ApiOpenResultSchema,
  ApiPsResultSchema,
  ApiStatusResultSchema,
  ApiBundleResultSchema,
  ApiApprovalsResultSchema,
  ApprovalSchema,
  RunStateSchema,
  PROTOCOL_VERSION,
  names,
  StepResultSchema,
  decodeReply,
  encode,
  subjects,
  outputBytes,
} from '@airlock/proto';
import type { ApiApprovalsResult, Budgets, ControlVerb, RunState, ApiOpenRequest, ApiPsResult, ApiStatusResult, Approval, LogEvent, RunRecord, StepResult } from '@airlock/proto';
import { logTail, readAudit, readRunLog, type AuditQuery, type ReadLogOptions } from '@airlock/ledger';
import { connectNats, isNoResponders, isTimeout, type NatsHandles } from '@airlock/transport';
import type { z } from 'zod';
import { SnapshotStore } from '@airlock/snapshot';
import { Objm } from '@nats-io/obj';

/** A snapshot of a run's workspace, as its log records it. */
export type RunSnapshot = Extract<LogEvent, { type: 'snapshot.created' }>;

export interface ClientOptions {
  /** NATS URL(s) of the Airlock deployment. */
  natsUrl: string;
  /** Give up connecting after this long. Default 3000. */
  connectTimeoutMs?: number;
  /**
   * The caller's credential (signed by the harness: principal, role, maybe runs), sent with every
   * request; a harness with `auth: required` refuses requests without one. `./airlock up` writes one
   * per role in `<state>/credentials/roles/`.
   */
  credential?: string;
}

/** Header that carries the caller's credential (the harness's `CREDENTIAL_HEADER`). */
const CREDENTIAL_HEADER = 'Airlock-Credential';

export interface ExecOptions {
  env?: Record<string, string>;
  /** Per-step timeout; the harness default when absent. */
  timeoutMs?: number;
  /** Called with each piece of output as it is logged, in order. */
  onOutput?: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  /** Called with every log event of the step (requested, started, output, exited, …). */
  onEvent?: (event: LogEvent) => void;
  signal?: AbortSignal;
  /**
   * When the command is held for approval (`ask`), wait up to this long for an operator's decision:
   * approved, it is sent again and runs (once); rejected, `exec` fails with `validation_denied`.
   * Default 0: fail at once with `validation_ask`.
   */
  waitForApprovalMs?: number;
  /** Called once when the command is held, with the held step (e.g. to tell a person). */
  onHeld?: (step: number, reason: string) => void;
}

/**
 * The TypeScript SDK: a thin client of the harness API over NATS (what the CLI uses).
 *
 * ```ts
 * await using airlock = await AirlockClient.connect({ natsUrl: 'nats://127.0.0.1:4222' });
 * const run = await airlock.open({});
 * const result = await airlock.exec(run.runId, 'python -V', { onOutput: (s, d) => process.stdout.write(d) });
 * await airlock.close(run.runId);
 * ```
 */
export class AirlockClient implements AsyncDisposable {
  readonly natsUrl: string;
  readonly #nats: NatsHandles;
  readonly #credential: string | undefined;
  #store: Promise<SnapshotStore> | undefined;

  private constructor(natsUrl: string, nats: NatsHandles, credential: string | undefined) {
    this.natsUrl = natsUrl;
    this.#nats = nats;
    this.#credential = credential;
  }

  static async connect(opts: ClientOptions): Promise<AirlockClient> {
    try {
      const nats = await connectNats({ servers: opts.natsUrl.split(','), name: 'airlock-client', timeoutMs: opts.connectTimeoutMs ?? 3000, reconnect: true });
      return new AirlockClient(opts.natsUrl, nats, opts.credential);
    } catch (cause) {
      throw new AirlockError('no_harness', `cannot reach NATS at ${opts.natsUrl}; start Airlock with \`./airlock up\` (or pass --nats URL)`, { cause });
    }
  }

  async #api<S extends z.ZodType>(subject: string, body: Record<string, unknown>, result: S, timeoutMs = 60_000): Promise<z.infer<S>> {
    let msg: Msg;
    try {
      const h = this.#credential ? natsHeaders() : undefined;
      if (h && this.#credential) h.set(CREDENTIAL_HEADER, this.#credential);
      msg = await this.#nats.nc.request(subject, encode({ v: PROTOCOL_VERSION, ...body }), { timeout: timeoutMs, ...(h ? { headers: h } : {}) });
    } catch (cause) {
      if (isNoResponders(cause)) {
        throw new AirlockError('no_harness', `no harness answers at ${this.natsUrl}; start one with \`./airlock up\``, { cause });
      }
      if (isTimeout(cause)) throw new AirlockError('timeout', `the harness did not answer within ${timeoutMs} ms`, { cause });
      throw cause;
    }
    return decodeReply(result, msg.data, `reply on ${subject}`);
  }

  /** Opens a run: a sandbox on some runner with a free slot. */
  open(req: Omit<ApiOpenRequest, 'v'>): Promise<RunRecord> {
    return this.#api(subjects.api.open, req, ApiOpenResultSchema, 120_000);
  }

  /**
   * Runs `cmd` (a bash command line) as the next step of the run and resolves with its result
   * once every output chunk of the step has been delivered to `onOutput`.
   */
  async exec(runId: string, cmd: string, opts: ExecOptions = {}): Promise<StepResult> {
    try {
      return await this.#exec(runId, cmd, opts);
    } catch (err) {
      const wait = opts.waitForApprovalMs ?? 0;
      const step = err instanceof AirlockError && err.code === 'validation_ask' ? (err.data as { step?: number } | undefined)?.step : undefined;
      if (wait <= 0 || step === undefined) throw err;
      opts.onHeld?.(step, (err as AirlockError).message);
      const decided = await this.#awaitDecision(runId, step, wait, opts.signal);
      if (decided.status === 'rejected') {
        throw new AirlockError('validation_denied', `step ${step} was rejected by ${decided.decidedBy ?? 'an operator'}${decided.note ? `: ${decided.note}` : ''}`, { data: { step, rule: 'approval.rejected' } });
      }
      return this.#exec(runId, cmd, opts);
    }
  }

  /** Polls the held step until it is decided, or fails with `timeout`. */
  async #awaitDecision(runId: string, step: number, waitMs: number, signal?: AbortSignal): Promise<Approval> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const { approvals } = await this.approvals({ runId, all: true });
      const held = approvals.find((a) => a.step === step);
      if (held && held.status !== 'pending') return held;
      if (Date.now() >= deadline) throw new AirlockError('timeout', `step ${step} of run ${runId} is still waiting for approval after ${Math.round(waitMs / 1000)} s`);
      signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
    }
  }

  /** Steps held for approval: pending ones, or all decisions with `all`. */
  approvals(opts: { runId?: string; all?: boolean } = {}): Promise<ApiApprovalsResult> {
    return this.#api(subjects.api.approvals, { ...(opts.runId ? { runId: opts.runId } : {}), all: opts.all ?? false }, ApiApprovalsResultSchema);
  }

  /** Approves or rejects a held step (operators); `by` names who decided, for the log. */
  decide(runId: string, step: number, decision: 'approve' | 'reject', opts: { by: string; note?: string }): Promise<Approval> {
    return this.#api(subjects.api.decide, { runId, step, decision, by: opts.by, ...(opts.note ? { note: opts.note } : {}) }, ApprovalSchema);
  }

  /**
   * An operator's control on a run: `pause` (no new step starts), `resume`, `cancel` (after the
   * running step, then close), `kill` (now), `raise` (budgets). Idempotent per `requestId` (one is
   * made when absent): sending the same request again changes nothing. Resolves with the run's state.
   */
  control(runId: string, verb: ControlVerb, opts: { reason?: string; budgets?: Budgets; requestId?: string } = {}): Promise<RunState> {
    return this.#api(
      subjects.api.control,
      { runId, verb, requestId: opts.requestId ?? randomUUID(), ...(opts.reason ? { reason: opts.reason } : {}), ...(opts.budgets ? { budgets: opts.budgets } : {}) },
      RunStateSchema,
    );
  }

  pause(runId: string, opts: { reason?: string; requestId?: string } = {}): Promise<RunState> {
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

  /** Raises a run's budgets (operators); each new limit must be above what the run used. */
  raise(runId: string, budgets: Budgets, opts: { reason?: string; requestId?: string } = {}): Promise<RunState> {
    return this.control(runId, 'raise', { ...opts, budgets });
  }

  /** A run's governance state: running or paused (and why), budgets and what is used. */
  runState(runId: string): Promise<RunState> {
    return this.#api(subjects.api.runState, { runId }, RunStateSchema);
  }

  async #exec(runId: string, cmd: string, opts: ExecOptions): Promise<StepResult> {
    const { js, jsm } = this.#nats;
    // Everything the step logs comes after the current tail, so the follower may be set up while the
    // request is already on its way: it starts at a stream position, not at "now".
    const tail = await logTail(jsm, runId);
    const stop = new AbortController();
    const signal = opts.signal ? AbortSignal.any([stop.signal, opts.signal]) : stop.signal;
    // Delivers the step's events once each, in order, whether read live or (after a failure of the
    // live follower, e.g. JetStream briefly unavailable) from the stored log afterwards.
    let delivered = tail.seq;
    const deliver = (event: LogEvent) => {
      if (event.seq <= delivered) return;
      delivered = event.seq;
      opts.onEvent?.(event);
      if (event.type === 'step.output') opts.onOutput?.(event.stream, outputBytes(event));
    };
    const follow = (async () => {
      const readOpts: ReadLogOptions = { fromStreamSeq: tail.streamSeq + 1, follow: true, signal, until: (e) => e.type === 'step.exited' };
      for await (const event of readRunLog(js, jsm, runId, readOpts)) deliver(event);
    })();
    // Never an unhandled rejection: a failed follower is caught up from the stored log below.
    const followed = follow.then(
      () => true,
      () => false,
    );
    let result: StepResult;
    try {
      const timeoutMs = (opts.timeoutMs ?? 24 * 3600 * 1000) + 180_000; // beyond the harness's own grace for the step (STEP_REPLY_GRACE_MS)
      result = await this.#api(
        subjects.api.exec,
        { runId, cmd, ...(opts.env ? { env: opts.env } : {}), ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) },
        StepResultSchema,
        timeoutMs,
      );
    } catch (err) {
      stop.abort();
      await followed;
      throw err;
    }
    // The result names the log position of the step's end: wait until the follower got there.
    const grace = setTimeout(() => stop.abort(), 30_000);
    let live: boolean;
    try {
      live = await followed;
    } finally {
      clearTimeout(grace);
    }
    if (!live || delivered < result.logSeq) {
      for await (const event of readRunLog(js, jsm, runId, { fromSeq: delivered + 1 })) {
        if (event.seq > result.logSeq) break;
        deliver(event);
      }
    }
    return result;
  }

  /** Has the harness build and sign a proof bundle of a run; resolves with the bundle's JSON text. */
  async bundle(runId: string): Promise<{ text: string; keyId: string; events: number }> {
    const made = await this.#api(subjects.api.bundle, { runId }, ApiBundleResultSchema, 300_000);
    const bucket = await new Objm(this.#nats.nc).open(names.bundlesBucket);
    const bytes = await bucket.getBlob(made.object);
    if (!bytes) throw new AirlockError('internal', `bundle ${made.object} is not in the bundles store`);
    return { text: new TextDecoder().decode(bytes), keyId: made.keyId, events: made.events };
  }

  close(runId: string): Promise<RunRecord> {
    return this.#api(subjects.api.close, { runId }, ApiOpenResultSchema);
  }

  ps(opts: { all?: boolean } = {}): Promise<ApiPsResult> {
    return this.#api(subjects.api.ps, { all: opts.all ?? false }, ApiPsResultSchema);
  }

  status(timeoutMs = 5000): Promise<ApiStatusResult> {
    return this.#api(subjects.api.status, {}, ApiStatusResultSchema, timeoutMs);
  }

  /** Verdicts of the validation chain, from the audit index (oldest first). */
  audit(q: AuditQuery = {}): AsyncGenerator<Extract<LogEvent, { type: 'step.verdict' }>> {
    return readAudit(this.#nats.js, this.#nats.jsm, q);
  }

  /** Reads a run's log straight from JetStream: works after the run ended and with no harness running. */
  log(runId: string, opts: ReadLogOptions = {}): AsyncGenerator<LogEvent> {
    return readRunLog(this.#nats.js, this.#nats.jsm, runId, opts);
  }

  /** The content-addressed snapshot store (restore, diff, export, import, gc). */
  snapshotStore(): Promise<SnapshotStore> {
    this.#store ??= SnapshotStore.open(this.#nats.nc);
    return this.#store;
  }

  /** Every snapshot of a run, by step (0 = as the run opened), from its log. */
  async snapshots(runId: string): Promise<RunSnapshot[]> {
    const list: RunSnapshot[] = [];
    for await (const e of this.log(runId)) if (e.type === 'snapshot.created') list.push(e);
    return list;
  }

  /** The snapshot taken after step `step` of a run; a typed error when there is none. */
  async snapshotAt(runId: string, step: number): Promise<RunSnapshot> {
    const all = await this.snapshots(runId);
    if (all.length === 0) throw new AirlockError('unknown_run', `run ${runId} has no snapshots (unknown run?)`);
    const found = all.find((s) => s.step === step);
    if (!found) throw new AirlockError('bad_request', `run ${runId} has no snapshot after step ${step}; it has steps ${all.map((s) => s.step).join(', ')}`);
    return found;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#store) await (await this.#store.catch(() => null))?.[Symbol.asyncDispose]().catch(() => undefined);
    await this.#nats.drain();
  }
}
