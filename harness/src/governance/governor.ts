import { AirlockError, DEFAULT_INTERRUPT_GRACE_MS, GovernancePolicySchema, PROTOCOL_VERSION, egressApprovalId } from '@airlock/proto';
import type { Actor, ApiControlRequest, Budgets, GovernancePolicy, RunRecord, RunState, StepResult, Termination } from '@airlock/proto';
import { indexControl, isControlEntry } from '@airlock/ledger';
import type { HarnessContext } from '../context.ts';
import type { RunLogs } from '../run-logs.ts';
import type { RunRecords } from '../runs/records.ts';
import { exhausted, mergeBudgets } from './budgets.ts';
import { applyEvent, applyResult, emptyFold, type RunFold } from './fold.ts';
import { detectLoop } from './loops.ts';
import { terminationOf, type Ending } from './termination.ts';

/** How the governor ends a run (the lifecycle's close, with a typed termination). */
export type CloseRun = (runId: string, opts: { termination: Termination; reason: string }) => Promise<unknown>;

/** How the governor interrupts a running step (`pause --interrupt`): SIGINT, then SIGTERM after the grace (governance/interrupt.ts). */
export type InterruptStep = (runId: string, step: number, graceMs: number) => void;

/**
 * Governs runs: operators' controls (pause, resume, cancel, kill, raise budgets) as idempotent
 * events in the run's log, budgets checked before every step, loop detection after every step. A
 * run's state is the fold of its log ({@link RunFold}); the fold is cached, and rebuilt from the
 * log (checked writers only) after a restart.
 */
export class RunGovernor {
  readonly #ctx: HarnessContext;
  readonly #logs: RunLogs;
  readonly #records: RunRecords;
  readonly #policy: GovernancePolicy;
  readonly #folds = new Map<string, Promise<RunFold>>();
  #close: CloseRun | undefined;
  #interrupt: InterruptStep | undefined;

  constructor(ctx: HarnessContext, deps: { logs: RunLogs; records: RunRecords; policy: GovernancePolicy | undefined }) {
    this.#ctx = ctx;
    this.#logs = deps.logs;
    this.#records = deps.records;
    this.#policy = deps.policy ?? GovernancePolicySchema.parse({});
    // Events the harness writes keep the cached folds current (runner events come with step results).
    deps.logs.onAppend((runId, e) => {
      const f = this.#folds.get(runId);
      if (f) void f.then((fold) => applyEvent(fold, e), () => undefined);
      // Controls and governance actions are listed for reviewers beside verdicts (`./airlock audit --rule control`).
      if (isControlEntry(e)) ctx.track(indexControl(ctx.nats.js, e).catch((err: unknown) => ctx.log.error({ err, runId, type: e.type, seq: e.seq }, 'could not index a control for audit')));
    });
  }

  /** The lifecycle closes runs; it is built after the governor (it asks the governor before steps). */
  bindClose(close: CloseRun): void {
    this.#close = close;
  }

  /** Interrupting a step goes through the process desk, built after the governor. */
  bindInterrupt(interrupt: InterruptStep): void {
    this.#interrupt = interrupt;
  }

  /** The fold of a run's log: cached, else read from the log (events by writers that could have written them). */
  fold(record: RunRecord): Promise<RunFold> {
    let f = this.#folds.get(record.runId);
    if (!f) {
      f = this.#rebuild(record);
      // A failed read is not kept: the next call reads again.
      f.catch(() => this.#folds.delete(record.runId));
      this.#folds.set(record.runId, f);
    }
    return f;
  }

  async #rebuild(record: RunRecord): Promise<RunFold> {
    const fold = emptyFold();
    for (const { event, forged } of await this.#logs.checked(record.runId, record.runnerId)) {
      if (forged) continue;
      // Controls and governance are the harness's word only.
      if ((event.type === 'run.control' || event.type === 'run.governed') && event.by !== 'harness') continue;
      applyEvent(fold, event);
    }
    return fold;
  }

  /** The run's budgets: the policy's, the run's own (at open), and what operators raised. */
  budgets(record: RunRecord, fold: RunFold): Budgets {
    return mergeBudgets(this.#policy.budgets, record.budgets, fold.raised);
  }

  /** What `watch` shows: state, pause cause, budgets and usage. */
  async state(record: RunRecord, live?: { stepInFlight?: number | undefined }): Promise<RunState> {
    const f = await this.fold(record);
    // The step this harness is waiting on (its fold may hold a step a previous harness never finished).
    const inFlight = live ? live.stepInFlight : f.stepInFlight;
    const closed = record.status === 'closed';
    return {
      runId: record.runId,
      state: closed ? 'closed' : f.state,
      ...(f.paused && !closed ? { paused: f.paused } : {}),
      ...(closed || f.termination ? { termination: record.termination ?? f.termination ?? 'succeeded' } : {}),
      budgets: this.budgets(record, f),
      used: { ...f.used },
      warnings: f.warnings,
      ...(inFlight !== undefined && !closed ? { stepInFlight: inFlight } : {}),
      ...(f.lastControl ? { lastControl: f.lastControl } : {}),
      ...(f.lastActiveAt && !closed ? { lastActiveAt: f.lastActiveAt } : {}),
      ...(f.suspended && !closed ? { suspended: f.suspended } : {}),
    };
  }

  /**
   * Before a step is numbered: refuses it while the run is paused or being cancelled, and pauses the
   * run (typed cause, in its log) when a budget is used up.
   */
  async beforeStep(record: RunRecord): Promise<void> {
    const f = await this.fold(record);
    if (f.state === 'cancelling' || f.termination === 'killed') throw new AirlockError('run_closed', `run ${record.runId} is being ${f.termination === 'killed' ? 'killed' : 'cancelled'}; no new step starts`);
    if (f.state === 'paused' && f.paused) throw pausedError(record.runId, f.paused);
    const over = exhausted(this.budgets(record, f), f.used);
    if (over) {
      const reason = `the run used its ${over.budget} budget (${over.used} of ${over.limit}); an operator may raise it (\`airlock raise ${record.runId} --${over.budget} N\`) and resume`;
      await this.#logs.writer(record.runId).append({ type: 'run.governed', action: 'pause', cause: { kind: 'budget', ...over }, reason });
      await this.#markControl(record.runId, 'paused');
      this.#ctx.log.warn({ runId: record.runId, ...over }, 'run paused: budget used up');
      throw pausedError(record.runId, (await this.fold(record)).paused!);
    }
  }

  /** After a step was refused by the policy (deny or held): the denial detector may pause the run. */
  async afterRefusal(record: RunRecord): Promise<void> {
    await this.#detect(record);
  }

  /**
   * After a step's result: counts it, runs the loop detectors (a detection pauses the run or warns,
   * with the steps as evidence), and closes a run an operator cancelled while the step ran.
   */
  async afterStep(record: RunRecord, result: StepResult): Promise<void> {
    const f = await this.fold(record);
    applyResult(f, result.step, result, result.snapshot);
    f.lastActiveAt = new Date().toISOString();
    if (f.state === 'closed' || f.termination === 'killed') return;
    if (f.state === 'cancelling') {
      await this.#close?.(record.runId, { termination: terminationOf(f, { kind: 'cancel' }), reason: 'cancelled by an operator after the step that was running' });
      return;
    }
    await this.#detect(record);
  }

  async #detect(record: RunRecord): Promise<void> {
    const f = await this.fold(record);
    const found = detectLoop(f.trace, this.#policy.loops);
    if (!found) return;
    const action = this.#policy.loops[found.detector].action;
    if (action === 'off') return;
    const reason = `loop detected (${found.detector}): ${found.reason}, steps ${found.steps.join(', ')}${action === 'pause' ? `; an operator resumes it with \`airlock resume ${record.runId}\`` : ''}`;
    await this.#logs.writer(record.runId).append({ type: 'run.governed', action, cause: { kind: 'loop', detector: found.detector, steps: found.steps }, reason });
    if (action === 'pause') await this.#markControl(record.runId, 'paused');
    this.#ctx.log.warn({ runId: record.runId, detector: found.detector, steps: found.steps, action }, 'loop detected');
  }

  /**
   * Applies an operator's control: stored once per request id (the same request again gets the same
   * answer and writes nothing), refused when it does not apply to the run's state.
   */
  async control(req: ApiControlRequest, actor: Actor, opts: { stepInFlight: number | undefined }): Promise<RunState> {
    const { record } = await this.#records.get(req.runId, { fresh: true });
    const f = await this.fold(record);
    const seen = f.applied.get(req.requestId);
    if (seen) {
      if (seen.verb !== req.verb) throw new AirlockError('invalid_state', `request id ${req.requestId} was already used for ${seen.verb}; use a new one`);
      return this.state((await this.#records.get(req.runId, { fresh: true })).record, opts);
    }
    if (record.status === 'closed') {
      if (req.verb === 'cancel' || req.verb === 'kill') return this.state(record, opts);
      throw new AirlockError('invalid_state', `run ${req.runId} is closed (${record.termination ?? record.closeReason ?? 'closed'}); nothing to ${req.verb}`);
    }
    this.#precondition(req, record, f);
    const log = this.#logs.writer(req.runId);
    // The step to interrupt: the one this harness waits on, else the one the log says is running (a previous harness's).
    const running = opts.stepInFlight ?? f.stepInFlight;
    const interrupt = req.verb === 'pause' && req.interrupt && running !== undefined ? { step: running, graceMs: req.graceMs ?? DEFAULT_INTERRUPT_GRACE_MS } : undefined;
    await log.append({ type: 'run.control', verb: req.verb, requestId: req.requestId, ...(req.reason ? { reason: req.reason } : {}), ...(req.budgets ? { budgets: req.budgets } : {}), ...(interrupt ? { interrupt } : {}), actor });
    this.#ctx.log.info({ runId: req.runId, verb: req.verb, by: actor }, 'run control');
    switch (req.verb) {
      case 'pause':
        await this.#markControl(req.runId, 'paused');
        if (interrupt) this.#interrupt?.(req.runId, interrupt.step, interrupt.graceMs);
        break;
      case 'resume':
        await this.#markControl(req.runId, 'running');
        break;
      case 'cancel':
        if (opts.stepInFlight !== undefined) await this.#markControl(req.runId, 'cancelling');
        else await this.#close?.(req.runId, { termination: terminationOf(f, { kind: 'cancel' }), reason: `cancelled by ${actor.principal}${req.reason ? `: ${req.reason}` : ''}` });
        break;
      case 'kill':
        await this.#close?.(req.runId, { termination: 'killed', reason: `killed by ${actor.principal}${req.reason ? `: ${req.reason}` : ''}` });
        break;
      case 'raise':
        break;
    }
    return this.state((await this.#records.get(req.runId, { fresh: true })).record, opts);
  }

  /**
   * An operator denied a held step and asked for the run to be paused (`reject_pause`): a pause
   * control in the operator's name, once per held request (its request id names the step, and the
   * egress hold: a step in flight may hold several connections, and a resume between two denials
   * must not make the second one's pause a replay of the first). A run already paused, being
   * cancelled or closed is left as it is.
   */
  async pauseForDenial(runId: string, step: number, actor: Actor, hold?: number): Promise<void> {
    const { record } = await this.#records.get(runId, { fresh: true });
    const f = await this.fold(record);
    if (record.status === 'closed' || f.state !== 'running') return;
    const what = hold === undefined ? `step ${step}` : `egress ${egressApprovalId(step, hold)}`;
    const requestId = `deny-pause.${runId}.${step}${hold === undefined ? '' : `-${hold}`}`;
    const req = { v: PROTOCOL_VERSION, runId, verb: 'pause' as const, requestId, reason: `${what} was denied and the run paused` };
    await this.control(req, actor, { stepInFlight: undefined });
  }

  #precondition(req: ApiControlRequest, record: RunRecord, f: RunFold): void {
    const refuse = (why: string): never => {
      throw new AirlockError('invalid_state', `cannot ${req.verb} run ${req.runId}: ${why}`, { data: { state: f.state } });
    };
    if (f.state === 'cancelling' && req.verb !== 'kill') refuse('it is being cancelled');
    if (req.verb === 'pause' && f.state === 'paused') refuse('it is already paused');
    if (req.verb === 'resume' && f.state !== 'paused') refuse('it is not paused');
    if (req.verb === 'raise') {
      if (!req.budgets || Object.keys(req.budgets).length === 0) refuse('name the budgets to raise (steps, activeMs, outputBytes, cpuSeconds, cost)');
      const now = this.budgets(record, f);
      for (const [name, value] of Object.entries(req.budgets!) as Array<[keyof Budgets, number]>) {
        if (value <= f.used[name]) refuse(`${name} ${value} is not above what the run used (${f.used[name]})`);
        if (now[name] !== undefined && value < now[name]) refuse(`${name} ${value} would lower the budget (${now[name]}); raise only`);
      }
    }
  }

  /** Mirrors the fold's state into the run record, so `ps` shows it. */
  async #markControl(runId: string, control: NonNullable<RunRecord['control']>): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const { record, revision } = await this.#records.get(runId, { fresh: true });
      if (record.status === 'closed') return;
      try {
        await this.#records.save({ ...record, control }, revision);
        return;
      } catch {
        // A step was numbered meanwhile: read again.
      }
    }
    this.#ctx.log.warn({ runId, control }, 'could not show the run state in its record (the log holds it)');
  }

  /** The typed termination of a run that ends now (rules in termination.ts). */
  async ending(record: RunRecord, ending: Ending): Promise<Termination> {
    const f = await this.fold(record).catch(() => undefined);
    return terminationOf(f, ending);
  }

  /** Reads the run's fold from its log again (a previous harness may have left a step it never saw end). */
  reload(record: RunRecord): Promise<RunFold> {
    this.#folds.delete(record.runId);
    return this.fold(record);
  }

  /** The runner restored the suspended run (its `run.moved` is a runner event the cache does not see). */
  restored(runId: string): void {
    const f = this.#folds.get(runId);
    if (f) void f.then((fold) => {
      delete fold.suspended;
      fold.lastActiveAt = new Date().toISOString();
    }, () => undefined);
  }

  /** Forgets a closed run's fold. */
  forget(runId: string): void {
    this.#folds.delete(runId);
  }
}

function pausedError(runId: string, paused: NonNullable<RunFold['paused']>): AirlockError {
  const who = paused.cause.kind === 'operator' ? `by ${paused.by?.principal ?? 'an operator'}` : `by the harness (${paused.cause.kind === 'budget' ? `budget ${paused.cause.budget}` : `loop ${paused.cause.detector}`})`;
  return new AirlockError('run_paused', `run ${runId} is paused ${who}: ${paused.reason}; no step starts until an operator resumes it (\`airlock resume ${runId}\`)`, { data: { cause: paused.cause, reason: paused.reason } });
}
