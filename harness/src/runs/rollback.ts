// `rollback RUN --to-step N` as its own job (issue 14): one operator plans it (the diff that would be
// undone, shown to them), a second operator approves or rejects it (two-person rule, `governance.
// rollbackTwoPerson` in policy, on unless set false; the requester never decides their own), and an
// approved job is applied to the workspace only (runner/src/rollback.ts): at once on approval, or by a
// separate `apply`. A rejected job changes nothing and can be neither approved nor applied. Each phase
// is an event in the run's log with its actors (and indexed for `audit`), so a job survives a harness
// restart. Refused while a step runs.
import type { KeyObject } from 'node:crypto';
import { ulid } from 'ulid';
import { indexRollback } from '@airlock/ledger';
import { AirlockError, PROTOCOL_VERSION, RunnerRollbackResultSchema, rollbackText, subjects } from '@airlock/proto';
import type { Actor, ApiRollbackRequest, LogEvent, LogEventInput, RollbackDiff, RollbackJob, RunRecord } from '@airlock/proto';
import type { SnapshotStore } from '@airlock/snapshot';
import type { LazySnapshotStore } from '../snapshots/store.ts';
import { newJobClaims, signJob } from '@airlock/trust';
import type { HarnessContext } from '../context.ts';
import { actorOf, type ApiCaller } from '../governance/callers.ts';
import { stepFacts, statusOf } from '../processes/state.ts';
import { askRunner } from '../routing/ask.ts';
import type { RunnerKeyStore } from '../routing/runner-keys.ts';
import type { RunLogs } from '../run-logs.ts';
import type { RunRecords } from './records.ts';
import type { StepDispatcher } from './steps.ts';

/** Paths listed per kind in a plan's event (the counts are always exact). */
const MAX_PATHS = 200;
/** A text file's diff shown in a plan, per side. */
const MAX_PATCH_BYTES = 64 * 1024;

type RollbackEvent = Extract<LogEvent, { type: 'run.rollback' }>;

/** The run's rollback jobs, folded from its log (the harness's events only). */
export function foldRollbacks(events: readonly LogEvent[]): Map<string, RollbackJob> {
  const jobs = new Map<string, RollbackJob>();
  for (const e of events) {
    if (e.type !== 'run.rollback' || e.by !== 'harness') continue;
    const job = jobs.get(e.jobId);
    if (e.phase === 'planned') {
      jobs.set(e.jobId, { jobId: e.jobId, runId: e.runId as RollbackJob['runId'], toStep: e.toStep, status: 'planned', target: e.target, current: e.current, diff: e.diff ?? emptyDiff(), requestedBy: e.requestedBy, ...(e.reason ? { reason: e.reason } : {}) });
    } else if (job) {
      job.status = e.phase;
      if (e.approvedBy) job.approvedBy = e.approvedBy;
      if (e.rejectedBy) job.rejectedBy = e.rejectedBy;
      if (e.appliedBy) job.appliedBy = e.appliedBy;
      if (e.error) job.error = e.error;
      if (e.snapshot) job.snapshot = e.snapshot;
    }
  }
  return jobs;
}

function emptyDiff(): RollbackDiff {
  return { added: [], modified: [], deleted: [], counts: { added: 0, modified: 0, deleted: 0 } };
}

/** The fields every phase event of a job repeats. */
function jobFields(job: RollbackJob): { type: 'run.rollback'; jobId: string; toStep: number; target: string; current: string; requestedBy: Actor } {
  return { type: 'run.rollback', jobId: job.jobId, toStep: job.toStep, target: job.target, current: job.current, requestedBy: job.requestedBy };
}

/** ` (approved by X)` / ` (rejected by X)`, for refusals. */
function decidedBy(job: RollbackJob): string {
  if (job.rejectedBy) return ` (rejected by ${job.rejectedBy.principal})`;
  return job.approvedBy ? ` (approved by ${job.approvedBy.principal})` : '';
}

/** The last snapshot of the run, and the last one after step `step`. */
function snapshots(events: readonly LogEvent[], step: number): { last?: string; at?: string } {
  let last: string | undefined;
  let at: string | undefined;
  for (const e of events) {
    if (e.type !== 'snapshot.created') continue;
    last = e.digest;
    if (e.step === step) at = e.digest;
  }
  return { ...(last ? { last } : {}), ...(at ? { at } : {}) };
}

/** The step running now, by the log (a previous harness's step too), if any. */
function executing(events: readonly LogEvent[]): number | undefined {
  for (const [step, f] of stepFacts(events)) {
    const { status } = statusOf(f);
    if (status === 'running' || status === 'starting') return step;
  }
  return undefined;
}

/** Plans, approves and applies rollbacks. */
export class RollbackDesk {
  readonly #ctx: HarnessContext;
  readonly #records: RunRecords;
  readonly #logs: RunLogs;
  readonly #steps: StepDispatcher;
  readonly #runnerKeys: RunnerKeyStore;
  readonly #key: KeyObject;
  readonly #twoPerson: boolean;
  readonly #store: LazySnapshotStore;

  constructor(ctx: HarnessContext, deps: { records: RunRecords; logs: RunLogs; steps: StepDispatcher; runnerKeys: RunnerKeyStore; key: KeyObject; snapshots: LazySnapshotStore; twoPerson: boolean }) {
    this.#ctx = ctx;
    this.#records = deps.records;
    this.#logs = deps.logs;
    this.#steps = deps.steps;
    this.#runnerKeys = deps.runnerKeys;
    this.#key = deps.key;
    this.#twoPerson = deps.twoPerson;
    this.#store = deps.snapshots;
  }

  /** `plan`, `approve` or `show`. */
  async handle(req: ApiRollbackRequest, caller: ApiCaller): Promise<RollbackJob> {
    const { record } = await this.#records.get(req.runId, { fresh: true });
    const events = (await this.#logs.checked(req.runId, record.runnerId)).filter((c) => !c.forged).map((c) => c.event);
    switch (req.action) {
      case 'plan':
        return this.#plan(req, record, events, actorOf(caller));
      case 'approve':
        return this.#approve(req, record, events, actorOf(caller));
      case 'reject':
        return this.#reject(req, events, actorOf(caller));
      case 'apply':
        return this.#applyApproved(req, record, events, actorOf(caller));
      case 'show':
        return this.#withPatches(this.#job(req, events));
    }
  }

  #job(req: ApiRollbackRequest, events: readonly LogEvent[]): RollbackJob {
    if (!req.jobId) throw new AirlockError('bad_request', 'name the rollback job (--job)');
    const job = foldRollbacks(events).get(req.jobId);
    if (!job) throw new AirlockError('bad_request', `run ${req.runId} has no rollback job ${req.jobId}`);
    return job;
  }

  #refuseBusy(record: RunRecord, events: readonly LogEvent[]): void {
    if (record.status !== 'open') throw new AirlockError('run_closed', `run ${record.runId} is closed; nothing to roll back`);
    const step = this.#steps.inFlight(record.runId)?.step ?? executing(events);
    if (step !== undefined) throw new AirlockError('run_busy', `run ${record.runId} is executing step ${step}; a rollback is refused while a step runs (pause it, or wait)`, { data: { step } });
  }

  async #plan(req: ApiRollbackRequest, record: RunRecord, events: readonly LogEvent[], by: Actor): Promise<RollbackJob> {
    if (req.toStep === undefined) throw new AirlockError('bad_request', 'name the step to roll back to (--to-step N)');
    this.#refuseBusy(record, events);
    const { last, at } = snapshots(events, req.toStep);
    if (!at || !last) throw new AirlockError('bad_request', `run ${req.runId} has no snapshot after step ${req.toStep}`);
    if (at === last) throw new AirlockError('invalid_state', `the workspace of run ${req.runId} is already as it was after step ${req.toStep}; nothing to roll back`);
    const store = await this.#snapshots();
    const d = await store.diff(last, at);
    const paths = (list: Array<{ path: string }>) => list.slice(0, MAX_PATHS).map((e) => e.path);
    const diff: RollbackDiff = { added: paths(d.added), modified: paths(d.modified), deleted: paths(d.deleted), counts: { added: d.added.length, modified: d.modified.length, deleted: d.deleted.length } };
    const jobId = `rb-${ulid()}`;
    await this.#record(record.runId, { type: 'run.rollback', phase: 'planned', jobId, toStep: req.toStep, target: at, current: last, diff, requestedBy: by, ...(req.reason ? { reason: req.reason } : {}), actor: by });
    this.#ctx.log.info({ runId: req.runId, jobId, toStep: req.toStep, by }, 'rollback planned');
    return this.#withPatches({ jobId, runId: record.runId, toStep: req.toStep, status: 'planned', target: at, current: last, diff, requestedBy: by, ...(req.reason ? { reason: req.reason } : {}) });
  }

  /** The two-person rule: whoever planned a job does not decide it. */
  #refuseOwn(job: RollbackJob, by: Actor, verb: 'approve' | 'reject'): void {
    if (this.#twoPerson && job.requestedBy.principal === by.principal) {
      throw new AirlockError('forbidden', `${by.principal} planned rollback ${job.jobId} and may not ${verb} it: a second operator must (two-person rule)`, { data: { rule: 'two_person' } });
    }
  }

  #refuseDecided(job: RollbackJob): void {
    if (job.status !== 'planned') throw new AirlockError('already_decided', `rollback ${job.jobId} is already ${job.status}${decidedBy(job)}`);
  }

  /** Stores one phase of a job in the run's log and indexes it for `audit`. */
  async #record(runId: RollbackJob['runId'], event: Extract<LogEventInput, { type: 'run.rollback' }>): Promise<void> {
    const stored = await this.#logs.writer(runId).append(event);
    if (stored.type === 'run.rollback') await indexRollback(this.#ctx.nats.js, stored).catch((err: unknown) => this.#ctx.log.error({ err, runId, jobId: event.jobId }, 'could not index a rollback for audit'));
  }

  async #approve(req: ApiRollbackRequest, record: RunRecord, events: readonly LogEvent[], by: Actor): Promise<RollbackJob> {
    const job = this.#job(req, events);
    this.#refuseOwn(job, by, 'approve');
    this.#refuseDecided(job);
    const apply = req.apply !== false;
    if (apply) this.#refuseUnappliable(job, record, events);
    await this.#record(record.runId, { ...jobFields(job), phase: 'approved', approvedBy: by, actor: by });
    const approved: RollbackJob = { ...job, status: 'approved', approvedBy: by };
    return apply ? this.#apply(approved, record, by, false) : approved;
  }

  async #reject(req: ApiRollbackRequest, events: readonly LogEvent[], by: Actor): Promise<RollbackJob> {
    const job = this.#job(req, events);
    this.#refuseOwn(job, by, 'reject');
    this.#refuseDecided(job);
    await this.#record(job.runId, { ...jobFields(job), phase: 'rejected', rejectedBy: by, actor: by, ...(req.reason ? { reason: req.reason } : {}) });
    this.#ctx.log.info({ runId: req.runId, jobId: job.jobId, requestedBy: job.requestedBy, rejectedBy: by }, 'rollback rejected');
    return { ...job, status: 'rejected', rejectedBy: by };
  }

  /** `apply`: an approved job (by any operator; the decision was the second operator's). */
  async #applyApproved(req: ApiRollbackRequest, record: RunRecord, events: readonly LogEvent[], by: Actor): Promise<RollbackJob> {
    const job = this.#job(req, events);
    if (job.status !== 'approved') {
      const why = job.status === 'planned' ? 'it is not approved yet: a second operator approves it first' : `it is ${job.status}${decidedBy(job)}`;
      throw new AirlockError(job.status === 'planned' ? 'invalid_state' : 'already_decided', `rollback ${job.jobId} cannot be applied: ${why}`);
    }
    this.#refuseUnappliable(job, record, events);
    return this.#apply(job, record, by, true);
  }

  /** Refused while a step runs, while the run is suspended, or when the workspace moved on since the plan. */
  #refuseUnappliable(job: RollbackJob, record: RunRecord, events: readonly LogEvent[]): void {
    this.#refuseBusy(record, events);
    if (record.suspended) throw new AirlockError('invalid_state', `run ${record.runId} is suspended (no sandbox): run a step to restore it, then apply rollback ${job.jobId}`);
    const { last } = snapshots(events, job.toStep);
    if (last !== job.current) throw new AirlockError('invalid_state', `the workspace of run ${record.runId} changed since rollback ${job.jobId} was planned; plan it again`);
  }

  /** Has the runner put the workspace back; `separately`: an `applying` event names who asked. */
  async #apply(job: RollbackJob, record: RunRecord, by: Actor, separately: boolean): Promise<RollbackJob> {
    const base = { ...jobFields(job), ...(job.approvedBy ? { approvedBy: job.approvedBy } : {}), ...(separately ? { appliedBy: by } : {}), actor: by };
    if (separately) await this.#record(record.runId, { ...base, phase: 'applying' });
    const step = Math.max(1, record.steps);
    const token = signJob(newJobClaims({ runId: record.runId, step, policyHash: record.policyHash, cmd: rollbackText(job.target) }), this.#key);
    let snapshot: string;
    try {
      const r = await askRunner(
        this.#ctx.nats.nc,
        subjects.runnerRollback(record.runnerId),
        { v: PROTOCOL_VERSION, runId: record.runId, step, digest: job.target, policyHash: record.policyHash, token },
        RunnerRollbackResultSchema,
        120_000,
        { verify: (raw) => this.#runnerKeys.verify('rollback', record.runnerId, record.runId, step, raw) },
      );
      snapshot = r.snapshot;
    } catch (err) {
      const error = (err as Error)?.message ?? String(err);
      await this.#record(record.runId, { ...base, phase: 'failed', error });
      throw err;
    }
    await this.#record(record.runId, { ...base, phase: 'applied', snapshot });
    this.#ctx.log.info({ runId: record.runId, jobId: job.jobId, requestedBy: job.requestedBy, approvedBy: job.approvedBy, appliedBy: by }, 'rollback applied');
    return { ...job, status: 'applied', ...(separately ? { appliedBy: by } : {}), snapshot };
  }

  /** The job with the text diffs of what it changes (computed again: they are not in the log). */
  async #withPatches(job: RollbackJob): Promise<RollbackJob> {
    const d = await (await this.#snapshots()).diff(job.current, job.target, { patch: true, maxPatchBytes: MAX_PATCH_BYTES });
    return { ...job, patches: (d.patches ?? []).map((p) => ({ path: p.path, kind: p.kind, ...('patch' in p && p.patch ? { patch: p.patch } : {}) })) };
  }

  #snapshots(): Promise<SnapshotStore> {
    return this.#store.get();
  }
}
