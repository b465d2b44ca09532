import { ulid } from 'ulid';
import { AirlockError, PROTOCOL_VERSION, RunnerCloseResultSchema, subjects } from '@airlock/proto';
import type { ApiCloseRequest, ApiOpenRequest, ApiPsRequest, ApiPsResult, Budgets, RunRecord, RunnerOpenRequest, Termination } from '@airlock/proto';
import type { ApprovalBook } from '../approvals/book.ts';
import type { HarnessContext } from '../context.ts';
import { authorizeRun } from '../governance/access.ts';
import { actorOf, type ApiCaller } from '../governance/callers.ts';
import type { RunGovernor } from '../governance/governor.ts';
import type { PolicyGate } from '../policy/gate.ts';
import { askRunner } from '../routing/ask.ts';
import type { RunnerFleet } from '../routing/fleet.ts';
import type { RunnerKeyStore } from '../routing/runner-keys.ts';
import type { RunLogs } from '../run-logs.ts';
import type { RunRecords } from './records.ts';

/** Opening, listing and closing runs: a run's record from the first open to its close reason. */
export class RunLifecycle {
  readonly #ctx: HarnessContext;
  readonly #records: RunRecords;
  readonly #logs: RunLogs;
  readonly #fleet: RunnerFleet;
  readonly #gate: PolicyGate;
  readonly #approvals: ApprovalBook;
  readonly #runnerKeys: RunnerKeyStore;
  readonly #governor: RunGovernor;
  /** Frees a slot when every runner is full (the idle keeper's early suspension), once bound. */
  #onFull: ((fullRunners: ReadonlySet<string>) => Promise<boolean>) | undefined;

  constructor(ctx: HarnessContext, deps: { records: RunRecords; logs: RunLogs; fleet: RunnerFleet; gate: PolicyGate; approvals: ApprovalBook; runnerKeys: RunnerKeyStore; governor: RunGovernor }) {
    this.#ctx = ctx;
    this.#records = deps.records;
    this.#logs = deps.logs;
    this.#fleet = deps.fleet;
    this.#gate = deps.gate;
    this.#approvals = deps.approvals;
    this.#runnerKeys = deps.runnerKeys;
    this.#governor = deps.governor;
    deps.governor.bindClose((runId, opts) => this.close({ v: PROTOCOL_VERSION, runId }, undefined, opts));
  }

  /** Binds what frees a runner slot when a new run finds every one busy (runs/idle.ts). */
  bindOnFull(onFull: (fullRunners: ReadonlySet<string>) => Promise<boolean>): void {
    this.#onFull = onFull;
  }

  async open(req: ApiOpenRequest, caller?: ApiCaller): Promise<RunRecord> {
    const { cfg } = this.#ctx;
    if (req.budgets && caller?.role === 'agent') this.#agentMayOnlyLower(req.budgets);
    const { policy, policyHash } = this.#gate.validator;
    const runId = ulid();
    const body: RunnerOpenRequest = {
      v: PROTOCOL_VERSION,
      runId,
      image: req.image ?? cfg.defaultImage,
      ...(req.workspace ? { workspace: req.workspace } : {}),
      // The policy's workspace unless the request or the harness's configuration names another.
      mountPath: req.mountPath ?? cfg.mountPath ?? policy.workspace,
      env: req.env ?? {},
      limits: this.#gate.limits(),
      runtime: policy.runtime,
      network: 'none',
      policyHash,
      ...(req.fromSnapshot ? { fromSnapshot: req.fromSnapshot } : {}),
    };
    // Every slot busy: the idle keeper may suspend the longest-idle run early (policy `suspendWhenFull`).
    const onFull = this.#onFull;
    const opened = await this.#fleet.open(body, onFull ? { onFull } : {});
    const record: RunRecord = {
      runId,
      runnerId: opened.runnerId,
      status: 'open',
      image: body.image,
      workspace: opened.workspace,
      mountPath: body.mountPath,
      openedAt: new Date().toISOString(),
      steps: 0,
      policyHash,
      ...(req.fromSnapshot ? { fromSnapshot: req.fromSnapshot } : {}),
      ...(req.replayOf ? { replayOf: req.replayOf } : {}),
      env: req.env ?? {},
      moves: 0,
      ...(caller && !caller.stated ? { openedBy: actorOf(caller) } : {}),
      ...(req.budgets ? { budgets: req.budgets } : {}),
      ...(req.keepCwd ? { keepCwd: true } : {}),
      ...(req.keepEnv ? { keepEnv: true } : {}),
    };
    await this.#records.create(record);
    this.#ctx.log.info({ runId, runnerId: opened.runnerId }, 'run opened');
    return record;
  }

  /** Closes a run (an agent: only its own); `opts` when an operator's control ends it. */
  async close(req: ApiCloseRequest, caller?: ApiCaller, given?: { termination: Termination; reason: string }): Promise<RunRecord> {
    const { record } = await this.#records.get(req.runId, { fresh: true });
    if (caller) authorizeRun(caller, req.runId, record.openedBy?.principal);
    if (record.status === 'closed') return record;
    // Its agent's close: the termination follows from the run's state and the outcome it reports (governance/termination.ts).
    const opts = given ?? { termination: await this.#governor.ending(record, { kind: 'close', outcome: req.outcome }), reason: req.outcome === 'failed' ? 'closed by request: the task failed' : 'closed by request' };
    const reason = opts.reason;
    let loggedByRunner = true;
    try {
      await askRunner(this.#ctx.nats.nc, subjects.runnerClose(record.runnerId), { v: PROTOCOL_VERSION, runId: req.runId, reason, termination: opts.termination }, RunnerCloseResultSchema, 60_000, {
        verify: (raw) => this.#runnerKeys.verify('close', record.runnerId, req.runId, 0, raw),
      });
    } catch (err) {
      // The runner is gone or forgot the run: the run is closed all the same, and the log says why.
      if (!(err instanceof AirlockError) || !['no_runner', 'unknown_run', 'timeout'].includes(err.code)) throw err;
      loggedByRunner = false;
      this.#ctx.log.warn({ runId: req.runId, err }, 'runner did not close the run');
    }
    const { control: _control, ...rest } = (await this.#records.get(req.runId, { fresh: true })).record;
    const closed: RunRecord = { ...rest, status: 'closed', closedAt: new Date().toISOString(), closeReason: reason, termination: opts.termination };
    if (!loggedByRunner) await this.#logs.writer(req.runId).append({ type: 'run.closed', reason: `${reason}; runner ${record.runnerId} did not answer`, termination: opts.termination });
    await this.#records.putFinal(closed);
    this.#logs.forget(req.runId);
    this.#governor.forget(req.runId);
    await this.#approvals.expire(req.runId, reason);
    return closed;
  }

  /** Ends a run that cannot go on, with the reason in its log and record. */
  async fail(record: RunRecord, reason: string, termination: Termination = 'runner_lost'): Promise<void> {
    await this.#logs.writer(record.runId).append({ type: 'run.closed', reason, termination });
    const { control: _control, ...rest } = record;
    await this.#records.putFinal({ ...rest, status: 'closed', closedAt: new Date().toISOString(), closeReason: reason, termination });
    this.#governor.forget(record.runId);
    await this.#approvals.expire(record.runId, reason);
    this.#ctx.log.warn({ runId: record.runId, reason }, 'run failed');
  }

  /** An agent may set budgets at open only at or below the policy's: raising them is an operator's call. */
  #agentMayOnlyLower(budgets: Budgets): void {
    const policy = this.#gate.validator.policy.governance?.budgets ?? {};
    for (const [name, value] of Object.entries(budgets) as Array<[keyof Budgets, number | undefined]>) {
      const limit = policy[name];
      if (value !== undefined && limit !== undefined && value > limit) {
        throw new AirlockError('forbidden', `an agent may not open a run with ${name} ${value} over the policy's ${limit}; an operator raises budgets (\`airlock raise\`)`);
      }
    }
  }

  async ps(req: ApiPsRequest): Promise<ApiPsResult> {
    return { runs: await this.#records.list(req.all ?? false) };
  }
}
