import type { ContainerClient, DockerEvent } from './docker/client.ts';
import type { Logger } from './logger.ts';

/** Backoff between resubscriptions to the engine's event stream: doubles from the first to the last. */
const RESUBSCRIBE_FIRST_MS = 100;
const RESUBSCRIBE_MAX_MS = 5000;
/** A stream that lasted this long was healthy: the next failure starts the backoff again. */
const HEALTHY_STREAM_MS = 30_000;
/** Seen-event keys kept to drop events a resubscription delivers twice. */
const SEEN_LIMIT = 4096;

/**
 * What the engine's event stream said about sandboxes: OOM events counted per container (a step
 * compares the count before its exec with the count after: no clock decides it) and containers
 * reported dead, until their run replaces them.
 */
export class SandboxEvents {
  readonly #ooms = new Map<string, number>();
  readonly #died = new Set<string>();
  /** Keys of events already counted: a resubscription from `since` repeats the last second's events. */
  readonly #seen = new Set<string>();
  /** The engine's time of the newest event seen (ns digits), where a resubscription starts. */
  #lastNano = '';

  /** Feeds one engine event; an event seen before (redelivered after a resubscription) is ignored. */
  readonly onEvent = (e: DockerEvent): void => {
    if (e.timeNano) {
      const key = `${e.timeNano}:${e.containerId}:${e.action}`;
      if (this.#seen.has(key)) return;
      this.#seen.add(key);
      if (this.#seen.size > SEEN_LIMIT) this.#seen.delete(this.#seen.values().next().value!);
      if (e.timeNano.length > this.#lastNano.length || (e.timeNano.length === this.#lastNano.length && e.timeNano > this.#lastNano)) this.#lastNano = e.timeNano;
    }
    if (e.action === 'oom') this.#ooms.set(e.containerId, (this.#ooms.get(e.containerId) ?? 0) + 1);
    if (e.action === 'die') this.#died.add(e.containerId);
  };

  /**
   * Follows the engine's events until `signal` aborts. When the stream ends or fails it is opened
   * again, with backoff, from the time of the last event seen (so nothing in between is missed; the
   * repeats are dropped), and each interruption is logged. Never rejects.
   */
  async watch(docker: ContainerClient, signal: AbortSignal, log: Logger): Promise<void> {
    let backoff = RESUBSCRIBE_FIRST_MS;
    // Before the first event, a resubscription starts where the previous stream was opened (this
    // host's clock, one second early to cover a skew; repeats are dropped anyway).
    let openedAt = '';
    while (!signal.aborted) {
      const opened = Date.now();
      if (!openedAt) openedAt = String(Math.floor(opened / 1000) - 1);
      const since = this.#lastNano ? sinceOf(this.#lastNano) : openedAt;
      let failure: unknown;
      try {
        await docker.events(signal, this.onEvent, { since });
      } catch (err) {
        failure = err;
      }
      if (signal.aborted) return;
      if (Date.now() - opened > HEALTHY_STREAM_MS) backoff = RESUBSCRIBE_FIRST_MS;
      if (failure !== undefined) log.warn({ err: failure, retryInMs: backoff, since }, 'the Docker event stream failed; resubscribing');
      else log.warn({ retryInMs: backoff, since }, 'the Docker event stream ended; resubscribing');
      await new Promise<void>((resolve) => {
        const stop = () => {
          clearTimeout(t);
          resolve();
        };
        // Removed again after each wait: a long-lived runner resubscribes many times.
        const t = setTimeout(() => {
          signal.removeEventListener('abort', stop);
          resolve();
        }, backoff);
        signal.addEventListener('abort', stop, { once: true });
      });
      backoff = Math.min(backoff * 2, RESUBSCRIBE_MAX_MS);
    }
  }

  /** OOM events seen so far for a container. */
  ooms(containerId: string): number {
    return this.#ooms.get(containerId) ?? 0;
  }

  died(containerId: string): boolean {
    return this.#died.has(containerId);
  }

  /** Forgets a container that was replaced. */
  forget(containerId: string): void {
    this.#ooms.delete(containerId);
    this.#died.delete(containerId);
  }
}

/** Docker's `since` ("seconds.nanoseconds") for an event time in nanosecond digits. */
function sinceOf(nano: string): string {
  const s = nano.padStart(10, '0');
  return `${s.slice(0, -9) || '0'}.${s.slice(-9)}`;
}
