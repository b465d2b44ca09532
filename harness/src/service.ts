import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Msg, Subscription } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { createPublicKey } from 'node:crypto';
import {
  AirlockError,
  ApiApprovalsRequestSchema,
  ApiBundleRequestSchema,
  ApiCloseRequestSchema,
  ApiControlRequestSchema,
  ApiDecideRequestSchema,
  ApiRunStateRequestSchema,
  ApiExecRequestSchema,
  ApiOpenRequestSchema,
  ApiPsRequestSchema,
  ApiFileRequestSchema,
  ApiPollRequestSchema,
  ApiSignalRequestSchema,
  ApiProcessesRequestSchema,
  ApiRetryRequestSchema,
  ApiRollbackRequestSchema,
  DEFAULT_APPROVAL_EXPIRY_MS,
  ApiDiffRequestSchema,
  ApiReaderRequestSchema,
  ApiSessionRequestSchema,
  ApiSnapshotReadRequestSchema,
  names,
  subjects,
} from '@airlock/proto';
import type {
  ApiApprovalsRequest,
  ApiApprovalsResult,
  ApiCloseRequest,
  ApiControlRequest,
  ApiDiffRequest,
  ApiDiffResult,
  ApiDecideRequest,
  ApiExecRequest,
  ApiOpenRequest,
  ApiPsRequest,
  ApiPsResult,
  ApiStatusResult,
  Approval,
  ProcessState,
  RunRecord,
  RunState,
  StepResult,
} from '@airlock/proto';
import { ensureAuditStream, ensureLogStream } from '@airlock/ledger';
import { serveRequest, type NatsHandles } from '@airlock/transport';
import { Redactor } from '@airlock/trust';
import { createValidator, defaultPolicy, loadPolicyFile, type Policy, type Validator } from '@airlock/validate';
import type { z } from 'zod';
import { ApprovalBook } from './approvals/book.ts';
import { startExpirySweep } from './approvals/expiry.ts';
import { EgressDesk } from './approvals/egress-desk.ts';
import { BundleBuilder, type BundleRef } from './bundles/build.ts';
import type { HarnessConfig } from './config.ts';
import type { HarnessContext } from './context.ts';
import { authorizeRun } from './governance/access.ts';
import { CallerGate, actorOf, type ApiCaller } from './governance/callers.ts';
import { RunGovernor } from './governance/governor.ts';
import { interrupter, resumeInterrupts } from './governance/interrupt.ts';
import { loadOrCreateSigningKey } from './keys.ts';
import { startHarnessHeartbeat } from './heartbeat.ts';
import type { Logger } from './logger.ts';
import { publishPolicy } from './policy/bucket.ts';
import { PolicyGate } from './policy/gate.ts';
import { RunnerFleet } from './routing/fleet.ts';
import { startLogGrants, type LogGrantsHandle } from './natsauth/wire.ts';
import { RunRelocator } from './runs/relocate.ts';
import { IdleKeeper } from './runs/idle.ts';
import { RunnerKeyStore, readRunnersFile } from './routing/runner-keys.ts';
import { RunLifecycle } from './runs/lifecycle.ts';
import { RunRetrier } from './runs/retry.ts';
import { RollbackDesk } from './runs/rollback.ts';
import { RunLogs } from './run-logs.ts';
import { RunRecords } from './runs/records.ts';
import { StepDispatcher } from './runs/steps.ts';
import { SecretStore, envSecrets, fileSecrets } from './secrets/store.ts';
import { fileStep } from './files/handler.ts';
import { createDesk, type StepDesk } from './processes/desk.ts';
import { listProcesses, poll, signal, yieldStep } from './processes/handlers.ts';
import { WorkspaceDiffs } from './snapshots/diff.ts';
import { SnapshotReads } from './snapshots/reads.ts';
import { LazySnapshotStore } from './snapshots/store.ts';
import { LogReaderDesk } from './natsauth/reader-desk.ts';
import { AgentSessionDesk } from './natsauth/session-desk.ts';
import { NatsAuthority } from './natsauth/authority.ts';

const VERSION = '0.1.0';
export type HarnessState = 'starting' | 'running' | 'draining' | 'stopped';

/** The rooms of a harness, built once at start; each owns one concern and is handed only what it touches. */
interface Rooms {
  logs: RunLogs;
  records: RunRecords;
  fleet: RunnerFleet;
  approvals: ApprovalBook;
  gate: PolicyGate;
  lifecycle: RunLifecycle;
  steps: StepDispatcher;
  relocator: RunRelocator;
  bundles: BundleBuilder;
  governor: RunGovernor;
  callers: CallerGate;
  idle: IdleKeeper;
  diffs: WorkspaceDiffs;
  snapshotReads: SnapshotReads;
  snapshots: LazySnapshotStore;
  retrier: RunRetrier;
  rollbacks: RollbackDesk;
}

/**
 * The harness: answers the API subjects for the CLI and SDK and talks to runners; it never talks to
 * Docker. This class only wires its rooms together and owns the process lifecycle:
 * - `routing/`: runners' heartbeats and keys, offering runs to them;
 * - `runs/`: run records (KV), run logs, opening/closing runs, dispatching steps, moving runs off lost runners;
 * - `policy/`: the validation gate every step passes and the published policy;
 * - `approvals/`: steps held by `ask` and operators' decisions;
 * - `bundles/`: signed proof bundles;
 * - `snapshots/`: the snapshot store as the harness reads it (diffs between steps);
 * - `governance/`: who may call what (credentials, roles), operators' controls, budgets, loop detection.
 */
export class HarnessService implements AsyncDisposable {
  state: HarnessState = 'starting';
  readonly #ctx: HarnessContext;
  readonly #rooms: Rooms;
  readonly #keyId: string;
  readonly #startedAt = new Date();
  readonly #inFlight = new Set<Promise<unknown>>();
  #subs: Subscription[] = [];
  #monitor: NodeJS.Timeout | undefined;
  #heartbeat: { stop(): void } | undefined;
  /** Per-run log grants (operator-mode NATS only). */
  #logGrants: LogGrantsHandle | undefined;
  readonly #runnerKeys: RunnerKeyStore;
  #expiry: { stop(): void } | undefined;
  /** Runners' asks for unlisted hosts (policy network.unlisted: ask), held as approvals. */
  #egress: EgressDesk | undefined;
  /** Interrupts this harness escalates (stopped at drain), and those it took over from a previous one. */
  readonly #interrupter: { stop(): void };
  #interrupts: { stop(): void } | undefined;
  #stopped: Promise<void> | undefined;
  /** Numbered steps for the file and process handlers. */
  readonly #desk: StepDesk;
  /** What the `harness ready` line reports. */
  readonly #ready: Record<string, unknown>;

  private constructor(cfg: HarnessConfig, nats: NatsHandles, log: Logger, stores: { runs: KV; approvals: KV }, validator: Validator) {
    this.#ctx = { cfg, nats, log, track: (p) => this.#track(p) };
    const ctx = this.#ctx;
    const secrets = new SecretStore([envSecrets(process.env), fileSecrets(cfg.secretsDir, (m) => log.warn(m))]);
    /** Redacts every secret the harness holds from what it writes itself (commands in events). */
    const redactor = new Redactor(secrets.all());
    const key = loadOrCreateSigningKey(cfg.keyFile, cfg.publicKeyFile);
    this.#keyId = key.keyId;
    // Runners' public keys: secrets are sealed to them, replies, heartbeats and log events checked against them.
    const runnerKeys = new RunnerKeyStore(cfg.runnersFile ? readRunnersFile(cfg.runnersFile) : undefined, log, { seenFile: join(dirname(cfg.keyFile), 'runners-seen.json') });
    if (!runnerKeys.pinned) log.warn({}, 'no runners file (AIRLOCK_RUNNERS_FILE): runner keys are pinned on first sight; use only with a NATS without per-runner users');
    const logs = new RunLogs(nats, key.privateKey, runnerKeys);
    const records = new RunRecords(stores.runs);
    const fleet = new RunnerFleet(ctx, runnerKeys);
    const approvals = new ApprovalBook(stores.approvals, logs, log, { expiryMs: validator.policy.governance?.approvalExpiryMs });
    const gate = new PolicyGate(ctx, validator, approvals, logs, redactor);
    const governor = new RunGovernor(ctx, { logs, records, policy: validator.policy.governance });
    const callers = new CallerGate(cfg.auth, createPublicKey(key.privateKey), logs, log);
    if (cfg.auth === 'open') log.warn({}, 'auth is open: API requests without a credential are trusted as stated (AIRLOCK_AUTH=required makes credentials mandatory); use only with a NATS without users');
    const lifecycle = new RunLifecycle(ctx, { records, logs, fleet, gate, approvals, runnerKeys, governor });
    const steps = new StepDispatcher(ctx, { records, logs, gate, secrets, redactor, runnerKeys, key: key.privateKey, governor });
    const relocator = new RunRelocator(ctx, { fleet, records, logs, lifecycle, steps, gate, startedAt: this.#startedAt.getTime() });
    const snapshots = new LazySnapshotStore(ctx);
    const bundles = new BundleBuilder(ctx, { records, logs, key, snapshots });
    const diffs = new WorkspaceDiffs({ records, logs, store: snapshots });
    const snapshotReads = new SnapshotReads({ diffs, store: snapshots });
    const idle = new IdleKeeper(ctx, { records, logs, fleet, gate, governor, lifecycle, steps, runnerKeys }, validator.policy.governance);
    const retrier = new RunRetrier({ records, logs, lifecycle, steps });
    const rollbacks = new RollbackDesk(ctx, { records, logs, steps, runnerKeys, key: key.privateKey, snapshots, twoPerson: validator.policy.governance?.rollbackTwoPerson !== false });
    this.#rooms = { logs, records, fleet, approvals, gate, lifecycle, steps, relocator, bundles, governor, callers, diffs, snapshotReads, snapshots, idle, retrier, rollbacks };
    this.#runnerKeys = runnerKeys;
    this.#desk = createDesk({ ctx, records, logs, gate, steps, runnerKeys, redactor, key: key.privateKey });
    const interrupts = interrupter(this.#desk, log);
    this.#interrupter = interrupts;
    governor.bindInterrupt(interrupts.interrupt);
    this.#ready = { auth: cfg.auth, runnersPinned: runnerKeys.pinned, policy: validator.policy.name, policyHash: validator.policyHash, keyId: key.keyId, secrets: redactor.names.length };
  }

  static async start(cfg: HarnessConfig, nats: NatsHandles, log: Logger): Promise<HarnessService> {
    const policy: Policy = cfg.policyFile ? await loadPolicyFile(cfg.policyFile) : await defaultPolicy();
    const validator = await createValidator({ policy });
    await ensureLogStream(nats.jsm, { replicas: cfg.replicas });
    await ensureAuditStream(nats.jsm, { replicas: cfg.replicas });
    const kvm = new Kvm(nats.nc);
    const runs = await kvm.create(names.runsBucket, { history: 1, replicas: cfg.replicas });
    await publishPolicy(kvm, validator, { replicas: cfg.replicas, log });
    const approvals = await kvm.create(names.approvalsBucket, { history: 5, replicas: cfg.replicas });
    const svc = new HarnessService(cfg, nats, log, { runs, approvals }, validator);
    svc.#subscribe();
    await nats.nc.flush();
    svc.#monitor = setInterval(() => svc.#track(svc.#rooms.relocator.check()), Math.max(250, Math.floor(cfg.runnerLostMs / 4)));
    svc.#interrupts = resumeInterrupts(svc.#desk, async () => (await svc.#rooms.records.list(false)).map((r) => r.runId), log);
    svc.#expiry = startExpirySweep(svc.#rooms.approvals, validator.policy.governance?.approvalExpiryMs ?? DEFAULT_APPROVAL_EXPIRY_MS, log);
    svc.#rooms.idle.start();
    svc.#egress = new EgressDesk(svc.#ctx, { records: svc.#rooms.records, logs: svc.#rooms.logs, approvals: svc.#rooms.approvals, gate: svc.#rooms.gate });
    svc.#egress.start();
    svc.#logGrants = await startLogGrants(svc.#ctx, { records: svc.#rooms.records, fleet: svc.#rooms.fleet, runnerKeys: svc.#runnerKeys, audit: svc.#rooms.logs.system });
    svc.#heartbeat = startHarnessHeartbeat(svc.#ctx.nats.nc, { startedAt: svc.#startedAt.toISOString() });
    svc.state = 'running';
    log.info({ nats: cfg.natsUrl.replace(/\/\/[^@/,]*@/g, '//'), ...svc.#ready }, 'harness ready');
    return svc;
  }

  /**
   * The API subjects and who answers each; a new handler is one line here. Every request passes the
   * caller gate first: the verb (the subject's last word) must be one the caller's role may call
   * (`governance/access.ts`), and a refusal is audited.
   */
  #subscribe(): void {
    const { nc } = this.#ctx.nats;
    const authority = this.#ctx.cfg.natsAuthorityFile ? NatsAuthority.loadOrCreate(this.#ctx.cfg.natsAuthorityFile) : undefined;
    const readers = new LogReaderDesk(authority, this.#rooms.records, { ttlMs: this.#ctx.cfg.readerTtlMs });
    const sessions = new AgentSessionDesk(authority);
    const serve = <S extends z.ZodType, R>(subject: string, schema: S, handle: (req: z.infer<S>, caller: ApiCaller) => Promise<R>) =>
      nc.subscribe(subject, {
        callback: (err, msg) => {
          if (!err) this.#track(this.#serve(msg, schema, handle));
        },
      });
    this.#subs.push(
      serve(subjects.api.open, ApiOpenRequestSchema, (r, c) => this.open(r, c)),
      serve(subjects.api.exec, ApiExecRequestSchema, (r, c) => this.exec(r, c)),
      serve(subjects.api.close, ApiCloseRequestSchema, (r, c) => this.close(r, c)),
      serve(subjects.api.ps, ApiPsRequestSchema, (r) => this.ps(r)),
      serve(subjects.api.status, ApiPsRequestSchema, () => this.status()),
      serve(subjects.api.bundle, ApiBundleRequestSchema, (r) => this.bundle(r.runId)),
      serve(subjects.api.approvals, ApiApprovalsRequestSchema, (r) => this.approvals(r)),
      serve(subjects.api.decide, ApiDecideRequestSchema, (r, c) => this.decide(r, c)),
      serve(subjects.api.control, ApiControlRequestSchema, (r, c) => this.control(r, c)),
      serve(subjects.api.runState, ApiRunStateRequestSchema, (r, c) => this.runState(r.runId, c)),
      serve(subjects.api.retry, ApiRetryRequestSchema, (r, c) => this.#rooms.retrier.retry(r, c)),
      serve(subjects.api.rollback, ApiRollbackRequestSchema, (r, c) => this.#rooms.rollbacks.handle(r, c)),
      // File tools and long-running processes (files/handler.ts, processes/handlers.ts): an agent only on its own runs.
      serve(subjects.api.file, ApiFileRequestSchema, async (r, c) => (await this.#own(r.runId, c), fileStep(this.#desk, r))),
      serve(subjects.api.poll, ApiPollRequestSchema, async (r, c) => (await this.#own(r.runId, c), poll(this.#desk, r))),
      serve(subjects.api.signal, ApiSignalRequestSchema, async (r, c) => (await this.#own(r.runId, c), signal(this.#desk, r))),
      serve(subjects.api.processes, ApiProcessesRequestSchema, async (r, c) => (await this.#own(r.runId, c), listProcesses(this.#desk, r))),
      serve(subjects.api.diff, ApiDiffRequestSchema, (r, c) => this.diff(r, c)),
      // A NATS user that may read one of the caller's runs' logs (natsauth/reader-desk.ts).
      serve(subjects.api.reader, ApiReaderRequestSchema, (r, c) => readers.handle(r, c)),
      // An agent client's own NATS user, with an inbox no other client may read (natsauth/session-desk.ts).
      serve(subjects.api.session, ApiSessionRequestSchema, (r, c) => sessions.handle(r, c)),
      // A run's workspace after a step, in pieces (snapshots/reads.ts): an agent only on its own runs.
      serve(subjects.api.snapshot, ApiSnapshotReadRequestSchema, async (r, c) => (await this.#own(r.runId, c), this.#rooms.snapshotReads.handle(r, c))),
      nc.subscribe(subjects.runnerHeartbeat, {
        callback: (err, msg) => {
          if (!err) this.#rooms.fleet.heartbeat(msg);
        },
      }),
    );
  }

  /** Keeps a background task until it settles; a rejection is logged (`finally` would re-reject unheard). */
  #track(p: Promise<unknown>): void {
    this.#inFlight.add(p);
    p.then(
      () => this.#inFlight.delete(p),
      (err: unknown) => {
        this.#inFlight.delete(p);
        this.#ctx.log.error({ err }, 'background task failed');
      },
    );
  }

  #serve<S extends z.ZodType, R>(msg: Msg, schema: S, handle: (req: z.infer<S>, caller: ApiCaller) => Promise<R>): Promise<void> {
    const verb = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    return serveRequest(
      msg,
      schema,
      `request on ${msg.subject}`,
      (req) => {
        const runId = typeof (req as { runId?: unknown }).runId === 'string' ? (req as { runId: string }).runId : undefined;
        return this.#rooms.callers.guard(msg, verb, runId, (caller) => handle(req, caller));
      },
      { audit: this.#rooms.logs.system, log: this.#ctx.log },
    );
  }

  async open(req: ApiOpenRequest, caller?: ApiCaller): Promise<RunRecord> {
    if (caller?.role === 'agent' && req.fromSnapshot) await this.#ownSnapshot(req.fromSnapshot, req.fromRun, caller);
    return this.#rooms.lifecycle.open(req, caller);
  }

  /**
   * An agent starts a run only from a snapshot of one of its own runs: the run it names must be its
   * own and its verified log must name that snapshot. A digest alone (another run's workspace, or an
   * import someone else made) is refused.
   */
  async #ownSnapshot(digest: string, fromRun: string | undefined, caller: ApiCaller): Promise<void> {
    if (!fromRun) throw new AirlockError('forbidden', `an agent opens a run from a snapshot of one of its own runs: name that run (fromRun) with the snapshot ${digest.slice(0, 12)}`, { data: { fromSnapshot: digest } });
    await this.#own(fromRun, caller);
    if (!(await this.#rooms.diffs.snapshotsOf(fromRun)).some((s) => s.digest === digest)) {
      throw new AirlockError('forbidden', `run ${fromRun} has no snapshot ${digest.slice(0, 12)}: an agent opens runs only from its own runs' snapshots`, { data: { fromSnapshot: digest, fromRun } });
    }
  }

  /** A step; with `yieldMs`, the process's state after at most that long (processes/handlers.ts). */
  async exec(req: ApiExecRequest, caller?: ApiCaller): Promise<StepResult | ProcessState> {
    if (req.yieldMs === undefined) return this.#rooms.steps.exec(req, caller);
    const { step, result } = await this.#rooms.steps.start(req, caller);
    return yieldStep(this.#desk, req.runId, step, result, req.yieldMs);
  }

  close(req: ApiCloseRequest, caller?: ApiCaller): Promise<RunRecord> {
    return this.#rooms.lifecycle.close(req, caller);
  }

  /** Throws `forbidden` when an agent reaches for a run that is not its own. */
  async #own(runId: string, caller: ApiCaller): Promise<void> {
    authorizeRun(caller, runId, (await this.#rooms.records.get(runId)).record.openedBy?.principal);
  }

  /** An operator's control on a run (pause, resume, cancel, kill, raise); the answer is the run's state after it. */
  control(req: ApiControlRequest, caller: ApiCaller): Promise<RunState> {
    return this.#rooms.governor.control(req, actorOf(caller), { stepInFlight: this.#rooms.steps.inFlight(req.runId)?.step });
  }

  /** A run's state (fold of its log): paused or not and why, budgets and what is used. */
  async runState(runId: string, caller?: ApiCaller): Promise<RunState> {
    const { record } = await this.#rooms.records.get(runId, { fresh: true });
    if (caller) authorizeRun(caller, runId, record.openedBy?.principal);
    return this.#rooms.governor.state(record, { stepInFlight: this.#rooms.steps.inFlight(runId)?.step });
  }

  /** What changed in a run's workspace between two steps; an agent only on its own runs. */
  async diff(req: ApiDiffRequest, caller?: ApiCaller): Promise<ApiDiffResult> {
    if (caller) await this.#own(req.runId, caller);
    return this.#rooms.diffs.diff(req);
  }

  ps(req: ApiPsRequest): Promise<ApiPsResult> {
    return this.#rooms.lifecycle.ps(req);
  }

  bundle(runId: string): Promise<BundleRef> {
    return this.#rooms.bundles.bundle(runId);
  }

  /** Held steps: pending ones, or every record with `all`. */
  approvals(req: ApiApprovalsRequest): Promise<ApiApprovalsResult> {
    return this.#rooms.approvals.approvals(req);
  }

  /** A decision on a held step; `reject_pause` also pauses the run in the decider's name (the decision's `by` in open mode, as the book records it). */
  async decide(req: ApiDecideRequest, caller?: ApiCaller): Promise<Approval> {
    const decided = await this.#rooms.approvals.decide(req, caller);
    if (req.decision === 'reject_pause') await this.#rooms.governor.pauseForDenial(req.runId, req.step, caller && !caller.stated ? actorOf(caller) : { principal: req.by, role: 'operator' }, req.hold);
    return decided;
  }

  status(): Promise<ApiStatusResult> {
    const { validator } = this.#rooms.gate;
    return Promise.resolve({
      harness: {
        pid: process.pid,
        startedAt: this.#startedAt.toISOString(),
        version: `${VERSION} (${hostname()})`,
        policy: validator.policy.name,
        policyHash: validator.policyHash,
        keyId: this.#keyId,
        snapshotsKeepLast: validator.policy.snapshots.keepLast,
      },
      runners: this.#rooms.fleet.live(Date.now()),
    });
  }

  /** Stops answering, waits for requests in flight (up to `deadlineMs`). Idempotent. */
  drain(deadlineMs = 10_000): Promise<void> {
    this.#stopped ??= (async () => {
      this.state = 'draining';
      clearInterval(this.#monitor);
      this.#rooms.idle.stop();
      this.#heartbeat?.stop();
      this.#expiry?.stop();
      this.#egress?.stop();
      this.#interrupter.stop();
      this.#interrupts?.stop();
      for (const s of this.#subs) s.unsubscribe();
      await Promise.race([Promise.allSettled([...this.#inFlight]), new Promise((r) => setTimeout(r, deadlineMs))]);
      await this.#logGrants?.stop().catch((err: unknown) => this.#ctx.log.warn({ err }, 'closing the log grants failed'));
      this.#rooms.snapshotReads.close();
      await this.#rooms.snapshots[Symbol.asyncDispose]().catch((err: unknown) => this.#ctx.log.warn({ err }, 'closing the snapshot store failed'));
      this.state = 'stopped';
    })();
    return this.#stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.drain();
  }
}
