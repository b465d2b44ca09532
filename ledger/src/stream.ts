import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { names, subjects } from '@airlock/proto';

/** How long JetStream remembers publish ids to drop a retried publish. */
export const DUPLICATE_WINDOW_NS = 120 * 1_000_000_000;

/**
 * Creates the run-log stream when it does not exist. File storage, so the log survives a
 * nats-server restart; limits retention (nothing is deleted by consumers reading it).
 */
export async function ensureLogStream(jsm: JetStreamManager, opts: { replicas?: number } = {}): Promise<void> {
  try {
    await jsm.streams.info(names.logStream);
    return;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    await jsm.streams.add({
      name: names.logStream,
      subjects: [subjects.logAll],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      duplicate_window: DUPLICATE_WINDOW_NS,
      num_replicas: opts.replicas ?? 1,
      max_msg_size: 1024 * 1024,
      allow_direct: true,
    });
  } catch (err) {
    // Another process created it between our check and our add.
    if (!/already in use|exists/i.test(String(err))) throw err;
  }
}

export function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string } | null;
  if (!e) return false;
  if (e.api_error?.err_code === 10059 || e.api_error?.err_code === 10037) return true;
  return e.code === '404' || e.code === 404 || /not found/i.test(String(e.message ?? ''));
}
