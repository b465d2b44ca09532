import { throwIfAborted } from './errors.ts';

/**
 * Runs `fn` over `items` with at most `concurrency` in flight. The first failure stops new work,
 * waits for the running ones to settle, and is rethrown.
 */
export async function forEachLimit<T>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        throwIfAborted(signal);
        await fn(items[i] as T, i);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failed !== undefined) throw failed.err;
}
