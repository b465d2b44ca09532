import { createHash } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { z } from 'zod';
import {
  AirlockError,
  MAX_CHUNK_BYTES,
  PROTOCOL_VERSION,
  RunnerCloseRequestSchema,
  RunnerExecRequestSchema,
  RunnerOpenRequestSchema,
  encode,
  names,
  subjects,
  outputFields,
} from '@airlock/proto';
import type {
  RunnerCloseRequest,
  RunnerCloseResult,
  RunnerExecRequest,
  RunnerHeartbeat,
  RunnerOpenRequest,
  RunnerOpenResult,
  SandboxLimits,
  StepResult,
} from '@airlock/proto';
import { RunLogWriter, serveRequest, ensureAuditStream, ensureLogStream, indexVerdict, type NatsHandles } from '@airlock/ledger';
import { Kvm, type KV } from '@nats-io/kv';
import { PolicySchema, createValidator, policyHash, type Validator } from '@airlock/validate';
import { SnapshotStore, type SnapshotState } from '@airlock/snapshot';
import { JobVerifier, Redactor, TokenError, commandHash, importPublicKey, type JobClaims } from '@airlock/trust';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerClient, ContainerState, ExecHandle, ExecSpec } from './docker/client.ts';
import { labels } from './docker/labels.ts';
import { pumpChunks } from './exec/chunker.ts';
import type { Frame } from './docker/demux.ts';
import { SANDBOX_GID, SANDBOX_UID, chownTree, prepareWorkspace, releaseWorkspace, type PreparedWorkspace } from './workspace.ts';
import type { RunnerConfig } from './config.ts';
import { RunnerKeyring } from './identity.ts';
import type { Logger } from './logger.ts';

/** Grace after a step's timeout before the runner kills the whole sandbox as a backstop. */
const BACKSTOP_GRACE_MS = 5000;
/** `timeout` sends TERM at the deadline, then KILL this many seconds later. */
const KILL_AFTER_S = 2;
/** Environment every sandbox gets; nothing of the runner's own environment is passed. */
const BASE_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/tmp', LANG: 'C.UTF-8', PAGER: 'cat', GIT_PAGER: 'cat' } as const;

interface LiveRun {
  runId: string;
  image: string;
  mountPath: string;
  env: Record<string, string>;
  limits: SandboxLimits;
  workspace: PreparedWorkspace;
  /** null: the sandbox died; the next step starts a fresh one on the same workspace. */
  containerId: string | null;
  containerSeq: number;
  busy: boolean;
  log: RunLogWriter;
  /** The run's pinned policy hash and its validation chain (workspace = the run's mount path). */
  policyHash: string;
  validator: Validator;
  /** Stat cache of the last snapshot: the next one hashes only what changed. */
  snap: SnapshotState | undefined;
}

export type RunnerState = 'starting' | 'running' | 'draining' | 'stopped';

/**
 * The runner's NATS service: takes new runs from the queue group while it has free slots, executes
 * steps of the runs it holds, streams their output into the run log, and reaps orphans at start.
 */
export class RunnerService implements AsyncDisposable {
  state: RunnerState = 'starting';
  readonly #cfg: RunnerConfig;
  readonly #nats: NatsHandles;
  readonly #docker: ContainerClient;
  readonly #log: Logger;
  readonly #runs = new Map<string, LiveRun>();
  readonly #oomSeen = new Map<string, number>();
  /** Containers the engine reported dead (events), until their run replaces them. */
  readonly #died = new Set<string>();
  #opening = 0;
  readonly #openingIds = new Set<string>();
  #inFlight = new Set<Promise<unknown>>();
  #subs: Subscription[] = [];
  #heartbeat: NodeJS.Timeout | undefined;
  #events = new AbortController();
  #systemLog: RunLogWriter;
  #stopped: Promise<void> | undefined;
  #policies: KV | undefined;
  #runsKv: KV | undefined;
  #deployment = '';
  #verifier!: JobVerifier;
  #sweeper: NodeJS.Timeout | undefined;
  #snapshots!: SnapshotStore;
  readonly #validators = new Map<string, Promise<Validator>>();

  /** This runner's keys: signs replies, heartbeats and log events; opens sealed secrets. */
  readonly #keys: RunnerKeyring;

  private constructor(cfg: RunnerConfig, nats: NatsHandles, docker: ContainerClient, log: Logger, keys: RunnerKeyring) {
    this.#cfg = cfg;
    this.#nats = nats;
    this.#docker = docker;
    this.#log = log;
    this.#keys = keys;
    this.#systemLog = new RunLogWriter(nats.js, nats.jsm, 'system', this.#writerOpts);
  }

  /** Every event this runner writes is signed with its key; the harness checks it against the run's holder. */
  get #writerOpts(): { by: string; sign: (stored: Uint8Array) => string } {
    return { by: this.#by, sign: this.#keys.signLog };
  }

  get #by(): string {
    return `runner:${this.#cfg.runnerId}`;
  }

  /** Connects the pieces, reaps orphans, then starts taking work. */
  static async start(cfg: RunnerConfig, nats: NatsHandles, docker: ContainerClient, log: Logger, keys?: RunnerKeyring): Promise<RunnerService> {
    if (keys && keys.runnerId !== cfg.runnerId) throw new Error(`the identity is runner ${keys.runnerId}, the config says ${cfg.runnerId}`);
    const svc = new RunnerService(cfg, nats, docker, log, keys ?? RunnerKeyring.local(cfg.stateDir, cfg.runnerId));
    await docker.ping();
    svc.#verifier = new JobVerifier(importPublicKey(await readHarnessKey(cfg.harnessKey, log)));
    await ensureLogStream(nats.jsm, { replicas: cfg.replicas });
    await ensureAuditStream(nats.jsm, { replicas: cfg.replicas });
    svc.#policies = await waitForBucket(nats, names.policiesBucket, log);
    svc.#runsKv = await waitForBucket(nats, names.runsBucket, log);
    const runsStream = await nats.jsm.streams.info(`KV_${names.runsBucket}`);
    svc.#deployment = createHash('sha256').update(runsStream.created).digest('hex').slice(0, 16);
    svc.#snapshots = await SnapshotStore.open(nats.nc, { cacheDir: join(cfg.stateDir, 'blob-cache'), replicas: cfg.replicas });
    await svc.#reapOrphans();
    void docker.events(svc.#events.signal, (e) => {
      if (e.action === 'oom') svc.#oomSeen.set(e.containerId, Date.now());
      if (e.action === 'die') svc.#died.add(e.containerId);
    });
    const { nc } = nats;
    svc.#subs.push(
      nc.subscribe(subjects.runnerOpen, { queue: names.runnerQueue, callback: (err, msg) => {
          if (!err) svc.#track(svc.#onOpen(msg));
        } }),
      nc.subscribe(subjects.runnerExec(cfg.runnerId), { callback: (err, msg) => {
          if (!err) svc.#track(svc.#onExec(msg));
        } }),
      nc.subscribe(subjects.runnerClose(cfg.runnerId), { callback: (err, msg) => {
          if (!err) svc.#track(svc.#onClose(msg));
        } }),
    );
    await nc.flush();
    svc.#beat();
    svc.#heartbeat = setInterval(() => svc.#beat(), cfg.heartbeatMs);
    svc.#sweeper = setInterval(() => svc.#track(svc.#sweep().catch((err: unknown) => log.warn({ err }, 'sweep failed'))), 15_000);
    svc.state = 'running';
    log.info({ slots: cfg.slots }, 'runner ready');
    return svc;
  }

  /** Live run ids. */
  get runIds(): string[] {
    return [...this.#runs.keys()];
  }

  #track(p: Promise<unknown>): void {
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }

  #beat(): void {
    const hb: RunnerHeartbeat = {
      v: PROTOCOL_VERSION,
      runnerId: this.#cfg.runnerId,
      slots: this.#cfg.slots,
      used: this.#runs.size + this.#opening,
      runIds: this.runIds,
      openingRunIds: [...this.#openingIds],
      ts: new Date().toISOString(),
      keys: this.#keys.keys,
    };
    try {
      this.#nats.nc.publish(subjects.runnerHeartbeat, encode(this.#keys.sign('heartbeat', '-', 0, hb)));
    } catch (err) {
      this.#log.warn({ err }, 'heartbeat not sent');
    }
  }

  /** Runs a request handler: decode, handle, reply; any failure becomes a typed error reply. */
  #serve<S extends z.ZodType, R>(msg: Msg, schema: S, what: string, handle: (req: z.infer<S>) => Promise<R>): Promise<void> {
    return serveRequest(msg, schema, what, handle, { audit: this.#systemLog, log: this.#log });
  }

  #onOpen(msg: Msg): Promise<void> {
    // A full runner does not answer: the queue group gives the request to another member on retry.
    return this.#serve(msg, RunnerOpenRequestSchema, 'run open request', async (req) => this.#keys.sign('open', req.runId, 0, { ...(await this.openRun(req)), keys: this.#keys.keys }));
  }

  #onExec(msg: Msg): Promise<void> {
    // Secrets arrive sealed to this runner's key; the step path sees them opened in `req.secrets`.
    return this.#serve(msg, RunnerExecRequestSchema, 'exec request', async (req) => this.#keys.sign('exec', req.runId, req.step, await this.execStep(this.#keys.unseal(req))));
  }

  #onClose(msg: Msg): Promise<void> {
    return this.#serve(msg, RunnerCloseRequestSchema, 'close request', async (req) => this.#keys.sign('close', req.runId, 0, await this.closeRun(req)));
  }

  async openRun(req: RunnerOpenRequest): Promise<RunnerOpenResult> {
    if (this.state !== 'running') throw new AirlockError('capacity_exhausted', `runner ${this.#cfg.runnerId} is ${this.state}`);
    if (this.#runs.has(req.runId)) throw new AirlockError('bad_request', `run ${req.runId} is already open here`);
    if (req.resume && !req.fromSnapshot) throw new AirlockError('bad_request', 'a moved run resumes from a snapshot');
    if (this.#runs.size + this.#opening >= this.#cfg.slots) {
      throw new AirlockError('capacity_exhausted', `runner ${this.#cfg.runnerId} has all ${this.#cfg.slots} slots busy`);
    }
    this.#opening++;
    this.#openingIds.add(req.runId);
    // Say at once which run this runner took: if it dies while preparing it, the harness re-offers it.
    this.#beat();
    try {
      const validator = await this.#validatorFor(req.policyHash, req.mountPath);
      if (req.fromSnapshot && req.workspace) {
        throw new AirlockError('bad_request', 'a run that starts from a snapshot gets a fresh workspace; do not name one');
      }
      if (!(await this.#docker.imageExists(req.image))) {
        throw new AirlockError('image_not_found', `sandbox image ${req.image} is not on runner ${this.#cfg.runnerId}; build it with \`make images\``);
      }
      const workspace = await prepareWorkspace(req.workspace, this.#cfg.stateDir, req.runId);
      if (req.fromSnapshot) {
        try {
          await this.#snapshots.restore(req.fromSnapshot, workspace.path);
          await chownTree(workspace.path, SANDBOX_UID, SANDBOX_GID);
        } catch (err) {
          await releaseWorkspace(workspace).catch(() => undefined);
          throw new AirlockError('bad_request', `cannot start from snapshot ${req.fromSnapshot.slice(0, 12)}: ${(err as Error).message}`, { cause: err });
        }
      }
      const run: LiveRun = {
        runId: req.runId,
        image: req.image,
        mountPath: req.mountPath,
        env: { ...BASE_ENV, ...req.env },
        limits: req.limits,
        workspace,
        containerId: null,
        containerSeq: 0,
        busy: false,
        log: new RunLogWriter(this.#nats.js, this.#nats.jsm, req.runId, this.#writerOpts),
        policyHash: req.policyHash,
        validator,
        snap: undefined,
      };
      let containerId: string;
      try {
        containerId = await this.#startSandbox(run);
      } catch (err) {
        await releaseWorkspace(workspace).catch(() => undefined);
        throw err;
      }
      this.#runs.set(run.runId, run);
      if (req.resume && req.fromSnapshot) {
        await run.log.append({
          type: 'run.moved',
          fromRunner: req.resume.previousRunner,
          toRunner: this.#cfg.runnerId,
          fromSnapshot: req.fromSnapshot,
          afterStep: req.resume.afterStep,
          containerId,
          workspace: workspace.path,
          reason: req.resume.reason,
        });
        await this.#snapshot(run, req.resume.afterStep);
        this.#log.info({ runId: run.runId, from: req.resume.previousRunner }, 'run moved here');
        return { runId: run.runId, runnerId: this.#cfg.runnerId, containerId, workspace: workspace.path, user: workspace.user };
      }
      await run.log.append({
        type: 'run.opened',
        image: run.image,
        runnerId: this.#cfg.runnerId,
        workspace: workspace.path,
        mountPath: run.mountPath,
        containerId,
        user: workspace.user,
        policyHash: req.policyHash,
        ...(req.fromSnapshot ? { fromSnapshot: req.fromSnapshot } : {}),
      });
      // Step 0: the workspace as the run found it, so any step can be redone from the one before.
      await this.#snapshot(run, 0);
      this.#log.info({ runId: run.runId, containerId, workspace: workspace.path }, 'run opened');
      return { runId: run.runId, runnerId: this.#cfg.runnerId, containerId, workspace: workspace.path, user: workspace.user };
    } finally {
      this.#opening--;
      this.#openingIds.delete(req.runId);
    }
  }

  async #startSandbox(run: LiveRun): Promise<string> {
    run.containerSeq++;
    const id = await this.#docker.startSandbox({
      // The runner id too: a run that moves here may still have a container from its lost runner.
      name: `airlock-${run.runId.toLowerCase()}-${this.#cfg.runnerId}-${run.containerSeq}`,
      image: run.image,
      user: run.workspace.user,
      workspace: run.workspace.path,
      mountPath: run.mountPath,
      env: run.env,
      limits: run.limits,
      labels: {
        [labels.runId]: run.runId,
        [labels.runnerId]: this.#cfg.runnerId,
        [labels.deployment]: this.#deployment,
        [labels.workspace]: run.workspace.path,
        [labels.ownerBack]: run.workspace.ownerBack,
        [labels.ownedWorkspace]: run.workspace.owned ? '1' : '0',
      },
    });
    run.containerId = id;
    return id;
  }

  async execStep(req: RunnerExecRequest): Promise<StepResult> {
    const run = this.#runs.get(req.runId);
    if (!run) throw new AirlockError('unknown_run', `run ${req.runId} is not held by runner ${this.#cfg.runnerId}`);
    if (run.busy) throw new AirlockError('run_busy', `run ${req.runId} is executing a step; steps of one run are serial`);
    const claims = await this.#authorize(req);
    run.busy = true;
    try {
      await this.#recheck(run, req, claims.approved);
      return await this.#execStep(run, req);
    } finally {
      run.busy = false;
    }
  }

  async #execStep(run: LiveRun, req: RunnerExecRequest): Promise<StepResult> {
    const log = this.#log.child({ runId: run.runId, step: req.step });
    if (run.containerId === null) {
      const id = await this.#startSandbox(run);
      await run.log.append({ type: 'sandbox.started', containerId: id, reason: 'the previous sandbox died; fresh sandbox on the same workspace' });
    }
    const seconds = (req.timeoutMs / 1000).toFixed(3);
    const execSpec = {
      // coreutils `timeout` kills the command's whole process group at the deadline (TERM, then KILL).
      cmd: ['timeout', '-s', 'TERM', '-k', `${KILL_AFTER_S}`, seconds, 'bash', '-c', req.cmd],
      // Secrets reach this exec only: never the container's environment, a log or a snapshot.
      env: { ...run.env, ...req.env, ...req.secrets },
      user: run.workspace.user,
      workdir: run.mountPath,
      // A step given a secret starts in a sandbox with nothing left running from earlier steps.
      isolate: Object.keys(req.secrets).length > 0,
    };
    const redactor = Object.keys(req.secrets).length > 0 ? new Redactor(req.secrets) : null;
    const opened = await this.#openExec(run, req.step, execSpec);
    const containerId = run.containerId!;
    await run.log.append({ type: 'step.started', step: req.step, containerId });
    const started = performance.now();
    const startedAt = Date.now();
    let backstopFired = false;
    const backstop = setTimeout(() => {
      backstopFired = true;
      log.warn('step outlived its timeout; killing the sandbox');
      void this.#docker.kill(containerId).catch((err: unknown) => log.error({ err }, 'backstop kill failed'));
    }, req.timeoutMs + KILL_AFTER_S * 1000 + BACKSTOP_GRACE_MS);

    let totals = { stdoutBytes: 0, stderrBytes: 0, truncated: false };
    let exitCode: number | null = null;
    try {
      const handle = await opened;
      totals = await pumpChunks(
        redactor ? redactFrames(handle.output, redactor) : handle.output,
        { maxChunkBytes: MAX_CHUNK_BYTES, maxStreamBytes: this.#cfg.maxOutputBytes, flushAfterMs: 20, window: 8 },
        async (chunk) => {
          await run.log.append({ type: 'step.output', step: req.step, stream: chunk.stream, offset: chunk.offset, ...outputFields(chunk.data) });
        },
      );
      exitCode = await handle.exitCode().catch(() => null);
    } catch (err) {
      // The exec could not even start: the sandbox is gone (409 not running / 404). Handled below.
      log.warn({ err }, 'exec failed');
    } finally {
      clearTimeout(backstop);
    }
    const durationMs = performance.now() - started;
    const timedOut = backstopFired || durationMs >= req.timeoutMs;

    // Only look closer when the exit was abnormal: normal exits cost no extra Docker call.
    let sandboxDied = false;
    let oomKilled = false;
    let containerExit: number | null = null;
    if (exitCode === null || exitCode >= 124) {
      const state = await this.#settledState(containerId, exitCode);
      sandboxDied = state === null || !state.running;
      containerExit = state?.exitCode ?? null;
      oomKilled = (state?.oomKilled ?? false) || (this.#oomSeen.get(containerId) ?? 0) >= startedAt;
    }
    const signal = signalOf(exitCode, timedOut, sandboxDied);
    const result = {
      runId: run.runId,
      step: req.step,
      exitCode: sandboxDied ? null : exitCode,
      signal,
      oomKilled,
      timedOut,
      sandboxDied,
      durationMs: Math.round(durationMs * 1000) / 1000,
      ...totals,
    };
    if (sandboxDied) {
      run.containerId = null;
      this.#oomSeen.delete(containerId);
      this.#died.delete(containerId);
      await run.log.append({
        type: 'sandbox.died',
        step: req.step,
        containerId,
        exitCode: containerExit,
        oomKilled,
        reason: oomKilled ? 'out of memory' : timedOut ? 'killed after the step timeout' : 'the sandbox stopped during the step',
      });
      void this.#docker.remove(containerId).catch((err: unknown) => log.warn({ err }, 'could not remove a dead sandbox'));
    }
    const exited = await run.log.append({ type: 'step.exited', step: req.step, result });
    // Also after a failed or killed step: the workspace is what the next step will see.
    const snapshot = await this.#snapshot(run, req.step);
    log.debug({ exitCode: result.exitCode, durationMs: result.durationMs }, 'step done');
    return { ...result, logSeq: exited.seq, ...(snapshot ? { snapshot } : {}) };
  }

  /**
   * Snapshots the run's workspace into the content-addressed store and logs it. A failure is logged
   * (`snapshot.failed`) and does not fail the step: the step happened, whatever the store says.
   */
  async #snapshot(run: LiveRun, step: number): Promise<string | undefined> {
    try {
      const r = await this.#snapshots.snapshot(run.workspace.path, { previous: run.snap, group: run.runId, label: `step-${step}` });
      run.snap = r.state;
      const s = r.stats;
      if (s.skipped.length > 0) this.#log.warn({ runId: run.runId, step, skipped: s.skipped.slice(0, 20) }, 'snapshot skipped entries it cannot store');
      await run.log.append({
        type: 'snapshot.created',
        step,
        digest: r.digest,
        files: s.files,
        totalBytes: s.totalBytes,
        added: s.added,
        modified: s.modified,
        deleted: s.deleted,
        bytesUploaded: s.bytesUploaded + s.manifestBytesUploaded,
        durationMs: Math.round(s.durationMs * 1000) / 1000,
      });
      return r.digest;
    } catch (err) {
      this.#log.error({ err, runId: run.runId, step }, 'snapshot failed');
      run.snap = undefined;
      await run.log.append({ type: 'snapshot.failed', step, reason: (err as Error)?.message ?? String(err) });
      return undefined;
    }
  }

  /**
   * The policy pinned to a run, fetched by hash from the harness's policy bucket and checked against
   * the hash before use: a missing or altered policy refuses the run (fail closed).
   */
  #validatorFor(hash: string, mountPath: string): Promise<Validator> {
    const key = `${hash}:${mountPath}`;
    let v = this.#validators.get(key);
    if (!v) {
      v = (async () => {
        const entry = await this.#policies!.get(hash);
        if (!entry || entry.operation !== 'PUT' || entry.length === 0) {
          throw new AirlockError('validation_denied', `policy ${hash.slice(0, 12)} is not in the policy bucket; refusing the run`);
        }
        const parsed = PolicySchema.safeParse(JSON.parse(entry.string()));
        if (!parsed.success || policyHash(parsed.data) !== hash) {
          throw new AirlockError('validation_denied', `policy ${hash.slice(0, 12)} does not match its hash; refusing the run`);
        }
        return createValidator({ policy: { ...parsed.data, workspace: mountPath } });
      })();
      v.catch(() => this.#validators.delete(key));
      this.#validators.set(key, v);
    }
    return v;
  }

  /**
   * Only the harness may order a step: the job token must be signed with its key and bind this run,
   * step, policy and command, unexpired and unused. Anything else is refused and audited.
   */
  async #authorize(req: RunnerExecRequest): Promise<JobClaims> {
    try {
      return this.#verifier.verify(req.token, { runId: req.runId, step: req.step, policyHash: req.policyHash, cmdSha256: commandHash(req.cmd) });
    } catch (err) {
      const code = err instanceof TokenError ? err.code : 'malformed';
      const message = `job token refused (${code}) for run ${req.runId} step ${req.step}: ${(err as Error).message}`;
      this.#log.warn({ runId: req.runId, step: req.step, code }, 'job token refused');
      await this.#systemLog
        .append({ type: 'message.rejected', subject: subjects.runnerExec(this.#cfg.runnerId), code: `unauthorized.${code}`, message, bytes: req.cmd.length })
        .catch(() => undefined);
      throw new AirlockError('unauthorized', message);
    }
  }

  /**
   * Defence in depth: the runner validates every command again under the run's pinned policy and
   * refuses unless it, too, says `allow`. A refusal is logged and indexed for reviewers.
   */
  /**
   * Validates the command again under the run's pinned policy: anything but `allow` is refused, except
   * an `ask` the harness's signed token says an operator approved (the token is bound to this command).
   */
  async #recheck(run: LiveRun, req: RunnerExecRequest, approved: JobClaims['approved']): Promise<void> {
    const mismatch = req.policyHash !== run.policyHash;
    const v = mismatch ? null : run.validator.validate(req.cmd);
    if (v?.verdict === 'allow') return;
    if (v?.verdict === 'ask' && approved) return;
    const rule = v ? v.rule : 'policy.mismatch';
    const reason = v ? `the runner's check disagrees with the harness: ${v.reason}` : `the request names policy ${req.policyHash.slice(0, 12)}, the run is pinned to ${run.policyHash.slice(0, 12)}`;
    const event = await run.log.append({
      type: 'step.verdict',
      step: req.step,
      cmd: req.cmd,
      verdict: v?.verdict ?? 'deny',
      rule,
      reason,
      ...(v?.span ? { span: { start: v.span.start, end: v.span.end } } : {}),
      policyHash: run.policyHash,
    });
    if (event.type === 'step.verdict') await indexVerdict(this.#nats.js, event).catch(() => undefined);
    throw new AirlockError('validation_denied', `runner refused step ${req.step} (${rule}): ${reason}`, { data: { step: req.step, rule, reason } });
  }

  /**
   * Starts the step's process. A sandbox found dead before the step (killed between steps) is
   * replaced by a fresh one on the same workspace, and the log says so.
   */
  async #openExec(run: LiveRun, step: number, spec: ExecSpec): Promise<ExecHandle> {
    const id = run.containerId!;
    try {
      return await this.#docker.exec(id, spec);
    } catch (err) {
      const state = await this.#docker.inspect(id).catch(() => null);
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
      void this.#docker.remove(id).catch(() => undefined);
      const fresh = await this.#startSandbox(run);
      await run.log.append({ type: 'sandbox.started', containerId: fresh, reason: 'the previous sandbox died; fresh sandbox on the same workspace' });
      return await this.#docker.exec(fresh, spec);
    }
  }

  /**
   * The container's state after an abnormal exit. A killed sandbox ends the exec stream a moment
   * before the engine marks the container stopped, so a SIGKILL-looking exit is re-checked briefly.
   */
  async #settledState(containerId: string, exitCode: number | null): Promise<ContainerState | null> {
    const deadline = Date.now() + (exitCode === null || exitCode === 137 ? 1000 : 0);
    for (;;) {
      const state = await this.#docker.inspect(containerId).catch(() => null);
      if (state === null || !state.running || this.#died.has(containerId) || Date.now() >= deadline) return state;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async closeRun(req: RunnerCloseRequest): Promise<RunnerCloseResult> {
    const run = this.#runs.get(req.runId);
    if (!run) throw new AirlockError('unknown_run', `run ${req.runId} is not held by runner ${this.#cfg.runnerId}`);
    this.#runs.delete(req.runId);
    if (run.containerId) await this.#docker.remove(run.containerId);
    await releaseWorkspace(run.workspace);
    await run.log.append({ type: 'run.closed', reason: req.reason });
    this.#log.info({ runId: run.runId }, 'run closed');
    return { runId: run.runId, removed: true };
  }

  /**
   * Periodic clean-up against the harness's run records: a run this runner holds that was closed or
   * moved elsewhere (this runner was presumed lost) is dropped; a sandbox on this Docker host whose
   * run is closed, gone, or held by another runner than its label names is an orphan of a dead
   * runner and is removed. Young sandboxes are spared: their record may not be written yet.
   */
  async #sweep(): Promise<void> {
    const kv = this.#runsKv;
    if (!kv) return;
    const recordOf = async (runId: string) => {
      const e = await kv.get(runId).catch(() => null);
      if (!e || e.operation !== 'PUT' || e.length === 0) return null;
      return e.json<{ runnerId?: string; status?: string }>();
    };
    for (const run of [...this.#runs.values()]) {
      if (run.busy) continue;
      const rec = await recordOf(run.runId);
      if (rec && (rec.status === 'closed' || rec.runnerId !== this.#cfg.runnerId)) {
        this.#runs.delete(run.runId);
        if (run.containerId) await this.#docker.remove(run.containerId).catch(() => undefined);
        await releaseWorkspace(run.workspace).catch(() => undefined);
        this.#log.warn({ runId: run.runId, holder: rec.runnerId, status: rec.status }, 'dropped a run this runner no longer holds');
      }
    }
    const all = await this.#docker.listManaged({ [labels.deployment]: this.#deployment });
    for (const c of all) {
      const runId = c.labels[labels.runId] ?? '';
      const owner = c.labels[labels.runnerId] ?? '';
      if (owner === this.#cfg.runnerId || Date.now() - c.createdMs < 60_000) continue;
      const rec = await recordOf(runId);
      if (rec && rec.status === 'open' && rec.runnerId === owner) continue;
      await this.#docker.remove(c.id).catch(() => undefined);
      const path = c.labels[labels.workspace];
      if (path) await releaseWorkspace({ path, ownerBack: c.labels[labels.ownerBack] ?? '', owned: c.labels[labels.ownedWorkspace] === '1' }).catch(() => undefined);
      this.#log.info({ containerId: c.id, runId, owner }, 'removed an orphan sandbox of another runner');
    }
  }

  /** Removes containers labelled as this runner's that no live run owns, and gives their workspaces back. */
  async #reapOrphans(): Promise<number> {
    const mine = await this.#docker.listManaged({ [labels.runnerId]: this.#cfg.runnerId });
    let reaped = 0;
    for (const c of mine) {
      const runId = c.labels[labels.runId] ?? '';
      if (this.#runs.has(runId)) continue;
      await this.#docker.remove(c.id);
      const path = c.labels[labels.workspace];
      if (path) {
        await releaseWorkspace({ path, ownerBack: c.labels[labels.ownerBack] ?? '', owned: c.labels[labels.ownedWorkspace] === '1' }).catch(
          (err: unknown) => this.#log.warn({ err, path }, 'could not release an orphan workspace'),
        );
      }
      reaped++;
    }
    if (reaped > 0) this.#log.info({ reaped }, 'reaped orphan sandboxes');
    return reaped;
  }

  /**
   * Stops taking work, lets running steps finish (up to `deadlineMs`), then removes every sandbox
   * this runner holds. Idempotent.
   */
  drain(deadlineMs = 10_000): Promise<void> {
    this.#stopped ??= (async () => {
      this.state = 'draining';
      for (const s of this.#subs) s.unsubscribe();
      clearInterval(this.#heartbeat);
      clearInterval(this.#sweeper);
      await Promise.race([Promise.allSettled([...this.#inFlight]), new Promise((r) => setTimeout(r, deadlineMs))]);
      for (const run of [...this.#runs.values()]) {
        this.#runs.delete(run.runId);
        if (run.containerId) await this.#docker.remove(run.containerId).catch(() => undefined);
        await releaseWorkspace(run.workspace).catch(() => undefined);
      }
      this.#events.abort();
      await this.#snapshots[Symbol.asyncDispose]().catch(() => undefined);
      this.state = 'stopped';
    })();
    return this.#stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.drain();
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

/** The harness's public key: given inline (raw base64), or in a file that may not exist yet. */
async function readHarnessKey(value: string, log: Logger): Promise<string> {
  if (!value.includes('/')) return value;
  for (let i = 0; !existsSync(value); i++) {
    if (i === 0) log.info({ file: value }, 'waiting for the harness public key');
    if (i > 1200) throw new Error(`harness public key file ${value} did not appear`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return readFileSync(value, 'utf8').trim();
}

/** The policy bucket is the harness's to create (runners may only read it): wait for it. */
async function waitForBucket(nats: NatsHandles, bucket: string, log: Logger): Promise<KV> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Kvm(nats.nc).open(bucket);
    } catch (err) {
      if (attempt === 0) log.info({ bucket }, 'waiting for the harness to create the policy bucket');
      if (attempt > 600) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
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
