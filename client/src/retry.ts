import { AirlockError } from '@airlock/proto';
import { abortReason } from './errors.ts';

/** Options of {@link withRetry}. */
export interface RetryOptions {
  /** Tries in all, the first included. Default 4. */
  attempts?: number;
  /** Wait before the second try, in ms; doubles each time up to `maxDelayMs`. Default 250. */
  baseDelayMs?: number;
  /** Longest wait between tries, in ms. Default 5000. */
  maxDelayMs?: number;
  /** Stops retrying (and a wait between tries) with the signal's reason. */
  signal?: AbortSignal;
  /** Called before each retry with the error that caused it. */
  onRetry?: (err: AirlockError, attempt: number) => void;
}

/**
 * Calls `fn` until it succeeds, retrying only failures whose code the error table marks
 * `retryable` (never from message text), with exponential backoff. Anything else is thrown at once.
 *
 * Opt in per call, and only for calls safe to repeat: a retried `exec` after `harness_lost` or
 * `runner_lost` runs the command again (a step that had started may have had effects; read
 * `run.result(step)` first when that matters).
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 4;
  let delay = opts.baseDelayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (!(err instanceof AirlockError) || !err.retryable || attempt >= attempts || opts.signal?.aborted) throw err;
      opts.onRetry?.(err, attempt);
      await pause(delay, opts.signal);
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 5000);
    }
  }
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first (or already has). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
