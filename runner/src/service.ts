import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { z } from 'zod';
import {
  AirlockError,
  PROTOCOL_VERSION,
  RunnerCloseRequestSchema,
  RunnerExecRequestSchema,
  RunnerOpenRequestSchema,
  RunnerFileRequestSchema,
  RunnerSignalRequestSchema,
  RunnerRollbackRequestSchema,
  encode,
  names,
  subjects,
} from '@airlock/proto';
import type {
  RunnerCloseRequest,
  RunnerCloseResult,
  RunnerExecRequest,
  RunnerHeartbeat,
  RunnerOpenRequest,
  RunnerOpenResult,
  StepResult,
} from '@airlock/proto';
import { RunLogs, type RunLogHandle } from './log-grant.ts';
import { RunLogWriter, ensureAuditStream, ensureLogStream, isNotFound, type RunLogWriterOptions } from '@airlock/ledger';
import { serveRequest, type NatsHandles } from '@airlock/transport';
import { Kvm, type KV } from '@nats-io/kv';
import { SnapshotStore } from '@airlock/snapshot';
import { JobVerifier, importPublicKey } from '@airlock/trust';
import type { ContainerClient } from './docker/client.ts';
import { labels } from './docker/labels.ts';
import { cpuReader, cpuSinceLast } from './cpu.ts';
import { Gate } from './gate.ts';
import type { LiveRun } from './live-run.ts';
import { openRunEgress } from './egress/wire.ts';
import { SandboxEvents } from './sandbox-events.ts';
import { runStep, type StepHost } from './step.ts';
import { serveFileStep, serveSignal, type FileServeHost } from './files/serve.ts';
import { reapOrphans, sweep, type SweepHost } from './sweep.ts';
import { WarmPool, releaseRunSlot, type ClaimedSandbox } from './pool.ts';
import { SANDBOX_GID, SANDBOX_UID, chownTree, prepareWorkspace, releaseWorkspace, type PreparedWorkspace } from './workspace.ts';
import { serveRollback } from './rollback.ts';
import type { RunnerConfig } from './config.ts';
import { RunnerKeyring } from './identity.ts';
import type { Logger } from './logger.ts';

/** Environment every sandbox gets; nothing of the runner's own environment is passed. */
const BASE_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/tmp', LANG: 'C.UTF-8', PAGER: 'cat', GIT_PAGER: 'cat' } as const;

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
  readonly #sandboxEvents = new SandboxEvents();
  #opening = 0;
  readonly #openingIds = new Set<string>();
  #inFlight = new Set<Promise<unknown>>();
  #subs: Subscription[] = [];
  #heartbeat: NodeJS.Timeout | undefined;
  #events = new AbortController();
  #eventsWatch: Promise<void> = Promise.resolve();
  #systemLog: RunLogWriter;
  /** Each held run's log writer (through the run's grant in operator-mode NATS). */
  readonly #runLogs: RunLogs;
  #stopped: Promise<void> | undefined;
  #runsKv!: KV;
  #deployment = '';
  #gate!: Gate;
  #sweeper: NodeJS.Timeout | undefined;
  #snapshots!: SnapshotStore;
  #pool: WarmPool | undefined;

  /** This runner's keys: signs replies, heartbeats and log events; opens sealed secrets. */
  readonly #keys: RunnerKeyring;

  private constructor(cfg: RunnerConfig, nats: NatsHandles, docker: ContainerClient, log: Logger, keys: RunnerKeyring) {
    this.#cfg = cfg;
    this.#nats = nats;
    this.#docker = docker;
    this.#log = log;
    this.#keys = keys;
    this.#systemLog = new RunLogWriter(nats.js, nats.jsm, 'system', this.#writerOpts);
    this.#runLogs = new RunLogs(nats, { natsUrl: cfg.natsUrl, runnerId: cfg.runnerId, grants: cfg.logGrants === true }, keys, log);
  }

  /**
   * Every event this runner writes is signed with its key (the harness checks it against the run's
   * holder), and retried for `logRetryMs` while NATS does not acknowledge.
   */
  get #writerOpts(): RunLogWriterOptions {
    return { by: this.#by, sign: this.#keys.signLog, ...(this.#cfg.logRetryMs ? { giveUpAfterMs: this.#cfg.logRetryMs } : {}) };
  }

  get #by(): string {
    return `runner:${this.#cfg.runnerId}`;
  }

  /** Connects the pieces, reaps orphans, then starts taking work. */
  static async start(cfg: RunnerConfig, nats: NatsHandles, docker: ContainerClient, log: Logger, keys?: RunnerKeyring): Promise<RunnerService> {
    if (keys && keys.runnerId !== cfg.runnerId) throw new Error(`the identity is runner ${keys.runnerId}, the config says ${cfg.runnerId}`);
    const svc = new RunnerService(cfg, nats, docker, log, keys ?? RunnerKeyring.local(cfg.stateDir, cfg.runnerId));
    await docker.ping();
    const verifier = new JobVerifier(importPublicKey(await readHarnessKey(cfg.harnessKey, log)));
    await ensureLogStream(nats.jsm, { replicas: cfg.replicas });
    await ensureAuditStream(nats.jsm, { replicas: cfg.replicas });
    const policies = await waitForBucket(nats, names.policiesBucket, log);
    svc.#gate = new Gate({ runnerId: cfg.runnerId, policies, verifier, systemLog: svc.#systemLog, js: nats.js, log });
    svc.#runsKv = await waitForBucket(nats, names.runsBucket, log);
    svc.#deployment = cfg.deploymentId ?? (await deploymentFromHarness(policies, log));
    svc.#snapshots = await SnapshotStore.open(nats.nc, { cacheDir: join(cfg.stateDir, 'blob-cache'), replicas: cfg.replicas });
    await reapOrphans(svc.#sweepHost);
    svc.#pool = new WarmPool({ docker, log, runnerId: cfg.runnerId, stateDir: cfg.stateDir, deployment: () => svc.#deployment }, cfg.poolSize ?? 0);
    // Resubscribes by itself and never rejects; tracked so a drain waits for it to stop.
    svc.#eventsWatch = svc.#sandboxEvents.watch(docker, svc.#events.signal, log);
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
      // File tools and process signals (runner/src/files/serve.ts).
      nc.subscribe(subjects.runnerFile(cfg.runnerId), { callback: (err, msg) => {
          if (!err) svc.#track(svc.#serve(msg, RunnerFileRequestSchema, 'file request', async (req) => svc.#keys.sign('file', req.runId, req.step, await serveFileStep(svc.#fileHost, req))));
        } }),
      nc.subscribe(subjects.runnerSignal(cfg.runnerId), { callback: (err, msg) => {
          if (!err) svc.#track(svc.#serve(msg, RunnerSignalRequestSchema, 'signal request', async (req) => svc.#keys.sign('signal', req.runId, req.step, await serveSignal(svc.#fileHost, req))));
        } }),
      // Rollback jobs an operator planned and a second one approved (runner/src/rollback.ts).
      nc.subscribe(subjects.runnerRollback(cfg.runnerId), { callback: (err, msg) => {
          if (!err) svc.#track(svc.#serve(msg, RunnerRollbackRequestSchema, 'rollback request', async (req) => svc.#keys.sign('rollback', req.runId, req.step, await serveRollback({ ...svc.#fileHost, snapshots: svc.#snapshots }, req))));
        } }),
    );
    await nc.flush();
    svc.#beat();
    svc.#heartbeat = setInterval(() => svc.#beat(), cfg.heartbeatMs);
    svc.#sweeper = setInterval(() => svc.#track(sweep(svc.#sweepHost).catch((err: unknown) => log.warn({ err }, 'sweep failed'))), 15_000);
    svc.state = 'running';
    log.info({ slots: cfg.slots }, 'runner ready');
    return svc;
  }

  /** The warm pool (pool.ts); undefined before start. */
  get warmPool(): WarmPool | undefined {
    return this.#pool;
  }

  /** Live run ids. */
  get runIds(): string[] {
    return [...this.#runs.keys()];
  }

  /** The step path's view of this service (see step.ts). */
  get #stepHost(): StepHost {
    return {
      docker: this.#docker,
      log: this.#log,
      maxOutputBytes: this.#cfg.maxOutputBytes,
      events: this.#sandboxEvents,
      startSandbox: (run) => this.#startSandbox(run),
      snapshot: (run, step) => this.#snapshot(run, step),
    };
  }

  /** The file and signal handlers' view of this service (see files/serve.ts). */
  get #fileHost(): FileServeHost {
    return {
      ...this.#stepHost,
      runnerId: this.#cfg.runnerId,
      gate: this.#gate,
      js: this.#nats.js,
      run: (runId) => {
        const run = this.#runs.get(runId);
        if (!run) throw new AirlockError('unknown_run', `run ${runId} is not held by runner ${this.#cfg.runnerId}`);
        return run;
      },
    };
  }

  /** The sweeper's view of this service (see sweep.ts). */
  get #sweepHost(): SweepHost {
    return { runnerId: this.#cfg.runnerId, deployment: this.#deployment, docker: this.#docker, log: this.#log, runsKv: this.#runsKv, runs: this.#runs };
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
    let runLog: RunLogHandle | undefined;
    let opened = false;
    try {
      // The run's log writer (its grant: the harness gives it to the runner its heartbeat names).
      runLog = await this.#runLogs.open(req.runId, this.#writerOpts);
      const validator = await this.#gate.validatorFor(req.policyHash, req.mountPath);
      // The runtime is the pinned policy's: a request that says otherwise is refused, never obeyed.
      if (req.runtime !== validator.policy.runtime) {
        throw new AirlockError('bad_request', `the open request asks for runtime ${req.runtime} but the run's policy ${req.policyHash.slice(0, 12)} says ${validator.policy.runtime}`);
      }
      if (req.fromSnapshot && req.workspace) {
        throw new AirlockError('bad_request', 'a run that starts from a snapshot gets a fresh workspace; do not name one');
      }
      if (!(await this.#docker.imageExists(req.image))) {
        throw new AirlockError('image_not_found', `sandbox image ${req.image} is not on runner ${this.#cfg.runnerId}; build it with \`make images\``);
      }
      // A fresh workspace can be a pooled sandbox's own slot (pool.ts); a restore cannot (it swaps
      // its tree in by rename, and a slot is a mount point): it is bound onto a slot below.
      const fresh = req.workspace === undefined && !req.fromSnapshot ? await this.#claimFresh(req, validator.policy.network.mode === 'proxy') : undefined;
      const workspace = fresh?.workspace ?? (await prepareWorkspace(req.workspace, this.#cfg.stateDir, req.runId));
      if (req.fromSnapshot) {
        try {
          await this.#snapshots.restore(req.fromSnapshot, workspace.path);
          await chownTree(workspace.path, SANDBOX_UID, SANDBOX_GID);
        } catch (err) {
          if (fresh) await this.#dropClaimed(req.runId, fresh);
          await releaseWorkspace(workspace).catch((err: unknown) => this.#log.error({ err, runId: req.runId, path: workspace.path }, 'could not give the workspace back after a failed open'));
          throw new AirlockError('bad_request', `cannot start from snapshot ${req.fromSnapshot.slice(0, 12)}: ${(err as Error).message}`, { cause: err });
        }
      }
      const run: LiveRun = {
        runId: req.runId,
        image: req.image,
        mountPath: req.mountPath,
        env: { ...BASE_ENV, ...req.env },
        limits: req.limits,
        runtime: req.runtime,
        workspace,
        containerId: null,
        containerSeq: 0,
        busy: false,
        log: runLog.log,
        closeLog: runLog.close,
        policyHash: req.policyHash,
        validator,
        snap: undefined,
      };
      let containerId: string;
      try {
        run.egress = await openRunEgress(run, validator.policy, { js: this.#nats.js, log: this.#log, testResolve: this.#cfg.egressTestResolve ?? {}, testUpstreamCa: this.#cfg.egressTestUpstreamCa ?? [], ask: { nc: this.#nats.nc, runnerId: this.#cfg.runnerId } });
        containerId = fresh ? await this.#adopt(run, fresh) : ((await this.#claimPooled(run)) ?? (await this.#startSandbox(run)));
      } catch (err) {
        this.#log.error({ err, runId: req.runId, image: req.image }, 'could not start the sandbox');
        if (fresh) await this.#dropClaimed(req.runId, fresh);
        await run.egress?.close().catch((e: unknown) => this.#log.error({ err: e, runId: req.runId }, 'could not stop the egress proxy'));
        await releaseWorkspace(workspace).catch((e: unknown) => this.#log.error({ err: e, runId: req.runId, path: workspace.path }, 'could not give the workspace back after a failed open'));
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
          runtime: run.runtime,
        });
        await this.#snapshot(run, req.resume.afterStep);
        this.#log.info({ runId: run.runId, from: req.resume.previousRunner }, 'run moved here');
        opened = true;
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
        runtime: run.runtime,
        ...(req.fromSnapshot ? { fromSnapshot: req.fromSnapshot } : {}),
      });
      // Step 0: the workspace as the run found it, so any step can be redone from the one before.
      await this.#snapshot(run, 0);
      this.#log.info({ runId: run.runId, containerId, workspace: workspace.path, runtime: run.runtime }, 'run opened');
      opened = true;
      return { runId: run.runId, runnerId: this.#cfg.runnerId, containerId, workspace: workspace.path, user: workspace.user };
    } finally {
      this.#opening--;
      this.#openingIds.delete(req.runId);
      // A failed open holds no run: its log connection goes too (a run already set stays as before).
      if (!opened && !this.#runs.has(req.runId)) await runLog?.close();
    }
  }

  /** A pooled sandbox whose slot is the new run's workspace (fresh or to restore into), or undefined (see pool.ts for when). */
  async #claimFresh(req: RunnerOpenRequest, egress: boolean): Promise<(ClaimedSandbox & { workspace: PreparedWorkspace }) | undefined> {
    const key = { image: req.image, mountPath: req.mountPath, limits: req.limits, runtime: req.runtime, env: { ...BASE_ENV, ...req.env } };
    const c = this.#pool ? await this.#pool.claimFresh(key, req.runId, { egress }) : 'disabled';
    if (typeof c !== 'string') return c;
    this.#log.debug({ runId: req.runId, miss: c }, 'open not served by the warm pool');
    return undefined;
  }

  /** A started sandbox from the warm pool with the run's (named) workspace bound on, or undefined (see pool.ts for when). */
  async #claimPooled(run: LiveRun): Promise<string | undefined> {
    const key = { image: run.image, mountPath: run.mountPath, limits: run.limits, runtime: run.runtime, env: run.env };
    const c = this.#pool ? await this.#pool.claim(key, run.runId, run.workspace, { egress: run.egress !== undefined }) : 'disabled';
    if (typeof c === 'string') {
      this.#log.debug({ runId: run.runId, miss: c }, 'open not served by the warm pool');
      return undefined;
    }
    return this.#adopt(run, c);
  }

  async #adopt(run: LiveRun, c: ClaimedSandbox): Promise<string> {
    run.containerSeq = 1;
    run.poolSlot = c.slot;
    run.containerId = c.containerId;
    await cpuSinceLast(run, c.containerId, cpuReader(this.#docker)).catch(() => undefined);
    return c.containerId;
  }

  /** A claimed pooled sandbox whose open failed: removed, its slot unmounted (its workspace is released by the caller). */
  async #dropClaimed(runId: string, c: ClaimedSandbox): Promise<void> {
    await this.#docker.remove(c.containerId).catch((err: unknown) => this.#log.warn({ err, runId }, 'could not remove a claimed pooled sandbox'));
    await releaseRunSlot({ runId, poolSlot: c.slot }, this.#log);
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
      runtime: run.runtime,
      ...(run.egress ? { binds: run.egress.binds } : {}),
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
    // The CPU clock of the run's steps starts now: the sandbox's own start-up is not the agent's.
    await cpuSinceLast(run, id, cpuReader(this.#docker)).catch(() => undefined);
    return id;
  }

  async execStep(req: RunnerExecRequest): Promise<StepResult> {
    const run = this.#runs.get(req.runId);
    if (!run) throw new AirlockError('unknown_run', `run ${req.runId} is not held by runner ${this.#cfg.runnerId}`);
    if (run.busy) throw new AirlockError('run_busy', `run ${req.runId} is executing a step; steps of one run are serial`);
    // Taken before the first await: a second request arriving while this one is being authorized
    // must see the run busy (two steps of one run never run at once).
    run.busy = true;
    try {
      const claims = await this.#gate.authorize(req);
      await this.#gate.recheck(run, req, claims.approved);
      return await runStep(this.#stepHost, run, req);
    } finally {
      run.busy = false;
    }
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

  async closeRun(req: RunnerCloseRequest): Promise<RunnerCloseResult> {
    const run = this.#runs.get(req.runId);
    if (!run) throw new AirlockError('unknown_run', `run ${req.runId} is not held by runner ${this.#cfg.runnerId}`);
    if (req.suspend) refuseSuspend(run);
    this.#runs.delete(req.runId);
    if (run.containerId) await this.#docker.remove(run.containerId);
    await releaseRunSlot(run, this.#log);
    await run.egress?.close().catch((err: unknown) => this.#log.error({ err, runId: run.runId }, 'could not stop the egress proxy'));
    // A workspace not given back is reported (log, run.closed, the reply), never lost: the user's
    // files may still belong to the sandbox user.
    const release = await releaseWorkspace(run.workspace).then(
      () => ({ workspaceReleased: true }),
      (err: unknown) => {
        this.#log.error({ err, runId: run.runId, path: run.workspace.path }, 'could not give the workspace back');
        return { workspaceReleased: false, releaseError: `could not give workspace ${run.workspace.path} back: ${(err as Error)?.message ?? String(err)}` };
      },
    );
    if (req.suspend) {
      // The run goes on without a sandbox here: the harness logs `run.suspended`, the next step reopens it.
      await run.closeLog();
      this.#log.info({ runId: run.runId, ...release }, 'run suspended (idle)');
      return { runId: run.runId, removed: true, ...release };
    }
    try {
      await run.log.append({ type: 'run.closed', reason: req.reason, ...release, ...(req.termination ? { termination: req.termination } : {}) });
    } finally {
      await run.closeLog();
    }
    this.#log.info({ runId: run.runId, ...release }, 'run closed');
    return { runId: run.runId, removed: true, ...release };
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
      await this.#pool?.drain();
      for (const run of [...this.#runs.values()]) {
        this.#runs.delete(run.runId);
        if (run.containerId) {
          await this.#docker.remove(run.containerId).catch((err: unknown) => this.#log.warn({ err, runId: run.runId }, 'could not remove a sandbox while draining'));
        }
        await releaseRunSlot(run, this.#log);
        await run.egress?.close().catch((err: unknown) => this.#log.warn({ err, runId: run.runId }, 'could not stop the egress proxy while draining'));
        await releaseWorkspace(run.workspace).catch((err: unknown) =>
          this.#log.error({ err, runId: run.runId, path: run.workspace.path }, 'could not give the workspace back while draining'),
        );
        await run.closeLog();
      }
      this.#events.abort();
      // The watch ends at the abort; bounded all the same, a stuck engine socket must not hold a drain.
      await Promise.race([this.#eventsWatch, new Promise((r) => setTimeout(r, 2000).unref())]);
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
 * A run is suspended only between steps, and only when its workspace is the runner's own: a host
 * directory the caller named would be given back and the run restored into a fresh one.
 */
function refuseSuspend(run: LiveRun): void {
  if (run.busy) throw new AirlockError('run_busy', `run ${run.runId} is executing a step; it is not idle`);
  if (!run.workspace.owned) throw new AirlockError('invalid_state', `run ${run.runId} works in a host directory (${run.workspace.path}); it is not suspended, only closed when idle too long`);
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

/**
 * The deployment id the harness recorded in its policies bucket (see the harness's
 * ensureDeploymentId). Waited for briefly; then the runner refuses to start rather than label
 * sandboxes with an id no sweep would recognise.
 */
async function deploymentFromHarness(policies: KV, log: Logger): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    // Until the harness has made its policies bucket, the bucket's stream does not exist: not yet.
    const e = await policies.get(names.deploymentKey).catch((err: unknown) => {
      if (isNotFound(err)) return null;
      throw err;
    });
    const id = e && e.operation === 'PUT' ? e.string() : '';
    if (/^[A-Za-z0-9_-]{1,64}$/.test(id)) return id;
    if (id) throw new AirlockError('internal', `the deployment id in ${names.policiesBucket}/${names.deploymentKey} is malformed (${JSON.stringify(id.slice(0, 80))}); set AIRLOCK_DEPLOYMENT_ID`);
    if (attempt === 0) log.info({ bucket: names.policiesBucket }, 'waiting for the harness to record the deployment id');
    if (attempt > 150) throw new AirlockError('internal', `no deployment id in ${names.policiesBucket}/${names.deploymentKey}; start a current harness, or set AIRLOCK_DEPLOYMENT_ID`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
