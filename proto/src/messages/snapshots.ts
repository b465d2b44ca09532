import { z } from 'zod';
import { RunIdSchema, VersionSchema } from './common.ts';

/**
 * Most bytes of unified patches one diff reply carries (a NATS message is at most 1 MiB by default):
 * past it, files are still listed but their patches are marked `omitted`; ask again for fewer files
 * (`paths`) to see them.
 */
export const MAX_DIFF_PATCH_BYTES = 512 * 1024;
/** Most paths one diff reply lists per kind (added, modified, deleted); `truncated` says when there were more. */
export const MAX_DIFF_PATHS = 5_000;

/** What changed in a run's workspace between the snapshots after two of its steps (0 = as the run opened). */
export const ApiDiffRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  fromStep: z.number().int().min(0),
  /** Default: the run's latest snapshot. */
  toStep: z.number().int().min(0).optional(),
  /** Unified diffs of text files (default false: paths only). */
  patch: z.boolean().optional(),
  /** Only these workspace-relative paths (exact, or a directory prefix ending in `/`). */
  paths: z.array(z.string().min(1).max(4096)).max(1000).optional(),
});
export type ApiDiffRequest = z.infer<typeof ApiDiffRequestSchema>;

export const DiffChangeSchema = z.object({
  path: z.string(),
  change: z.enum(['added', 'modified', 'deleted']),
  type: z.enum(['file', 'dir', 'symlink']),
  /** Size after the change (before it, for a deletion). */
  size: z.number().int().min(0),
  /** For a modification: whether the content (or link target) changed, not only mode or type. */
  contentChanged: z.boolean().optional(),
});
export type DiffChange = z.infer<typeof DiffChangeSchema>;

export const DiffPatchSchema = z.discriminatedUnion('kind', [
  z.object({ path: z.string(), kind: z.literal('text'), patch: z.string() }),
  /** binary: not text; too_large: a side is over the store's patch limit; omitted: past this reply's byte budget. */
  z.object({ path: z.string(), kind: z.enum(['binary', 'too_large', 'omitted']) }),
]);
export type DiffPatch = z.infer<typeof DiffPatchSchema>;

export const ApiDiffResultSchema = z.object({
  runId: RunIdSchema,
  from: z.object({ step: z.number().int(), digest: z.string() }),
  to: z.object({ step: z.number().int(), digest: z.string() }),
  changes: z.array(DiffChangeSchema),
  patches: z.array(DiffPatchSchema).optional(),
  /** More paths changed than one reply lists (MAX_DIFF_PATHS per kind). */
  truncated: z.boolean(),
});
export type ApiDiffResult = z.infer<typeof ApiDiffResultSchema>;
