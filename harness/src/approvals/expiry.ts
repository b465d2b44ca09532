import type { Logger } from '../logger.ts';
import type { ApprovalBook } from './book.ts';

/**
 * Expires held requests nobody decided in time, now and then (every quarter of the expiry, between
 * 1 s and 60 s), so an expired request shows as a denial in its run's log even if nobody lists the
 * approvals. Listing and deciding expire due requests too, so a restarted harness catches up at once.
 */
export function startExpirySweep(book: ApprovalBook, expiryMs: number, log: Logger): { stop(): void } {
  const everyMs = Math.min(60_000, Math.max(1000, Math.floor(expiryMs / 4)));
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    book
      .expireDue()
      .catch((err: unknown) => log.error({ err }, 'could not expire held requests'))
      .finally(() => (running = false));
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
