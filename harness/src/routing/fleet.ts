import type { Msg } from '@nats-io/transport-node';
import { AirlockError, RunnerHeartbeatSchema, RunnerOpenResultSchema, decode, subjects } from '@airlock/proto';
import type { ApiStatusResult, RunnerHeartbeat, RunnerOpenRequest } from '@airlock/proto';
import type { HarnessContext } from '../context.ts';
import { askRunner } from './ask.ts';
import type { RunnerKeyStore } from './runner-keys.ts';

/**
 * The runners this harness hears from: their heartbeats, which of them are lost, and the offer of a
 * new run to whichever has a free slot. It knows nothing of what runs on them beyond the opens in flight.
 */
export class RunnerFleet {
  readonly #ctx: HarnessContext;
  readonly #keys: RunnerKeyStore;
  readonly #runners = new Map<string, RunnerHeartbeat>();
  /** When each runner's last heartbeat arrived (this process's clock). */
  readonly #seen = new Map<string, number>();
  /** Runners declared lost; a heartbeat from one of them brings it back. */
  readonly #lost = new Set<string>();
  /** Opens in flight, by run id: the runner that said it took each (from heartbeats), and how to abort the wait. */
  readonly #opens = new Map<string, { runnerId?: string; abort: AbortController }>();

  constructor(ctx: HarnessContext, keys: RunnerKeyStore) {
    this.#ctx = ctx;
    this.#keys = keys;
  }

  /** Takes a heartbeat off the bus; one not signed by the runner it names is ignored (anyone may publish one). */
  heartbeat(msg: Msg): void {
    try {
      const hb = decode(RunnerHeartbeatSchema, msg.data, 'heartbeat');
      if (!this.#keys.learn(hb.runnerId, hb.keys)) {
        this.#keys.warnOnce(hb.runnerId, 'ignored heartbeats of a runner whose keys are not the pinned ones (or not pinned at all)');
        return;
      }
      try {
        this.#keys.verify('heartbeat', hb.runnerId, '-', 0, JSON.parse(new TextDecoder().decode(msg.data)));
      } catch {
        this.#keys.warnOnce(hb.runnerId, 'ignored a heartbeat not signed by the runner it names');
        return;
      }
      this.#runners.set(hb.runnerId, hb);
      for (const runId of hb.openingRunIds ?? []) {
        const open = this.#opens.get(runId);
        if (open) open.runnerId = hb.runnerId;
      }
      this.#seen.set(hb.runnerId, Date.now());
      this.#lost.delete(hb.runnerId);
    } catch (e) {
      this.#ctx.log.warn({ err: e }, 'ignored a malformed heartbeat');
    }
  }

  /**
   * Declares lost the runners whose heartbeats stopped (and aborts the opens they took, so those are
   * offered again); returns the ones lost just now.
   */
  declareSilentLost(now: number): string[] {
    const lostNow: string[] = [];
    for (const [id, at] of this.#seen) {
      if (!this.#lost.has(id) && now - at > this.#ctx.cfg.runnerLostMs) {
        this.#lost.add(id);
        lostNow.push(id);
        this.#ctx.log.warn({ runnerId: id, silentMs: now - at }, 'runner lost');
        for (const [runId, open] of this.#opens) {
          if (open.runnerId === id) open.abort.abort(new AirlockError('runner_lost', `runner ${id} was lost while preparing run ${runId}`));
        }
      }
    }
    return lostNow;
  }

  /** The runner whose signed heartbeat says it is opening `runId` now (an open or a move in flight). */
  openingBy(runId: string): string | undefined {
    return this.#opens.get(runId)?.runnerId;
  }

  isLost(runnerId: string): boolean {
    return this.#lost.has(runnerId);
  }

  /** Whether this harness has heard from the runner since it started. */
  hasSeen(runnerId: string): boolean {
    return this.#seen.has(runnerId);
  }

  /** The runners alive now, as `status` shows them. */
  live(now: number): ApiStatusResult['runners'] {
    return (
      [...this.#runners.values()]
        // One rule for liveness: what `declareSilentLost` would not declare lost (receipt time, not the runner's clock).
        .filter((hb) => now - (this.#seen.get(hb.runnerId) ?? 0) <= this.#ctx.cfg.runnerLostMs)
        .map((hb) => ({ runnerId: hb.runnerId, slots: hb.slots, used: hb.used, seenAt: hb.ts }))
    );
  }

  /** The live runners, when every one of them is full by its last heartbeat (else undefined). */
  #fullRunners(): ReadonlySet<string> | undefined {
    const live = this.live(Date.now());
    if (live.length === 0 || live.some((r) => r.used < r.slots)) return undefined;
    return new Set(live.map((r) => r.runnerId));
  }

  /**
   * Offers a run to the runners' queue group until one with a free slot takes it. A full runner
   * answers `capacity_exhausted`; the offer is repeated with backoff until `openTimeoutMs`, then the
   * caller gets that error: open requests wait (bounded) instead of overloading a runner. When every
   * runner's heartbeat says it is full, `onFull` may free a slot (an idle run suspended early, given
   * the runners that are full); the offer is then repeated at once.
   */
  async open(body: RunnerOpenRequest, opts: { onFull?: (fullRunners: ReadonlySet<string>) => Promise<boolean> } = {}) {
    const { cfg } = this.#ctx;
    const deadline = Date.now() + cfg.openTimeoutMs;
    let delay = 100;
    for (;;) {
      // A runner that takes the run says so in its heartbeat; if it is lost before it answers, the
      // wait is aborted and the run offered again.
      const open = { abort: new AbortController() } as { runnerId?: string; abort: AbortController };
      this.#opens.set(body.runId, open);
      try {
        // Once a runner took the run, preparing the workspace (ownership, first snapshot) may take a while.
        // Any runner may answer the shared open subject: the reply counts only if signed by the runner it names.
        return await askRunner(this.#ctx.nats.nc, subjects.runnerOpen, body, RunnerOpenResultSchema, cfg.openRequestTimeoutMs, {
          signal: open.abort.signal,
          verify: (raw, opened) => {
            if (!this.#keys.learn(opened.runnerId, opened.keys)) {
              throw new AirlockError('verification_failed', `runner ${opened.runnerId} answered the open of run ${body.runId} with keys that are not ${this.#keys.pinned ? 'pinned' : 'the ones it used before'}; refused`);
            }
            this.#keys.verify('open', opened.runnerId, body.runId, 0, raw);
            if (opened.runId !== body.runId) throw new AirlockError('verification_failed', `runner ${opened.runnerId} answered the open of run ${body.runId} for run ${opened.runId}`);
          },
        });
      } catch (err) {
        const retry = err instanceof AirlockError && (err.code === 'capacity_exhausted' || err.code === 'no_runner' || err.code === 'runner_lost');
        if (err instanceof AirlockError && err.code === 'capacity_exhausted' && opts.onFull && Date.now() < deadline) {
          const full = this.#fullRunners();
          if (full && (await opts.onFull(full))) {
            delay = 100;
            continue;
          }
        }
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
}
