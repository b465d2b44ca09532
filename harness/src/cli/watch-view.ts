import { AirlockError } from '@airlock/proto';
import type { Approval, Budgets, LogEvent, RunState, Termination } from '@airlock/proto';
import { applyEvent, emptyFold, type RunFold } from '../governance/fold.ts';

/**
 * What only the harness knows of a run's view: the budgets (the policy's merged with the run's own;
 * raises are in the log too), the held steps (the approvals bucket) and the termination of a closed
 * record. Everything else in the view is folded from the log the watcher reads.
 */
export interface HarnessPart {
  budgets: Budgets;
  held: Array<Pick<Approval, 'step' | 'cmd' | 'rule' | 'status'>>;
  /** The harness wrote the closed record (the runner logs `run.closed` a moment before). */
  closed: boolean;
  termination?: Termination;
}

/**
 * The run's governance state (pause and why, usage, controls, suspension), folded from its log as
 * the watcher reads it, by the harness's own rule (`governance/fold.ts`; controls and governance
 * actions count only as the harness's word). A view shown after an event therefore always holds
 * that event: a pause resumed before the harness could be asked, or stored while the harness
 * restarts, is still shown, and showing it never waits for the harness.
 */
export class LogFold {
  readonly #fold: RunFold = emptyFold();

  add(e: LogEvent): void {
    if ((e.type === 'run.control' || e.type === 'run.governed') && e.by !== 'harness') return;
    applyEvent(this.#fold, e);
  }

  /** The state part of the view: the log's fold, with the budgets (and a closed record's termination) from the harness. */
  state(runId: string, harness: HarnessPart): RunState {
    const f = this.#fold;
    const closed = f.state === 'closed';
    return {
      runId,
      state: f.state,
      ...(f.paused && !closed ? { paused: f.paused } : {}),
      ...(closed || f.termination ? { termination: f.termination ?? harness.termination ?? 'succeeded' } : {}),
      // Raised budgets are in the log: shown at once, before the harness is asked again.
      budgets: { ...harness.budgets, ...f.raised },
      used: { ...f.used },
      warnings: f.warnings,
      ...(f.stepInFlight !== undefined && !closed ? { stepInFlight: f.stepInFlight } : {}),
      ...(f.lastControl ? { lastControl: f.lastControl } : {}),
      ...(f.lastActiveAt && !closed ? { lastActiveAt: f.lastActiveAt } : {}),
      ...(f.suspended && !closed ? { suspended: f.suspended } : {}),
    };
  }
}

/** How long a change waits for the harness's part of its view before it is shown with the last one known. */
export const HARNESS_WAIT_MS = 2000;
/** Pause between asks while the harness does not answer (it may be restarting). */
const RETRY_MS = 500;

/**
 * Keeps the harness's part of a watch view current without ever holding a change back for long:
 * one ask at a time, retried while the harness does not answer (retryable errors), each answer
 * handed to `onAnswer`. An error that is not retryable (e.g. `forbidden`) is kept and thrown by the
 * next {@link refresh} or {@link failure} call.
 */
export class HarnessPartKeeper {
  readonly #ask: () => Promise<HarnessPart>;
  readonly #onAnswer: (part: HarnessPart) => void;
  readonly #signal: AbortSignal;
  #inFlight: Promise<void> | undefined;
  /** Asked again once the ask in flight ends: a change came while it was on its way. */
  #again = false;
  #failed: unknown;

  constructor(ask: () => Promise<HarnessPart>, onAnswer: (part: HarnessPart) => void, signal: AbortSignal) {
    this.#ask = ask;
    this.#onAnswer = onAnswer;
    this.#signal = signal;
  }

  /**
   * Asks for a fresh harness part and waits for it at most `waitMs` (the answer still lands later
   * through `onAnswer`). Resolves true when it came in time.
   */
  async refresh(waitMs = HARNESS_WAIT_MS): Promise<boolean> {
    this.failure();
    if (this.#inFlight) this.#again = true;
    else this.#inFlight = this.#run().finally(() => (this.#inFlight = undefined));
    const inFlight = this.#inFlight;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((done) => (timer = setTimeout(() => done(false), waitMs)));
    try {
      return await Promise.race([inFlight.then(() => true), late]);
    } finally {
      clearTimeout(timer);
      this.failure();
    }
  }

  /** Throws the error that stopped the asks, if one did. */
  failure(): void {
    if (this.#failed !== undefined) throw this.#failed;
  }

  async #run(): Promise<void> {
    do {
      this.#again = false;
      for (;;) {
        if (this.#signal.aborted) return;
        try {
          this.#onAnswer(await this.#ask());
          break;
        } catch (err) {
          if (this.#signal.aborted) return;
          if (!(err instanceof AirlockError) || !err.retryable) {
            this.#failed = err;
            return;
          }
          await new Promise((r) => setTimeout(r, RETRY_MS));
        }
      }
    } while (this.#again);
  }
}
