import { AirlockError } from '@airlock/proto';
import type { HarnessContext } from '../context.ts';
import type { PolicyGate } from '../policy/gate.ts';
import type { RunLifecycle } from './lifecycle.ts';
import type { RunLogs } from '../run-logs.ts';
import type { RunRecords } from './records.ts';
import { lastSnapshot, reopenRun } from './restore.ts';
import type { StepDispatcher } from './steps.ts';
import type { RunnerFleet } from '../routing/fleet.ts';

/**
 * Moves runs off lost runners: fails their in-flight steps (`step.lost`) and restores each run's
 * last snapshot into a fresh sandbox on another runner. Runs pinned to runners this harness never
 * heard from (it restarted, they died meanwhile) are moved too, after a grace period.
 */
export class RunRelocator {
  readonly #ctx: HarnessContext;
  readonly #fleet: RunnerFleet;
  readonly #records: RunRecords;
  readonly #logs: RunLogs;
  readonly #lifecycle: RunLifecycle;
  readonly #steps: StepDispatcher;
  readonly #gate: PolicyGate;
  readonly #startedAt: number;
  /** Runs being moved (one move at a time per run). */
  readonly #moving = new Set<string>();
  #lastScan = 0;

  constructor(ctx: HarnessContext, deps: { fleet: RunnerFleet; records: RunRecords; logs: RunLogs; lifecycle: RunLifecycle; steps: StepDispatcher; gate: PolicyGate; startedAt: number }) {
    this.#ctx = ctx;
    this.#fleet = deps.fleet;
    this.#records = deps.records;
    this.#logs = deps.logs;
    this.#lifecycle = deps.lifecycle;
    this.#steps = deps.steps;
    this.#gate = deps.gate;
    this.#startedAt = deps.startedAt;
  }

  /** One pass of the monitor: declares silent runners lost and starts moving the runs they held. */
  async check(): Promise<void> {
    const { cfg } = this.#ctx;
    const now = Date.now();
    const lostNow = this.#fleet.declareSilentLost(now);
    const scanUnknown = now - this.#startedAt > 2 * cfg.runnerLostMs && now - this.#lastScan > 5000;
    if (lostNow.length === 0 && !scanUnknown) return;
    if (scanUnknown) this.#lastScan = now;
    const runs = await this.#records.list(false);
    for (const r of runs) {
      // A suspended run has no sandbox to move: its next step restores it (runs/idle.ts).
      if (r.suspended) continue;
      const gone = this.#fleet.isLost(r.runnerId) || (scanUnknown && !this.#fleet.hasSeen(r.runnerId));
      if (!gone || this.#moving.has(r.runId)) continue;
      const reason = this.#fleet.hasSeen(r.runnerId) ? `no heartbeat for over ${cfg.runnerLostMs} ms` : 'never heard from since the harness started';
      this.#ctx.track(this.#move(r.runId, r.runnerId, reason));
    }
  }

  async #move(runId: string, lostRunner: string, reason: string): Promise<void> {
    this.#moving.add(runId);
    const log = this.#logs.writer(runId);
    try {
      await log.append({ type: 'runner.lost', runnerId: lostRunner, reason });
      const waiting = this.#steps.inFlight(runId);
      if (waiting && waiting.runnerId === lostRunner) {
        await log.append({ type: 'step.lost', step: waiting.step, runnerId: lostRunner, reason });
        waiting.abort.abort(new AirlockError('runner_lost', `runner ${lostRunner} was lost during step ${waiting.step} (${reason}); the run moves to another runner from its last snapshot`));
      }
      const { record } = await this.#records.get(runId, { fresh: true });
      if (record.status !== 'open' || record.runnerId !== lostRunner) return;
      const last = await lastSnapshot(this.#logs, record);
      if (!last) {
        await this.#lifecycle.fail(record, `runner ${lostRunner} was lost and the run has no snapshot to restore`);
        return;
      }
      let opened;
      try {
        opened = await reopenRun(this.#fleet, this.#gate, record, last, lostRunner, `runner ${lostRunner} lost: ${reason}`);
      } catch (err) {
        await this.#lifecycle.fail(record, `runner ${lostRunner} was lost and no runner could take the run: ${(err as Error).message}`);
        return;
      }
      const current = await this.#records.get(runId, { fresh: true });
      await this.#records.save({ ...current.record, runnerId: opened.runnerId, workspace: opened.workspace, moves: current.record.moves + 1 }, current.revision);
      this.#ctx.log.info({ runId, from: lostRunner, to: opened.runnerId, afterStep: last.step }, 'run moved');
    } catch (err) {
      this.#ctx.log.error({ err, runId }, 'could not move a run off a lost runner');
    } finally {
      this.#moving.delete(runId);
    }
  }
}
