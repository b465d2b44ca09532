import { DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { names, subjects } from '@airlock/proto';

/** How long JetStream remembers publish ids to drop a retried publish. */
export const DUPLICATE_WINDOW_NS = 120 * 1_000_000_000;

/**
 * Creates the run-log stream when it does not exist. File storage, so the log survives a
 * nats-server restart; limits retention (nothing is deleted by consumers reading it).
 */
export function ensureLogStream(jsm: JetStreamManager, opts: { replicas?: number } = {}): Promise<void> {
  return ensureStream(jsm, names.logStream, [subjects.logAll], opts.replicas ?? 1, { max_msg_size: 1024 * 1024, allow_direct: true });
}

/** Creates a file-backed, limits-retention stream unless it exists (another process may race us). */
export async function ensureStream(jsm: JetStreamManager, name: string, streamSubjects: string[], replicas: number, extra: Partial<StreamConfig> = {}): Promise<void> {
  try {
    await jsm.streams.info(name);
    return;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    await jsm.streams.add({
      name,
      subjects: streamSubjects,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      duplicate_window: DUPLICATE_WINDOW_NS,
      num_replicas: replicas,
      ...extra,
    });
  } catch (err) {
    // Another process created it between our check and our add.
    if (!(err instanceof JetStreamApiError && err.code === STREAM_NAME_IN_USE)) throw err;
  }
}

/** JetStream's `err_code` for "stream name already in use with a different configuration". */
const STREAM_NAME_IN_USE = 10058;

/** The JetStream API answered "no such stream" or "no such message" (by code, not by text). */
export function isNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamNotFound || err.code === JetStreamApiCodes.NoMessageFound);
}
