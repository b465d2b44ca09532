import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Msg, Subscription } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { ulid } from 'ulid';
import {
  AirlockError,
  ApiCloseRequestSchema,
  ApiExecRequestSchema,
  ApiOpenRequestSchema,
  ApiPsRequestSchema,
  ApiBundleRequestSchema,
  ApiApprovalsRequestSchema,
  ApiDecideRequestSchema,
  ApprovalSchema,
  PROTOCOL_VERSION,
  RunRecordSchema,
  RunnerCloseResultSchema,
  RunnerHeartbeatSchema,
  RunnerOpenResultSchema,
  StepResultSchema,
  decode,
  encode,
  names,
  decodeReply,
  subjects,
} from '@airlock/proto';
import type {
  ApiCloseRequest,
  ApiExecRequest,
  ApiOpenRequest,
  ApiPsRequest,
  ApiPsResult,
  ApiStatusResult,
  ApiApprovalsRequest,
  ApiApprovalsResult,
  ApiDecideRequest,
  Approval,
  RunRecord,
  RunnerHeartbeat,
  RunnerOpenRequest,
  StepResult,
} from '@airlock/proto';
import { RunLogWriter, ensureAuditStream, ensureLogStream, indexVerdict } from '@airlock/ledger';
import { isNoResponders, isTimeout, serveRequest, type NatsHandles } from '@airlock/transport';
import { createValidator, defaultPolicy, loadPolicyFile, type Policy, type Validator } from '@airlock/validate';
import { canonicalJson } from '@airlock/proto';
import { Redactor, buildBundle, commandHash, newJobClaims, signHarnessLog, signJob } from '@airlock/trust';
import { RunnerKeyStore, readRunnersFile } from './routing/runner-keys.ts';
import { checkRunLog } from './routing/provenance.ts';
import { SnapshotStore, serializeManifest } from '@airlock/snapshot';
import { Objm } from '@nats-io/obj';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { SECRET_PLACEHOLDER, SecretStore, envSecrets, fileSecrets } from './secrets/store.ts';
import { loadOrCreateSigningKey } from './keys.ts';
import { startHarnessHeartbeat } from './heartbeat.ts';
import type { z } from 'zod';
import type { HarnessConfig } from './config.ts';
import type { Logger } from './logger.ts';

const VERSION = '0.1.0';
export type HarnessState = 'starting' | 'running' | 'draining' | 'stopped';

/**
 * The harness: owns run lifecycle and routing. Answers the API subjects for the CLI and SDK,
 * keeps every run's record in a KV bucket (so a restarted harness knows them), and talks to runners.
 * It never talks to Docker.
 */
/**
 * How long after a step's own timeout the harness still waits for its reply: the runner's kill,
 * snapshot, and at worst its log retry (60 s) and log recovery wait (30 s) when NATS was away. A dead
 * runner is noticed sooner, by its heartbeats.
 */
const STEP_REPLY_GRACE_MS = 150_000;

export class HarnessService implements AsyncDisposable {
  state: HarnessState = 'starting';
  readonly #cfg: HarnessConfig;
  readonly #nats: NatsHandles;
  readonly #log: Logger;
  readonly #kv: KV;
  /** Steps held by an `ask` verdict and the operators' decisions: in JetStream, so a restart keeps them. */
  readonly #approvals: KV;
  readonly #writers = new Map<string, RunLogWriter>();
  /** Last known KV entry of each run this harness touched; KV stays the truth (updates compare revisions). */
  readonly #records = new Map<string, { record: RunRecord; revision: number }>();
  readonly #runners = new Map<string, RunnerHeartbeat>();
  /** When each runner's last heartbeat arrived (this process's clock). */
  readonly #seen = new Map<string, number>();
  /** Runners declared lost; a heartbeat from one of them brings it back. */
  readonly #lost = new Set<string>();
  /** Opens in flight, by run id: the runner that said it took each (from heartbeats), and how to abort the wait. */
  readonly #opens = new Map<string, { runnerId?: string; abort: AbortController }>();
  /** Exec requests waiting on a runner, so a lost runner fails them at once. */
  readonly #waiting = new Map<string, { runnerId: string; step: number; abort: AbortController }>();
  /** Runs being moved off a lost runner (one move at a time per run). */
  readonly #moving = new Set<string>();
  #monitor: NodeJS.Timeout | undefined;
  #heartbeat: { stop(): void } | undefined;
  readonly #startedAt = new Date().toISOString();
  readonly #inFlight = new Set<Promise<unknown>>();
  #subs: Subscription[] = [];
  #systemLog: RunLogWriter;
  #stopped: Promise<void> | undefined;
  /** The policy new runs are pinned to, and its validation chain. */
  readonly #validator: Validator;
  readonly #secrets: SecretStore;
  /** Redacts every secret the harness holds from what it writes itself (commands in events). */
  readonly #redactor: Redactor;
  readonly #key: { privateKey: KeyObject; publicKeyRaw: string; keyId: string };
  /** Runners' public keys: secrets are sealed to them, replies, heartbeats and log events checked against them. */
  readonly #runnerKeys: RunnerKeyStore;
  #snapshotStore: Promise<SnapshotStore> | undefined;
  /** The same policy with relative paths resolved against each mount path in use. */
  readonly #byMount = new Map<string, Promise<Validator>>();

  private constructor(cfg: HarnessConfig, nats: NatsHandles, kv: KV, approvals: KV, log: Logger, validator: Validator) {
    this.#cfg = cfg;
    this.#nats = nats;
    this.#kv = kv;
    this.#approvals = approvals;
    this.#log = log;
    this.#validator = validator;
    this.#secrets = new SecretStore([envSecrets(process.env), fileSecrets(cfg.secretsDir, (m) => log.warn(m))]);
    this.#redactor = new Redactor(this.#secrets.all());
    this.#key = loadOrCreateSigningKey(cfg.keyFile, cfg.publicKeyFile);
    this.#runnerKeys = new RunnerKeyStore(cfg.runnersFile ? readRunnersFile(cfg.runnersFile) : undefined, log, { seenFile: join(dirname(cfg.keyFile), 'runners-seen.json') });
    if (!this.#runnerKeys.pinned) log.warn({}, 'no runners file (AIRLOCK_RUNNERS_FILE): runner keys are pinned on first sight; use only with a NATS without per-runner users');
    this.#systemLog = new RunLogWriter(nats.js, nats.jsm, 'system', this.#writerOpts(false));
  }

  static async start(cfg: HarnessConfig, nats: NatsHandles, log: Logger): Promise<HarnessService> {
    const policy: Policy = cfg.policyFile ? await loadPolicyFile(cfg.policyFile) : await defaultPolicy();
    const validator = await createValidator({ policy });
    await ensureLogStream(nats.jsm, { replicas: cfg.replicas });
    await ensureAuditStream(nats.jsm, { replicas: cfg.replicas });
    const kvm = new Kvm(nats.nc);
    const kv = await kvm.create(names.runsBucket, { history: 1, replicas: cfg.replicas });
    // Policies are content-addressed: runners fetch the pinned one by hash and check the hash themselves.
    const policies = await kvm.create(names.policiesBucket, { history: 1, replicas: cfg.replicas });
    await policies.put(validator.policyHash, canonicalJson(policy));
    await ensureDeploymentId(policies, log);
    const approvals = await kvm.create(names.approvalsBucket, { history: 5, replicas: cfg.replicas });
    const svc = new HarnessService(cfg, nats, kv, approvals, log, validator);
    const { nc } = nats;
    const serve = <S extends z.ZodType, R>(subject: string, schema: S, handle: (req: z.infer<S>) => Promise<R>) =>
      nc.subscribe(subject, {
        callback: (err, msg) => {
          if (!err) svc.#track(svc.#serve(msg, schema, handle));
        },
      });
    svc.#subs.push(
      serve(subjects.api.open, ApiOpenRequestSchema, (r) => svc.open(r)),
      serve(subjects.api.exec, ApiExecRequestSchema, (r) => svc.exec(r)),
      serve(subjects.api.close, ApiCloseRequestSchema, (r) => svc.close(r)),
      serve(subjects.api.ps, ApiPsRequestSchema, (r) => svc.ps(r)),
      serve(subjects.api.status, ApiPsRequestSchema, () => svc.status()),
      serve(subjects.api.bundle, ApiBundleRequestSchema, (r) => svc.bundle(r.runId)),
      serve(subjects.api.approvals, ApiApprovalsRequestSchema, (r) => svc.approvals(r)),
      serve(subjects.api.decide, ApiDecideRequestSchema, (r) => svc.decide(r)),
      nc.subscribe(subjects.runnerHeartbeat, {
        callback: (err, msg) => {
          if (err) return;
          try {
            const hb = decode(RunnerHeartbeatSchema, msg.data, 'heartbeat');
            // A heartbeat counts only from the runner itself: anyone on the bus could publish one.
            if (!svc.#runnerKeys.learn(hb.runnerId, hb.keys)) {
              svc.#runnerKeys.warnOnce(hb.runnerId, 'ignored heartbeats of a runner whose keys are not the pinned ones (or not pinned at all)');
              return;
            }
            try {
              svc.#runnerKeys.verify('heartbeat', hb.runnerId, '-', 0, JSON.parse(new TextDecoder().decode(msg.data)));
            } catch {
              svc.#runnerKeys.warnOnce(hb.runnerId, 'ignored a heartbeat not signed by the runner it names');
              return;
            }
            svc.#runners.set(hb.runnerId, hb);
            for (const runId of hb.openingRunIds ?? []) {
              const open = svc.#opens.get(runId);
              if (open) open.runnerId = hb.runnerId;
            }
            svc.#seen.set(hb.runnerId, Date.now());
            svc.#lost.delete(hb.runnerId);
          } catch (e) {
            log.warn({ err: e }, 'ignored a malformed heartbeat');
          }
        },
      }),
    );
    await nc.flush();
    svc.#monitor = setInterval(() => svc.#track(svc.#checkRunners()), Math.max(250, Math.floor(cfg.runnerLostMs / 4)));
    svc.#heartbeat = startHarnessHeartbeat(nc, { startedAt: svc.#startedAt });
    svc.state = 'running';
    log.info({ nats: cfg.natsUrl.replace(/\/\/[^@/,]*@/g, '//'), runnersPinned: svc.#runnerKeys.pinned, policy: policy.name, policyHash: validator.policyHash, keyId: svc.#key.keyId, secrets: svc.#redactor.names.length }, 'harness ready');
    return svc;
  }

  /** Keeps a background task until it settles; a rejection is logged (`finally` would re-reject unheard). */
  #track(p: Promise<unknown>): void {
    this.#inFlight.add(p);
    p.then(
      () => this.#inFlight.delete(p),
      (err: unknown) => {
        this.#inFlight.delete(p);
        this.#log.error({ err }, 'background task failed');
      },
    );
  }

  #serve<S extends z.ZodType, R>(msg: Msg, schema: S, handle: (req: z.infer<S>) => Promise<R>): Promise<void> {
    return serveRequest(msg, schema, `request on ${msg.subject}`, handle, { audit: this.#systemLog, log: this.#log });
  }

  /**
   * Sends a request to a runner and parses its reply; NATS failures become typed errors. `verify`
   * sees the reply's raw `result` (what the runner signed) and the parsed one, and throws to refuse it.
   */
  async #ask<S extends z.ZodType>(
    subject: string,
    body: unknown,
    result: S,
    timeoutMs: number,
    signal?: AbortSignal,
    verify?: (raw: unknown, parsed: z.infer<S>) => void,
  ): Promise<z.infer<S>> {
    let msg: Msg;
    try {
      const request = this.#nats.nc.request(subject, encode(body), { timeout: timeoutMs });
      if (!signal) msg = await request;
      else {
        // When the wait is aborted first, the request still ends later (reply or timeout): it must
        // have a listener, or its rejection goes unhandled and takes the process down.
        request.catch(() => undefined);
        let fail: (() => void) | undefined;
        try {
          msg = await Promise.race([
            request,
            new Promise<never>((_, reject) => {
              fail = () => reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
              if (signal.aborted) fail();
              else signal.addEventListener('abort', fail, { once: true });
            }),
          ]);
        } finally {
          if (fail) signal.removeEventListener('abort', fail);
        }
      }
    } catch (err) {
      if (err instanceof AirlockError) throw err;
      if (isNoResponders(err)) throw new AirlockError('no_runner', `no runner answers on ${subject}`, { cause: err });
      if (isTimeout(err)) throw new AirlockError('timeout', `no reply on ${subject} within ${timeoutMs} ms`, { cause: err });
      throw err;
    }
    const parsed = decodeReply(result, msg.data, `reply on ${subject}`);
    verify?.((JSON.parse(new TextDecoder().decode(msg.data)) as { result?: unknown }).result, parsed);
    return parsed;
  }

  /** Events the harness writes are signed with its key, so a runner cannot write in its name. */
  #writerOpts(expectOthers: boolean): { by: string; expectOthers: boolean; sign: (stored: Uint8Array) => string } {
    const key = this.#key.privateKey;
    return { by: 'harness', expectOthers, sign: (stored) => signHarnessLog(key, stored) };
  }

  #writer(runId: string): RunLogWriter {
    let w = this.#writers.get(runId);
    if (!w) {
      w = new RunLogWriter(this.#nats.js, this.#nats.jsm, runId, this.#writerOpts(true));
      this.#writers.set(runId, w);
    }
    return w;
  }

  async #record(runId: string, opts: { fresh?: boolean } = {}): Promise<{ record: RunRecord; revision: number }> {
    const cached = this.#records.get(runId);
    if (cached && !opts.fresh) return cached;
    const entry = await this.#kv.get(runId);
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) throw new AirlockError('unknown_run', `no run ${runId}; \`./airlock ps\` lists the open runs`);
    const fresh = { record: RunRecordSchema.parse(entry.json()), revision: entry.revision };
    this.#records.set(runId, fresh);
    return fresh;
  }

  /** Writes a run's record if nobody changed it since `revision` (another harness, a concurrent step). */
  async #saveRecord(record: RunRecord, revision: number): Promise<void> {
    const next = await this.#kv.update(record.runId, encode(record), revision);
    this.#records.set(record.runId, { record, revision: next });
  }

  async open(req: ApiOpenRequest): Promise<RunRecord> {
    const runId = ulid();
    const body: RunnerOpenRequest = {
      v: PROTOCOL_VERSION,
      runId,
      image: req.image ?? this.#cfg.defaultImage,
      ...(req.workspace ? { workspace: req.workspace } : {}),
      // The policy's workspace unless the request or the harness's configuration names another.
      mountPath: req.mountPath ?? this.#cfg.mountPath ?? this.#validator.policy.workspace,
      env: req.env ?? {},
      limits: this.#limits(),
      runtime: this.#validator.policy.runtime,
      network: 'none',
      policyHash: this.#validator.policyHash,
      ...(req.fromSnapshot ? { fromSnapshot: req.fromSnapshot } : {}),
    };
    const opened = await this.#openOnSomeRunner(body);
    const record: RunRecord = {
      runId,
      runnerId: opened.runnerId,
      status: 'open',
      image: body.image,
      workspace: opened.workspace,
      mountPath: body.mountPath,
      openedAt: new Date().toISOString(),
      steps: 0,
      policyHash: this.#validator.policyHash,
      ...(req.fromSnapshot ? { fromSnapshot: req.fromSnapshot } : {}),
      ...(req.replayOf ? { replayOf: req.replayOf } : {}),
      env: req.env ?? {},
      moves: 0,
    };
    const revision = await this.#kv.create(runId, encode(record));
    this.#records.set(runId, { record, revision });
    this.#log.info({ runId, runnerId: opened.runnerId }, 'run opened');
    return record;
  }

  /**
   * Offers a run to the runners' queue group until one with a free slot takes it. A full runner
   * answers `capacity_exhausted`; the offer is repeated with backoff until `openTimeoutMs`, then the
   * caller gets that error: open requests wait (bounded) instead of overloading a runner.
   */
  async #openOnSomeRunner(body: RunnerOpenRequest) {
    const deadline = Date.now() + this.#cfg.openTimeoutMs;
    let delay = 100;
    for (;;) {
      // A runner that takes the run says so in its heartbeat; if it is lost before it answers, the
      // wait is aborted and the run offered again.
      const open = { abort: new AbortController() } as { runnerId?: string; abort: AbortController };
      this.#opens.set(body.runId, open);
      try {
        // Once a runner took the run, preparing the workspace (ownership, first snapshot) may take a while.
        // Any runner may answer the shared open subject: the reply counts only if signed by the runner it names.
        return await this.#ask(subjects.runnerOpen, body, RunnerOpenResultSchema, this.#cfg.openRequestTimeoutMs, open.abort.signal, (raw, opened) => {
          if (!this.#runnerKeys.learn(opened.runnerId, opened.keys)) {
            throw new AirlockError('verification_failed', `runner ${opened.runnerId} answered the open of run ${body.runId} with keys that are not ${this.#runnerKeys.pinned ? 'pinned' : 'the ones it used before'}; refused`);
          }
          this.#runnerKeys.verify('open', opened.runnerId, body.runId, 0, raw);
          if (opened.runId !== body.runId) throw new AirlockError('verification_failed', `runner ${opened.runnerId} answered the open of run ${body.runId} for run ${opened.runId}`);
        });
      } catch (err) {
        const retry = err instanceof AirlockError && (err.code === 'capacity_exhausted' || err.code === 'no_runner' || err.code === 'runner_lost');
        if (!retry || Date.now() + delay > deadline) {
          if (err instanceof AirlockError && err.code === 'no_runner') {
            throw new AirlockError('no_runner', 'no runner is connected to this NATS; start one (`./airlock up` starts one with the harness)', { cause: err });
          }
          throw err;
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 1000);
      } finally {
        this.#opens.delete(body.runId);
      }
    }
  }

  async exec(req: ApiExecRequest): Promise<StepResult> {
    let step = 0;
    let record: RunRecord | undefined;
    // Compare-and-set on the record numbers steps without gaps even with concurrent callers; a stale
    // cached revision costs one re-read.
    for (const fresh of [false, true]) {
      const current = await this.#record(req.runId, { fresh });
      record = current.record;
      if (record.status !== 'open') throw new AirlockError('run_closed', `run ${req.runId} was closed at ${record.closedAt ?? '?'}`);
      step = record.steps + 1;
      try {
        await this.#saveRecord({ ...record, steps: step }, current.revision);
        break;
      } catch (cause) {
        this.#records.delete(req.runId);
        if (fresh) throw new AirlockError('run_busy', `run ${req.runId} changed while this step was being numbered; steps of one run are serial`, { cause });
      }
    }
    if (!record) throw new AirlockError('internal', 'unreachable');
    const log = this.#writer(req.runId);
    const asked = Object.values(req.env ?? {}).flatMap((v) => SECRET_PLACEHOLDER.exec(v)?.[1] ?? []);
    await log.append({ type: 'step.requested', step, cmd: this.#redactor.redactString(req.cmd), ...(asked.length ? { secrets: asked } : {}) });
    const { commands, approved } = await this.#decide(req.runId, step, req.cmd, record.policyHash, record.mountPath);
    const { env, secrets } = this.#secrets.resolve(req.env ?? {}, this.#validator.policy.secrets, commands);
    const timeoutMs = req.timeoutMs ?? this.#cfg.stepTimeoutMs ?? this.#validator.policy.limits.stepTimeoutMs;
    let result: StepResult;
    const abort = new AbortController();
    this.#waiting.set(req.runId, { runnerId: record.runnerId, step, abort });
    const holder = record.runnerId;
    try {
      result = await this.#ask(
        subjects.runnerExec(record.runnerId),
        {
          v: PROTOCOL_VERSION,
          runId: req.runId,
          step,
          cmd: req.cmd,
          env,
          // Only the runner that holds the run can open them.
          ...(Object.keys(secrets).length > 0 ? { sealed: this.#runnerKeys.seal(record.runnerId, secrets, { runId: req.runId, step }) } : {}),
          timeoutMs,
          policyHash: record.policyHash,
          token: signJob(newJobClaims({ runId: req.runId, step, policyHash: record.policyHash, cmd: req.cmd, ...(approved ? { approved } : {}) }), this.#key.privateKey),
        },
        StepResultSchema,
        timeoutMs + STEP_REPLY_GRACE_MS,
        abort.signal,
        (raw) => this.#runnerKeys.verify('exec', holder, req.runId, step, raw),
      );
    } catch (err) {
      if (err instanceof AirlockError && err.code === 'no_runner') {
        throw new AirlockError('runner_lost', `runner ${record.runnerId} that holds run ${req.runId} is not answering`, { cause: err });
      }
      throw err;
    } finally {
      this.#waiting.delete(req.runId);
    }
    return result;
  }

  /** Sandbox limits of new runs: the config's when set, else the policy's. */
  #limits() {
    const l = this.#cfg.limits ?? this.#validator.policy.limits;
    return { memoryBytes: l.memoryBytes, pids: l.pids, nanoCpus: l.nanoCpus, tmpfsBytes: l.tmpfsBytes };
  }

  /**
   * Runs the validation chain on a step's command, records the verdict in the run's log and the
   * audit index, and throws unless it is `allow`: `deny` and `ask` never reach a runner. A run pinned
   * to a policy this harness does not hold is refused (fail closed), never validated under another.
   */
  #validatorFor(mountPath: string): Promise<Validator> {
    let v = this.#byMount.get(mountPath);
    if (!v) {
      v = createValidator({ policy: { ...this.#validator.policy, workspace: mountPath } });
      // A failed load is not kept: the next open tries again instead of failing forever.
      v.catch(() => this.#byMount.delete(mountPath));
      this.#byMount.set(mountPath, v);
    }
    return v;
  }

  async #decide(
    runId: string,
    step: number,
    cmd: string,
    pinnedHash: string,
    mountPath: string,
  ): Promise<{ commands: readonly string[]; approved?: { step: number; by: string } }> {
    const v = this.#validator;
    const checked =
      pinnedHash === v.policyHash
        ? (await this.#validatorFor(mountPath)).validate(cmd)
        : { verdict: 'deny' as const, rule: 'policy.mismatch', reason: `the run is pinned to policy ${pinnedHash.slice(0, 12)}, this harness enforces ${v.policyHash.slice(0, 12)}` };
    // An `ask` an operator approved for this exact command in this run lets it through, once.
    const approval = checked.verdict === 'ask' ? await this.#useApproval(runId, cmd, step) : null;
    const verdict = approval
      ? { ...checked, verdict: 'allow' as const, reason: `approved by ${approval.decidedBy} (held as step ${approval.step})${approval.note ? `: ${approval.note}` : ''}; the check said: ${checked.reason}` }
      : checked;
    const event = await this.#writer(runId).append({
      type: 'step.verdict',
      step,
      cmd: this.#redactor.redactString(cmd),
      verdict: verdict.verdict,
      rule: verdict.rule,
      reason: verdict.reason,
      ...('span' in verdict && verdict.span ? { span: { start: verdict.span.start, end: verdict.span.end } } : {}),
      policyHash: pinnedHash,
    });
    if (event.type === 'step.verdict') {
      await indexVerdict(this.#nats.js, event).catch((err: unknown) => this.#log.error({ err, runId, step }, 'could not index a verdict'));
    }
    const commands = 'commands' in verdict ? verdict.commands : [];
    if (verdict.verdict === 'allow') return { commands, ...(approval ? { approved: { step: approval.step, by: approval.decidedBy ?? '?' } } : {}) };
    const data = { step, verdict: verdict.verdict, rule: verdict.rule, reason: verdict.reason, ...('span' in verdict && verdict.span ? { span: verdict.span } : {}) };
    if (verdict.verdict === 'ask') {
      await this.#hold({ runId, step, cmd: this.#redactor.redactString(cmd), cmdSha256: commandHash(cmd), rule: verdict.rule, reason: verdict.reason, requestedAt: new Date().toISOString(), status: 'pending' });
      throw new AirlockError(
        'validation_ask',
        `step ${step} is held for approval (${verdict.rule}): ${verdict.reason}. An operator approves it with \`airlock approve ${runId} ${step}\`; then the same command runs once`,
        { data },
      );
    }
    throw new AirlockError('validation_denied', `step ${step} was denied (${verdict.rule}): ${verdict.reason}`, { data });
  }

  /** Records a step held by an `ask` verdict (pending until an operator decides). */
  async #hold(approval: Approval): Promise<void> {
    await this.#approvals.put(`${approval.runId}.${approval.step}`, encode(approval));
  }

  /**
   * Finds an approved, unused approval of this exact command in this run and marks it used by `step`
   * (compare-and-set, so two concurrent execs cannot both use one approval). Null when there is none.
   */
  async #useApproval(runId: string, cmd: string, step: number): Promise<Approval | null> {
    const sha = commandHash(cmd);
    for (const { approval, revision } of await this.#listApprovals(runId)) {
      if (approval.status !== 'approved' || approval.cmdSha256 !== sha) continue;
      try {
        await this.#approvals.update(`${runId}.${approval.step}`, encode({ ...approval, status: 'used', usedByStep: step }), revision);
        return approval;
      } catch {
        // Used by a concurrent exec in between: look for another.
      }
    }
    return null;
  }

  async #listApprovals(runId?: string): Promise<Array<{ approval: Approval; revision: number }>> {
    const keys: string[] = [];
    for await (const k of await this.#approvals.keys(runId ? `${runId}.*` : '>')) keys.push(k);
    const out: Array<{ approval: Approval; revision: number }> = [];
    for (const k of keys) {
      const e = await this.#approvals.get(k);
      if (e && e.operation === 'PUT') out.push({ approval: decode(ApprovalSchema, e.value, 'approval'), revision: e.revision });
    }
    return out.sort((a, b) => a.approval.requestedAt.localeCompare(b.approval.requestedAt) || a.approval.step - b.approval.step);
  }

  /**
   * A closed run's held steps and unused approvals can no longer run: they expire (kept as records).
   * A record decided concurrently is read again; a failure is logged, never dropped silently (the
   * exec path refuses closed runs anyway, so a record left pending cannot run a step).
   */
  async #expireApprovals(runId: string, reason: string): Promise<void> {
    let held: Array<{ approval: Approval; revision: number }>;
    try {
      held = await this.#listApprovals(runId);
    } catch (err) {
      this.#log.error({ err, runId }, 'could not list the approvals of a closed run to expire them');
      return;
    }
    for (let { approval, revision } of held) {
      const key = `${runId}.${approval.step}`;
      for (let attempt = 1; ; attempt++) {
        if (approval.status !== 'pending' && approval.status !== 'approved') break;
        const expired: Approval = { ...approval, status: 'expired', note: `${approval.note ? `${approval.note}; ` : ''}the run was closed (${reason})` };
        try {
          await this.#approvals.update(key, encode(expired), revision);
          break;
        } catch (err) {
          const fresh = attempt < 3 ? await this.#approvals.get(key).catch(() => null) : null;
          if (!fresh || fresh.operation !== 'PUT') {
            this.#log.error({ err, runId, step: approval.step }, 'could not expire an approval of a closed run');
            break;
          }
          approval = decode(ApprovalSchema, fresh.value, 'approval');
          revision = fresh.revision;
        }
      }
    }
  }

  /** Held steps: pending ones, or every record with `all`. */
  async approvals(req: ApiApprovalsRequest): Promise<ApiApprovalsResult> {
    const all = await this.#listApprovals(req.runId);
    return { approvals: all.map((a) => a.approval).filter((a) => req.all || a.status === 'pending') };
  }

  /**
   * An operator approves or rejects a held step; the decision goes to the run's log (`step.decided`)
   * and to the approvals bucket. Only a pending step can be decided, once.
   */
  async decide(req: ApiDecideRequest): Promise<Approval> {
    const key = `${req.runId}.${req.step}`;
    const entry = await this.#approvals.get(key);
    if (!entry || entry.operation !== 'PUT') throw new AirlockError('unknown_approval', `step ${req.step} of run ${req.runId} is not held for approval`);
    const held = decode(ApprovalSchema, entry.value, 'approval');
    if (held.status !== 'pending') throw new AirlockError('already_decided', `step ${req.step} of run ${req.runId} was already ${held.status}${held.decidedBy ? ` by ${held.decidedBy}` : ''}`);
    const decided: Approval = {
      ...held,
      status: req.decision === 'approve' ? 'approved' : 'rejected',
      decidedBy: req.by,
      decidedAt: new Date().toISOString(),
      ...(req.note ? { note: req.note } : {}),
    };
    try {
      await this.#approvals.update(key, encode(decided), entry.revision);
    } catch (cause) {
      throw new AirlockError('already_decided', `step ${req.step} of run ${req.runId} was decided by someone else just now`, { cause });
    }
    await this.#writer(req.runId).append({ type: 'step.decided', step: req.step, decision: decided.status === 'approved' ? 'approved' : 'rejected', decidedBy: req.by, ...(req.note ? { note: req.note } : {}) });
    this.#log.info({ runId: req.runId, step: req.step, decision: decided.status, by: req.by }, 'held step decided');
    return decided;
  }

  /**
   * Declares runners lost whose heartbeats stopped, fails their in-flight steps (`step.lost`), and
   * moves each of their open runs to another runner, which restores the run's last snapshot into a
   * fresh sandbox. Runs pinned to runners this harness never heard from (it restarted, they died
   * meanwhile) are moved too, after a grace period.
   */
  async #checkRunners(): Promise<void> {
    const now = Date.now();
    const lostNow: string[] = [];
    for (const [id, at] of this.#seen) {
      if (!this.#lost.has(id) && now - at > this.#cfg.runnerLostMs) {
        this.#lost.add(id);
        lostNow.push(id);
        this.#log.warn({ runnerId: id, silentMs: now - at }, 'runner lost');
        // Opens this runner took and never answered: offer them again (to the runners still alive).
        for (const [runId, open] of this.#opens) {
          if (open.runnerId === id) open.abort.abort(new AirlockError('runner_lost', `runner ${id} was lost while preparing run ${runId}`));
        }
      }
    }
    const sinceStart = now - Date.parse(this.#startedAt);
    const scanUnknown = sinceStart > 2 * this.#cfg.runnerLostMs && now - this.#lastScan > 5000;
    if (lostNow.length === 0 && !scanUnknown) return;
    if (scanUnknown) this.#lastScan = now;
    const { runs } = await this.ps({ v: PROTOCOL_VERSION });
    for (const r of runs) {
      const gone = this.#lost.has(r.runnerId) || (scanUnknown && !this.#seen.has(r.runnerId));
      if (!gone || this.#moving.has(r.runId)) continue;
      const reason = this.#seen.has(r.runnerId) ? `no heartbeat for over ${this.#cfg.runnerLostMs} ms` : 'never heard from since the harness started';
      this.#track(this.#moveRun(r.runId, r.runnerId, reason));
    }
  }
  #lastScan = 0;

  async #moveRun(runId: string, lostRunner: string, reason: string): Promise<void> {
    this.#moving.add(runId);
    const log = this.#writer(runId);
    try {
      await log.append({ type: 'runner.lost', runnerId: lostRunner, reason });
      const waiting = this.#waiting.get(runId);
      if (waiting && waiting.runnerId === lostRunner) {
        await log.append({ type: 'step.lost', step: waiting.step, runnerId: lostRunner, reason });
        waiting.abort.abort(new AirlockError('runner_lost', `runner ${lostRunner} was lost during step ${waiting.step} (${reason}); the run moves to another runner from its last snapshot`));
      }
      const { record } = await this.#record(runId, { fresh: true });
      if (record.status !== 'open' || record.runnerId !== lostRunner) return;
      let last: { step: number; digest: string } | undefined;
      // Only a snapshot the run's holder itself logged is restored: another runner could append one.
      for (const { event: e, forged } of await this.#checkedLog(runId, record.runnerId)) {
        if (e.type === 'snapshot.created' && !forged) last = { step: e.step, digest: e.digest };
      }
      if (!last) {
        await this.#fail(record, `runner ${lostRunner} was lost and the run has no snapshot to restore`);
        return;
      }
      const body: RunnerOpenRequest = {
        v: PROTOCOL_VERSION,
        runId,
        image: record.image,
        mountPath: record.mountPath,
        env: record.env,
        limits: this.#limits(),
        runtime: this.#validator.policy.runtime,
        network: 'none',
        policyHash: record.policyHash,
        fromSnapshot: last.digest,
        resume: { previousRunner: lostRunner, afterStep: last.step, reason: `runner ${lostRunner} lost: ${reason}` },
      };
      let opened;
      try {
        opened = await this.#openOnSomeRunner(body);
      } catch (err) {
        await this.#fail(record, `runner ${lostRunner} was lost and no runner could take the run: ${(err as Error).message}`);
        return;
      }
      const current = await this.#record(runId, { fresh: true });
      await this.#saveRecord({ ...current.record, runnerId: opened.runnerId, workspace: opened.workspace, moves: current.record.moves + 1 }, current.revision);
      this.#log.info({ runId, from: lostRunner, to: opened.runnerId, afterStep: last.step }, 'run moved');
    } catch (err) {
      this.#log.error({ err, runId }, 'could not move a run off a lost runner');
    } finally {
      this.#moving.delete(runId);
    }
  }

  /**
   * Builds the proof bundle of a run: its events exactly as stored, the manifests of its snapshots,
   * the pinned policy, signed with the harness key. Stored in the bundles object store (a bundle may
   * be far larger than a NATS message); the CLI downloads it.
   */
  async bundle(runId: string): Promise<{ runId: string; object: string; bytes: number; events: number; keyId: string }> {
    const { record } = await this.#record(runId, { fresh: true });
    // A bundle vouches for its events: one written by someone who may not write this run is refused.
    const checked = await this.#checkedLog(runId, record.runnerId);
    const forged = checked.filter((c) => c.forged);
    if (forged.length > 0) {
      this.#log.error({ runId, forged: forged.map((f) => ({ seq: f.event.seq, by: f.event.by, why: f.forged })) }, 'run log holds events its writers could not have written');
      throw new AirlockError('verification_failed', `the log of run ${runId} holds ${forged.length} event(s) not written by the harness or the runner holding the run: ${forged.map((f) => `#${f.event.seq} by ${f.event.by} (${f.forged})`).join('; ')}`, {
        data: { forged: forged.map((f) => ({ seq: f.event.seq, by: f.event.by, reason: f.forged })) },
      });
    }
    const events = checked.map((c) => c.bytes);
    if (!this.#snapshotStore) {
      const opening = SnapshotStore.open(this.#nats.nc, { replicas: this.#cfg.replicas });
      // A store that could not be opened (NATS away) is not cached: the next bundle tries again.
      opening.catch(() => {
        if (this.#snapshotStore === opening) this.#snapshotStore = undefined;
      });
      this.#snapshotStore = opening;
    }
    const store = await this.#snapshotStore;
    const manifests: Record<string, Uint8Array> = {};
    for (const bytes of events) {
      const e = JSON.parse(new TextDecoder().decode(bytes)) as { type?: string; digest?: string; fromSnapshot?: string };
      for (const d of [e.type === 'snapshot.created' ? e.digest : undefined, e.fromSnapshot]) {
        if (d && !manifests[d]) manifests[d] = serializeManifest(await store.getManifest(d));
      }
    }
    const policies = await new Kvm(this.#nats.nc).open(names.policiesBucket);
    const policyText = (await policies.get(record.policyHash))?.string();
    if (!policyText) throw new AirlockError('internal', `policy ${record.policyHash} of run ${runId} is not in the policy bucket`);
    const bundle = buildBundle({ runId, events, manifests, policyText, policyHash: record.policyHash }, this.#key.privateKey);
    const text = JSON.stringify(bundle);
    const objm = new Objm(this.#nats.nc);
    const bucket = await objm.create(names.bundlesBucket, { replicas: this.#cfg.replicas });
    const object = `${runId}-${Date.now()}`;
    await bucket.putBlob({ name: object }, new TextEncoder().encode(text));
    return { runId, object, bytes: text.length, events: events.length, keyId: this.#key.keyId };
  }

  /** A run's log with each event's writer checked against the harness key and the run's holders. */
  #checkedLog(runId: string, holder: string) {
    return checkRunLog(this.#nats, runId, { holder, harnessKey: createPublicKey(this.#key.privateKey), runners: this.#runnerKeys });
  }

  /** Ends a run that cannot go on, with the reason in its log and record. */
  async #fail(record: RunRecord, reason: string): Promise<void> {
    await this.#writer(record.runId).append({ type: 'run.closed', reason });
    await this.#kv.put(record.runId, encode({ ...record, status: 'closed', closedAt: new Date().toISOString(), closeReason: reason }));
    this.#records.delete(record.runId);
    await this.#expireApprovals(record.runId, reason);
    this.#log.warn({ runId: record.runId, reason }, 'run failed');
  }

  async close(req: ApiCloseRequest): Promise<RunRecord> {
    const { record } = await this.#record(req.runId, { fresh: true });
    if (record.status === 'closed') return record;
    let loggedByRunner = true;
    try {
      await this.#ask(subjects.runnerClose(record.runnerId), { v: PROTOCOL_VERSION, runId: req.runId, reason: 'closed by request' }, RunnerCloseResultSchema, 60_000, undefined, (raw) =>
        this.#runnerKeys.verify('close', record.runnerId, req.runId, 0, raw),
      );
    } catch (err) {
      // The runner is gone or forgot the run: the run is closed all the same, and the log says why.
      if (!(err instanceof AirlockError) || !['no_runner', 'unknown_run', 'timeout'].includes(err.code)) throw err;
      loggedByRunner = false;
      this.#log.warn({ runId: req.runId, err }, 'runner did not close the run');
    }
    const closed: RunRecord = { ...record, status: 'closed', closedAt: new Date().toISOString(), closeReason: 'closed by request' };
    if (!loggedByRunner) await this.#writer(req.runId).append({ type: 'run.closed', reason: `closed by request; runner ${record.runnerId} did not answer` });
    await this.#kv.put(req.runId, encode(closed));
    this.#writers.delete(req.runId);
    this.#records.delete(req.runId);
    await this.#expireApprovals(req.runId, 'closed by request');
    return closed;
  }

  async ps(req: ApiPsRequest): Promise<ApiPsResult> {
    const runs: RunRecord[] = [];
    for await (const key of await this.#kv.keys()) {
      const entry = await this.#kv.get(key);
      if (!entry || entry.operation !== 'PUT' || entry.length === 0) continue;
      const parsed = RunRecordSchema.safeParse(entry.json());
      if (parsed.success && (req.all || parsed.data.status === 'open')) runs.push(parsed.data);
    }
    runs.sort((a, b) => a.runId.localeCompare(b.runId));
    return { runs };
  }

  async status(): Promise<ApiStatusResult> {
    const now = Date.now();
    return {
      harness: {
        pid: process.pid,
        startedAt: this.#startedAt,
        version: `${VERSION} (${hostname()})`,
        policy: this.#validator.policy.name,
        policyHash: this.#validator.policyHash,
        keyId: this.#key.keyId,
        snapshotsKeepLast: this.#validator.policy.snapshots.keepLast,
      },
      runners: [...this.#runners.values()]
        // One rule for liveness: what `#checkRunners` would not declare lost (receipt time, not the runner's clock).
        .filter((hb) => now - (this.#seen.get(hb.runnerId) ?? 0) <= this.#cfg.runnerLostMs)
        .map((hb) => ({ runnerId: hb.runnerId, slots: hb.slots, used: hb.used, seenAt: hb.ts })),
    };
  }

  /** Stops answering, waits for requests in flight (up to `deadlineMs`). Idempotent. */
  drain(deadlineMs = 10_000): Promise<void> {
    this.#stopped ??= (async () => {
      this.state = 'draining';
      clearInterval(this.#monitor);
      this.#heartbeat?.stop();
      for (const s of this.#subs) s.unsubscribe();
      await Promise.race([Promise.allSettled([...this.#inFlight]), new Promise((r) => setTimeout(r, deadlineMs))]);
      this.state = 'stopped';
    })();
    return this.#stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.drain();
  }
}

/**
 * The deployment id, chosen once by the first harness on this NATS and kept in the policies bucket
 * (which only the harness writes and every runner reads). `create` writes only when the key is
 * absent, so two harnesses starting together agree on one id.
 */
async function ensureDeploymentId(policies: KV, log: Logger): Promise<void> {
  const have = await policies.get(names.deploymentKey);
  if (have && have.operation === 'PUT' && have.length > 0) return;
  const id = randomBytes(8).toString('hex');
  try {
    await policies.create(names.deploymentKey, id);
    log.info({ deployment: id }, 'recorded a new deployment id');
  } catch (err) {
    // Another harness recorded one first: that one stands.
    const now = await policies.get(names.deploymentKey);
    if (!now || now.length === 0) throw err;
  }
}
