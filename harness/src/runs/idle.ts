import { AirlockError, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_IDLE, DEFAULT_SUSPEND_WHEN_FULL, PROTOCOL_VERSION, RunnerCloseResultSchema, durationMs, subjects } from '@airlock/proto';
import type { GovernancePolicy, RunRecord } from '@airlock/proto';
import type { HarnessContext } from '../context.ts';
import type { RunGovernor } from '../governance/governor.ts';
import type { PolicyGate } from '../policy/gate.ts';
import { askRunner } from '../routing/ask.ts';
import type { RunnerFleet } from '../routing/fleet.ts';
import type { RunnerKeyStore } from '../routing/runner-keys.ts';
import type { RunLogs } from '../run-logs.ts';
import type { RunLifecycle } from './lifecycle.ts';
import type { RunRecords } from './records.ts';
import { lastSnapshot, reopenRun } from './restore.ts';
import type { StepDispatcher } from './steps.ts';

/** The idle limits of a policy, in ms (defaults when the policy does not set them). */
export function idleLimits(policy: GovernancePolicy | undefined): { idleTimeoutMs: number; maxIdleMs: number; whenFullMs: number | undefined } {
  const whenFull = policy?.suspendWhenFull ?? DEFAULT_SUSPEND_WHEN_FULL;
  return { idleTimeoutMs: durationMs(policy?.idleTimeout ?? DEFAULT_IDLE_TIMEOUT), maxIdleMs: durationMs(policy?.maxIdle ?? DEFAULT_MAX_IDLE), whenFullMs: whenFull === 'off' ? undefined : durationMs(whenFull) };
}

/** The rooms idle runs touch. */
export interface IdleDeps {
  records: RunRecords;
  logs: RunLogs;
  fleet: RunnerFleet;
  gate: PolicyGate;
  governor: RunGovernor;
  lifecycle: RunLifecycle;
  steps: StepDispatcher;
  runnerKeys: RunnerKeyStore;
}

/** Codes of a restore failure that leave the run suspended (try again later), not lost. */
const RETRY_LATER = new Set(['capacity_exhausted', 'no_runner', 'runner_lost', 'timeout']);

/**
 * Abandoned runs do not hold runner slots. A run with no step for `idleTimeout` (policy) is
 * suspended: its runner removes the sandbox and frees the slot (the workspace is in its last
 * snapshot) and the harness logs `run.suspended` and marks the record (`ps`). Its next step (any
 * kind) first restores it from that snapshot on whichever runner has room, the way a run moves off a
 * lost runner (restore.ts). A run with no step for `maxIdle` is closed (termination `idle`, or
 * `budget`/`loop` when it sat paused for one). The idle clock is the fold of the log
 * (`lastActiveAt`), so a restarted harness goes on counting from the same events.
 */
export class IdleKeeper {
  readonly #ctx: HarnessContext;
  readonly #deps: IdleDeps;
  readonly #idleTimeoutMs: number;
  readonly #maxIdleMs: number;
  /** Least idle time of a run suspended early for a new run when every slot is busy (undefined: never). */
  readonly #whenFullMs: number | undefined;
  /** Suspensions and restores under way, by run: a step waits for the one of its run. */
  readonly #busy = new Map<string, Promise<unknown>>();
  /** Runs whose runner refused to suspend them (a host workspace): only closed at maxIdle. */
  readonly #notSuspendable = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #scanning = false;

  constructor(ctx: HarnessContext, deps: IdleDeps, policy: GovernancePolicy | undefined) {
    this.#ctx = ctx;
    this.#deps = deps;
    ({ idleTimeoutMs: this.#idleTimeoutMs, maxIdleMs: this.#maxIdleMs, whenFullMs: this.#whenFullMs } = idleLimits(policy));
    deps.steps.bindRestore((record) => this.ready(record));
    if (this.#whenFullMs !== undefined) deps.lifecycle.bindOnFull((full) => this.suspendForRoom(full));
  }

  /** Scans the open runs every quarter of the idle timeout (between 200 ms and 30 s). */
  start(): void {
    const every = Math.min(30_000, Math.max(200, Math.floor(this.#idleTimeoutMs / 4)));
    this.#timer = setInterval(() => {
      if (this.#scanning) return;
      this.#scanning = true;
      this.#ctx.track(this.scan().finally(() => (this.#scanning = false)));
    }, every);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** One pass: closes runs idle past maxIdle, suspends runs idle past idleTimeout. */
  async scan(): Promise<void> {
    const { records } = this.#deps;
    for (const record of await records.list(false)) {
      if (this.#busy.has(record.runId)) continue;
      try {
        await this.#consider(record);
      } catch (err) {
        this.#ctx.log.warn({ err, runId: record.runId }, 'idle check of a run failed');
      }
    }
  }

  /**
   * A new run found every slot busy: suspends the run idle longest (at least `suspendWhenFull`) on
   * one of the full runners, as the idle timeout would have later. True when a slot was freed.
   */
  async suspendForRoom(fullRunners: ReadonlySet<string>): Promise<boolean> {
    const minIdleMs = this.#whenFullMs;
    if (minIdleMs === undefined) return false;
    const candidates: Array<{ record: RunRecord; idleMs: number }> = [];
    for (const record of await this.#deps.records.list(false)) {
      if (!fullRunners.has(record.runnerId) || record.suspended || this.#busy.has(record.runId) || this.#notSuspendable.has(record.runId)) continue;
      const idleMs = await this.#idleFor(record).catch(() => undefined);
      if (idleMs !== undefined && idleMs >= minIdleMs) candidates.push({ record, idleMs });
    }
    candidates.sort((a, b) => b.idleMs - a.idleMs);
    for (const { record, idleMs } of candidates) {
      const why = `every runner slot is busy and a new run wants one; this run had no step for ${seconds(idleMs)} (the longest; suspendWhenFull ${seconds(minIdleMs)})`;
      if (this.#busy.has(record.runId)) continue;
      if (await this.#exclusive(record.runId, () => this.#suspend(record, idleMs, why))) {
        this.#ctx.log.info({ runId: record.runId, idleMs }, 'idle run suspended early to free a slot');
        return true;
      }
    }
    return false;
  }

  /** How long the run has had no step (by its log), or undefined while a step runs or it is cancelling. */
  async #idleFor(record: RunRecord): Promise<number | undefined> {
    const { governor, steps } = this.#deps;
    if (steps.inFlight(record.runId)) return undefined;
    let fold = await governor.fold(record);
    if (fold.stepInFlight !== undefined) fold = await governor.reload(record);
    if (fold.stepInFlight !== undefined || fold.state === 'cancelling' || fold.suspended) return undefined;
    return Date.now() - Date.parse(fold.lastActiveAt ?? record.openedAt);
  }

  async #consider(record: RunRecord): Promise<void> {
    const { governor, steps } = this.#deps;
    if (steps.inFlight(record.runId)) return;
    let fold = await governor.fold(record);
    // A step a previous harness sent and never saw end: the log may hold its end by now.
    if (fold.stepInFlight !== undefined) fold = await governor.reload(record);
    if (fold.stepInFlight !== undefined || fold.state === 'cancelling') return;
    const idleMs = Date.now() - Date.parse(fold.lastActiveAt ?? record.openedAt);
    if (idleMs >= this.#maxIdleMs) {
      await this.#exclusive(record.runId, () => this.#expire(record, idleMs));
      return;
    }
    if (idleMs >= this.#idleTimeoutMs && !record.suspended && !fold.suspended && !this.#notSuspendable.has(record.runId)) {
      await this.#exclusive(record.runId, () => this.#suspend(record, idleMs));
    }
  }

  /** Runs `fn` as the run's only suspension or restore; a step of the run waits for it ({@link ready}). */
  async #exclusive<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    while (this.#busy.has(runId)) await this.#busy.get(runId)!.catch(() => undefined);
    const p = fn();
    this.#busy.set(runId, p);
    try {
      return await p;
    } finally {
      this.#busy.delete(runId);
    }
  }

  async #expire(record: RunRecord, idleMs: number): Promise<void> {
    const { lifecycle, governor } = this.#deps;
    const termination = await governor.ending(record, { kind: 'idle' });
    const reason = `no step for ${seconds(idleMs)} (maxIdle ${seconds(this.#maxIdleMs)})${termination !== 'idle' ? `; it sat paused (${termination})` : ''}: closed`;
    await lifecycle.close({ v: PROTOCOL_VERSION, runId: record.runId }, undefined, { termination, reason });
    this.#notSuspendable.delete(record.runId);
    this.#ctx.log.info({ runId: record.runId, idleMs, termination }, 'idle run closed');
  }

  /** Suspends the run (`why`: for the log; absent: the idle timeout). True when its slot was freed. */
  async #suspend(seen: RunRecord, idleMs: number, why?: string): Promise<boolean> {
    const { records, logs, runnerKeys } = this.#deps;
    const { record, revision } = await records.get(seen.runId, { fresh: true });
    if (record.status !== 'open' || record.suspended || record.steps !== seen.steps) return false;
    const last = await lastSnapshot(logs, record);
    if (!last) {
      this.#notSuspendable.add(record.runId);
      this.#ctx.log.warn({ runId: record.runId }, 'idle run has no snapshot to restore from: not suspended');
      return false;
    }
    const suspended = { at: new Date().toISOString(), afterStep: last.step, snapshot: last.digest, runnerId: record.runnerId };
    // Claimed in the record first: a step numbered meanwhile changed its revision, and the run stays.
    try {
      await records.save({ ...record, suspended }, revision);
    } catch {
      records.forget(record.runId);
      return false;
    }
    const reason = `${why ?? `no step for ${seconds(idleMs)} (idleTimeout ${seconds(this.#idleTimeoutMs)})`}: sandbox removed, slot freed; the next step restores the workspace`;
    let released: boolean | undefined;
    try {
      const r = await askRunner(this.#ctx.nats.nc, subjects.runnerClose(record.runnerId), { v: PROTOCOL_VERSION, runId: record.runId, reason, suspend: true }, RunnerCloseResultSchema, 60_000, {
        verify: (raw) => runnerKeys.verify('close', record.runnerId, record.runId, 0, raw),
      });
      released = r.workspaceReleased;
    } catch (err) {
      await this.#unclaim(record.runId);
      if (err instanceof AirlockError && err.code === 'invalid_state') this.#notSuspendable.add(record.runId);
      this.#ctx.log.info({ runId: record.runId, err: (err as Error).message }, 'idle run not suspended');
      return false;
    }
    await logs.writer(record.runId).append({ type: 'run.suspended', runnerId: record.runnerId, afterStep: last.step, snapshot: last.digest, idleMs: Math.round(idleMs), reason, ...(released !== undefined ? { workspaceReleased: released } : {}) });
    this.#ctx.log.info({ runId: record.runId, runnerId: record.runnerId, afterStep: last.step, idleMs }, 'idle run suspended');
    return true;
  }

  /** Takes the suspension mark off a run whose runner did not suspend it. */
  async #unclaim(runId: string): Promise<void> {
    const { records } = this.#deps;
    for (let attempt = 0; attempt < 5; attempt++) {
      const { record, revision } = await records.get(runId, { fresh: true });
      if (!record.suspended) return;
      const { suspended: _s, ...rest } = record;
      try {
        await records.save(rest, revision);
        return;
      } catch {
        records.forget(runId);
      }
    }
  }

  /**
   * Before a step is numbered: waits for a suspension of the run under way, and restores a suspended
   * run (fresh sandbox, workspace from its snapshot). The record the step goes on with.
   */
  async ready(record: RunRecord): Promise<RunRecord> {
    if (!record.suspended && !this.#busy.has(record.runId)) return record;
    return this.#exclusive(record.runId, async () => {
      const { record: now } = await this.#deps.records.get(record.runId, { fresh: true });
      if (!now.suspended || now.status !== 'open') return now;
      return this.#restore(now, now.suspended);
    });
  }

  async #restore(record: RunRecord, suspended: NonNullable<RunRecord['suspended']>): Promise<RunRecord> {
    const { fleet, gate, records, lifecycle, governor } = this.#deps;
    const from = { step: suspended.afterStep, digest: suspended.snapshot };
    let opened;
    try {
      // Every slot busy: another run idle long enough gives its slot up, as for a new run.
      const onFull = this.#whenFullMs !== undefined ? { onFull: (full: ReadonlySet<string>) => this.suspendForRoom(full) } : {};
      opened = await reopenRun(fleet, gate, record, from, suspended.runnerId, `restored after idle suspension at ${suspended.at}`, onFull);
    } catch (err) {
      if (err instanceof AirlockError && RETRY_LATER.has(err.code)) {
        throw new AirlockError(err.code, `run ${record.runId} is suspended (idle) and could not be restored now: ${err.message}; try the step again`, { cause: err });
      }
      const reason = `the suspended run's sandbox could not be restored from the snapshot after step ${from.step} (${from.digest.slice(0, 12)}): ${(err as Error).message}`;
      await lifecycle.close({ v: PROTOCOL_VERSION, runId: record.runId }, undefined, { termination: 'sandbox_lost', reason });
      throw new AirlockError('run_closed', `run ${record.runId} was closed: ${reason}`, { cause: err });
    }
    for (let attempt = 0; ; attempt++) {
      const current = await records.get(record.runId, { fresh: true });
      const { suspended: _s, ...rest } = current.record;
      try {
        await records.save({ ...rest, runnerId: opened.runnerId, workspace: opened.workspace }, current.revision);
        break;
      } catch (err) {
        if (attempt >= 4) throw err;
      }
    }
    governor.restored(record.runId);
    this.#ctx.log.info({ runId: record.runId, runnerId: opened.runnerId, afterStep: from.step }, 'suspended run restored');
    return (await records.get(record.runId, { fresh: true })).record;
  }
}

function seconds(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 100) / 10} s`;
}
