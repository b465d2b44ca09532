import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { HarnessHeartbeatSchema, decode, subjects } from '@airlock/proto';
import { abortReason, type HarnessLostError } from './errors.ts';

/** How often a watch looks at the heartbeats it has heard, in ms. */
const CHECK_EVERY_MS = 250;

/**
 * Hears the harness heartbeats (one subscription per client) and tells a wait when the harness it
 * waits on has gone silent. The instances alive when a wait begins are the ones it depends on: if
 * one of them is silent for `lostMs`, the wait fails, even when a new instance (a restarted harness)
 * has appeared meanwhile, since a new harness knows nothing of the request.
 */
export class HarnessWatch {
  readonly lostMs: number;
  readonly #sub: Subscription;
  /** Last heartbeat of each harness instance, by this process's clock. */
  readonly #seen = new Map<string, number>();
  /** The interval each instance announced, in ms. */
  readonly #interval = new Map<string, number>();
  readonly #createdAt = Date.now();

  constructor(nc: NatsConnection, lostMs: number) {
    this.lostMs = lostMs;
    this.#sub = nc.subscribe(subjects.harnessHeartbeat, {
      callback: (err, msg) => {
        if (err) return;
        try {
          const hb = decode(HarnessHeartbeatSchema, msg.data, 'harness heartbeat');
          this.#seen.set(hb.instance, Date.now());
          this.#interval.set(hb.instance, hb.intervalMs);
        } catch {
          // a malformed heartbeat says nothing about the harness
        }
      },
    });
  }

  /** Instances heard from within `lostMs`. */
  alive(now = Date.now()): string[] {
    return [...this.#seen].filter(([, at]) => now - at <= this.lostMs).map(([id]) => id);
  }

  /**
   * Instances beating now: heard within two and a half of their intervals. A wait depends on these
   * only, so one begun just after a harness restart does not hang on the dead instance's last beats.
   */
  beating(now = Date.now()): string[] {
    return [...this.#seen].filter(([id, at]) => now - at <= Math.min(this.lostMs, 2.5 * (this.#interval.get(id) ?? 1000))).map(([id]) => id);
  }

  /**
   * Resolves `work`, unless first the harness goes silent (rejects with {@link HarnessLostError}
   * built by `lost`) or `signal` aborts (rejects with its reason). `work` keeps running either way:
   * only the wait ends.
   */
  async guard<T>(work: Promise<T>, opts: { signal?: AbortSignal | undefined; lost: (silentMs: number) => HarnessLostError }): Promise<T> {
    opts.signal?.throwIfAborted();
    // The abandoned promise must still be handled when it settles later.
    work.catch(() => undefined);
    const started = Date.now();
    const waitedOn = new Set(this.beating(started));
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const ended = new Promise<never>((_, reject) => {
      timer = setInterval(() => {
        const now = Date.now();
        if (waitedOn.size === 0) {
          // Nothing heard when the wait began: depend on the first instance heard, which must come within lostMs.
          for (const id of this.beating(now)) waitedOn.add(id);
          if (waitedOn.size === 0 && now - Math.max(started, this.#createdAt) > this.lostMs) reject(opts.lost(now - started));
          return;
        }
        const quiet = Math.max(...[...waitedOn].map((id) => now - (this.#seen.get(id) ?? 0)));
        if (quiet > this.lostMs) reject(opts.lost(quiet));
      }, CHECK_EVERY_MS);
      if (opts.signal) {
        const signal = opts.signal;
        onAbort = () => reject(abortReason(signal));
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
    ended.catch(() => undefined);
    try {
      return await Promise.race([work, ended]);
    } finally {
      clearInterval(timer);
      if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  close(): void {
    this.#sub.unsubscribe();
  }
}
