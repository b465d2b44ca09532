import { AirlockError, PROTOCOL_VERSION, StepResultSchema, subjects } from '@airlock/proto';
import type { ApiExecRequest, RunRecord, StepResult } from '@airlock/proto';
import { newJobClaims, signJob, type Redactor } from '@airlock/trust';
import type { KeyObject } from 'node:crypto';
import type { HarnessContext } from '../context.ts';
import { authorizeRun } from '../governance/access.ts';
import { actorOf, type ApiCaller } from '../governance/callers.ts';
import type { RunGovernor } from '../governance/governor.ts';
import type { PolicyGate } from '../policy/gate.ts';
import { askRunner } from '../routing/ask.ts';
import type { RunnerKeyStore } from '../routing/runner-keys.ts';
import { SECRET_PLACEHOLDER, type SecretStore } from '../secrets/store.ts';
import { keptEnv, planStep } from '../processes/session.ts';
import type { RunLogs } from '../run-logs.ts';
import type { RunRecords } from './records.ts';

/**
 * How long after a step's own timeout the harness still waits for its reply: the runner's kill,
 * snapshot, and at worst its log retry (60 s) and log recovery wait (30 s) when NATS was away. A dead
 * runner is noticed sooner, by its heartbeats.
 */
const STEP_REPLY_GRACE_MS = 150_000;

/** A step waiting on its runner's reply. */
export interface StepInFlight {
  runnerId: string;
  step: number;
  abort: AbortController;
}

/**
 * Runs a step: numbers it (without gaps, even with concurrent callers), passes it through the
 * policy gate, grants its secrets sealed to the runner holding the run, and waits for the result.
 */
export class StepDispatcher {
  readonly #ctx: HarnessContext;
  readonly #records: RunRecords;
  readonly #logs: RunLogs;
  readonly #gate: PolicyGate;
  readonly #secrets: SecretStore;
  readonly #redactor: Redactor;
  readonly #runnerKeys: RunnerKeyStore;
  readonly #key: KeyObject;
  readonly #governor: RunGovernor;
  /** Exec requests waiting on a runner, by run id, so a lost runner fails them at once. */
  readonly #waiting = new Map<string, StepInFlight>();
  /** Restores an idle-suspended run before its next step (runs/idle.ts); built after this dispatcher. */
  #restore: (record: RunRecord) => Promise<RunRecord> = (r) => Promise.resolve(r);

  constructor(
    ctx: HarnessContext,
    deps: { records: RunRecords; logs: RunLogs; gate: PolicyGate; secrets: SecretStore; redactor: Redactor; runnerKeys: RunnerKeyStore; key: KeyObject; governor: RunGovernor },
  ) {
    this.#ctx = ctx;
    this.#records = deps.records;
    this.#logs = deps.logs;
    this.#gate = deps.gate;
    this.#secrets = deps.secrets;
    this.#redactor = deps.redactor;
    this.#runnerKeys = deps.runnerKeys;
    this.#key = deps.key;
    this.#governor = deps.governor;
  }

  /** Binds the restore of suspended runs (runs/idle.ts), called before every step is numbered. */
  bindRestore(restore: (record: RunRecord) => Promise<RunRecord>): void {
    this.#restore = restore;
  }

  /** The step of a run waiting on its runner, if any. */
  inFlight(runId: string): StepInFlight | undefined {
    return this.#waiting.get(runId);
  }

  async exec(req: ApiExecRequest, caller?: ApiCaller): Promise<StepResult> {
    return (await this.start(req, caller)).result;
  }

  /**
   * Numbers, logs and checks a step and sends it to its runner; `result` settles when the step ends
   * (a caller with `yieldMs` stops waiting earlier, the step goes on). Refusals throw here. An agent
   * only in its own runs; refused while the run is paused or being cancelled (or pauses it when a
   * budget is used up, see {@link number}); after the result the loop detectors look at the run.
   */
  async start(req: ApiExecRequest, caller?: ApiCaller): Promise<{ step: number; result: Promise<StepResult> }> {
    if (caller) authorizeRun(caller, req.runId, (await this.#records.get(req.runId)).record.openedBy?.principal);
    const { record, step } = await this.number(req.runId);
    const log = this.#logs.writer(req.runId);
    const asked = Object.values(req.env ?? {}).flatMap((v) => SECRET_PLACEHOLDER.exec(v)?.[1] ?? []);
    const actor = caller ? actorOf(caller) : undefined;
    await log.append({
      type: 'step.requested',
      step,
      cmd: this.#redactor.redactString(req.cmd),
      ...(asked.length ? { secrets: asked } : {}),
      ...(req.yieldMs !== undefined ? { yieldMs: req.yieldMs } : {}),
      ...(req.cost !== undefined ? { cost: req.cost } : {}),
      ...(actor ? { actor } : {}),
    });
    // Where the step starts (cwd, keepCwd): the command is validated and run with the `cd` in front.
    const plan = planStep(record, req);
    let checked;
    try {
      checked = await this.#gate.check(req.runId, step, plan.cmd, record.policyHash, record.mountPath, undefined, caller && !caller.stated ? caller.principal : undefined);
    } catch (err) {
      await this.#governor.afterRefusal(record).catch((e: unknown) => this.#ctx.log.error({ err: e, runId: req.runId }, 'loop detection failed after a refusal'));
      throw err;
    }
    const { commands, approved } = checked;
    const policy = this.#gate.validator.policy;
    const { env, secrets } = this.#secrets.resolve(req.env ?? {}, policy.secrets, commands);
    const timeoutMs = req.timeoutMs ?? this.#ctx.cfg.stepTimeoutMs ?? policy.limits.stepTimeoutMs;
    const abort = new AbortController();
    const release = this.hold(req.runId, { runnerId: record.runnerId, step, abort });
    const holder = record.runnerId;
    const result = (async () => {
    try {
      const result = await askRunner(
        this.#ctx.nats.nc,
        subjects.runnerExec(record.runnerId),
        {
          v: PROTOCOL_VERSION,
          runId: req.runId,
          step,
          cmd: plan.cmd,
          env,
          // Only the runner that holds the run can open them.
          ...(Object.keys(secrets).length > 0 ? { sealed: this.#runnerKeys.seal(record.runnerId, secrets, { runId: req.runId, step }) } : {}),
          timeoutMs,
          policyHash: record.policyHash,
          token: signJob(newJobClaims({ runId: req.runId, step, policyHash: record.policyHash, cmd: plan.cmd, ...(approved ? { approved } : {}) }), this.#key),
          ...(plan.reportCwd ? { reportCwd: true } : {}),
          ...(plan.reportEnv ? { reportEnv: true } : {}),
          ...(req.yieldMs !== undefined ? { process: true } : {}),
        },
        StepResultSchema,
        timeoutMs + STEP_REPLY_GRACE_MS,
        { signal: abort.signal, verify: (raw) => this.#runnerKeys.verify('exec', holder, req.runId, step, raw) },
      );
      if ((plan.reportCwd && result.cwd) || (plan.reportEnv && result.env)) await this.#remember(req.runId, plan.reportCwd ? result.cwd : undefined, plan.reportEnv ? result.env : undefined);
      await this.#governor.afterStep(record, result).catch((e: unknown) => this.#ctx.log.error({ err: e, runId: req.runId }, 'governance after a step failed'));
      return result;
    } catch (err) {
      if (err instanceof AirlockError && err.code === 'no_runner') {
        throw new AirlockError('runner_lost', `runner ${record.runnerId} that holds run ${req.runId} is not answering`, { cause: err });
      }
      throw err;
    } finally {
      release();
    }
    })();
    return { step, result };
  }

  /**
   * Marks a run's step as waiting on its runner (a lost runner fails it at once) and returns the
   * release. A process of the run may hold the mark: a step the runner will refuse as busy does not take it.
   */
  hold(runId: string, entry: StepInFlight): () => void {
    if (!this.#waiting.has(runId)) this.#waiting.set(runId, entry);
    return () => {
      if (this.#waiting.get(runId) === entry) this.#waiting.delete(runId);
    };
  }

  /** Keeps where a keepCwd step ended, and what a keepEnv step exported, in the run's record (compare-and-set, retried). */
  async #remember(runId: string, cwd: string | undefined, env: Record<string, string> | undefined): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const { record, revision } = await this.#records.get(runId, { fresh: attempt > 0 });
      const next = { ...record, ...(cwd ? { cwd } : {}), ...(env && Object.keys(env).length > 0 ? { sessionEnv: keptEnv(record.sessionEnv, env) } : {}) };
      if (next.cwd === record.cwd && next.sessionEnv === record.sessionEnv) return;
      try {
        await this.#records.save(next, revision);
        return;
      } catch {
        this.#records.forget(runId);
      }
    }
    this.#ctx.log.warn({ runId, cwd }, 'could not keep the working directory in the run record');
  }

  /**
   * Takes the next step number of an open run. Compare-and-set on the record numbers steps without
   * gaps even with concurrent callers; a stale cached revision costs one re-read. Every kind of step
   * (command, file tool, process) comes here first: a paused run, or one whose budget is used up,
   * gets no number (`run_paused`).
   */
  async number(runId: string): Promise<{ record: RunRecord; step: number }> {
    const current = (await this.#records.get(runId)).record;
    if (current.status === 'open') {
      await this.#governor.beforeStep(current);
      // A suspended run gets its sandbox back first (its runner may now be another one).
      await this.#restore(current);
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.#records.get(runId, { fresh: attempt > 0 });
      const record = current.record;
      if (record.status !== 'open') throw new AirlockError('run_closed', `run ${runId} was closed at ${record.closedAt ?? '?'}`);
      // The idle scan suspended it while this step waited: restore it, then number the step.
      if (record.suspended) {
        await this.#restore(record);
        continue;
      }
      const step = record.steps + 1;
      try {
        await this.#records.save({ ...record, steps: step }, current.revision);
        return { record, step };
      } catch (cause) {
        this.#records.forget(runId);
        if (attempt === 2) throw new AirlockError('run_busy', `run ${runId} changed while this step was being numbered; steps of one run are serial`, { cause });
      }
    }
    throw new AirlockError('run_busy', `run ${runId} was suspended and restored while this step was being numbered; send it again`);
  }
}
