import { z } from 'zod';
import { RunIdSchema, VersionSchema } from './common.ts';

/** Bytes in one `api.snapshot` answer (base64 in the reply stays well under NATS's 1 MiB payload). */
export const SNAPSHOT_READ_CHUNK_BYTES = 512 * 1024;

/**
 * A piece of a run's workspace as it was after a step (`subjects.api.snapshot`), read through the
 * harness: agents have no right on the snapshot stores, so this is how they restore or export their
 * own runs' snapshots. `what` is `manifest` (the snapshot's listing, whose SHA-256 is its digest) or
 * the SHA-256 of a file the listing names. The first request opens a read; while the answer says
 * `done: false`, ask again with its `cursor` for the next bytes.
 */
export const ApiSnapshotReadRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  step: z.number().int().nonnegative(),
  what: z.union([z.literal('manifest'), z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 (64 lowercase hex digits)')]),
  cursor: z.string().min(1).max(64).optional(),
});
export type ApiSnapshotReadRequest = z.infer<typeof ApiSnapshotReadRequestSchema>;

export const ApiSnapshotReadResultSchema = z.object({
  runId: RunIdSchema,
  step: z.number().int().nonnegative(),
  /** The snapshot's digest (the SHA-256 of its manifest). */
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  /** The next bytes, base64. */
  data: z.string(),
  done: z.boolean(),
  /** Where the next request continues (absent when `done`). */
  cursor: z.string().min(1).max(64).optional(),
});
export type ApiSnapshotReadResult = z.infer<typeof ApiSnapshotReadResultSchema>;
