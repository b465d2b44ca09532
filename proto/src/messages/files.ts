// File tools: read, write, edit, list and stat of workspace files without a shell. Each call is a
// numbered step of its run (logged, policy-checked, snapshotted) like a command.
import { z } from 'zod';
import { RunIdSchema, StepNumberSchema, VersionSchema } from './common.ts';
import { ReplySignatureSchema } from './exec.ts';

/** Default cap on the bytes one `read` returns. */
export const DEFAULT_READ_BYTES = 256 * 1024;
/** Largest `maxBytes` a `read` may ask for (the reply must fit a NATS message). */
export const MAX_READ_BYTES = 512 * 1024;
/** Largest content one `write` carries (it crosses NATS and the sandbox's argv). */
export const MAX_WRITE_BYTES = 512 * 1024;
/** Most entries one `list` returns. */
export const MAX_LIST_ENTRIES = 5000;

/** A workspace path as the caller gives it: relative to the workspace, or absolute inside it. */
export const FilePathSchema = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => !p.includes('\0'), 'a path has no NUL byte');

/** The file operations (`op`), each with its own fields. */
export const FileOpSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('read'),
    path: FilePathSchema,
    /** First line to return, 1-based (default 1). */
    fromLine: z.number().int().min(1).optional(),
    /** Last line to return, inclusive (default: to the end, within `maxBytes`). */
    toLine: z.number().int().min(1).optional(),
    /** Cap on the bytes returned (default {@link DEFAULT_READ_BYTES}); beyond it `truncated` is set. */
    maxBytes: z.number().int().positive().max(MAX_READ_BYTES).optional(),
  }),
  z.object({
    op: z.literal('write'),
    path: FilePathSchema,
    /** The whole new content: UTF-8 text, or base64 with `encoding: 'base64'`. */
    content: z.string().max(Math.ceil((MAX_WRITE_BYTES * 4) / 3) + 4),
    encoding: z.enum(['utf8', 'base64']).default('utf8'),
    /** Create missing parent directories (default true). */
    createDirs: z.boolean().optional(),
    /** File mode for a new file, e.g. 0o644 (default 0o644; an existing file keeps its mode). */
    mode: z.number().int().min(0).max(0o777).optional(),
  }),
  z.object({
    op: z.literal('edit'),
    path: FilePathSchema,
    /** Exact text to find (no regex, no whitespace folding). */
    search: z.string().min(1).max(MAX_WRITE_BYTES),
    replace: z.string().max(MAX_WRITE_BYTES),
    /**
     * When `search` occurs more than once: `all` replaces every occurrence, a number (1-based)
     * replaces that occurrence only. Absent: more than one occurrence is refused (`edit_ambiguous`).
     */
    occurrence: z.union([z.literal('all'), z.number().int().min(1)]).optional(),
  }),
  z.object({
    op: z.literal('list'),
    path: FilePathSchema,
    /** How deep to descend (1 = the directory's own entries; max 8). */
    depth: z.number().int().min(1).max(8).optional(),
  }),
  z.object({ op: z.literal('stat'), path: FilePathSchema }),
]);
export type FileOp = z.infer<typeof FileOpSchema>;
export type FileOpName = FileOp['op'];

/** CLI/SDK -> harness: one file operation as the next step of a run. */
export const ApiFileRequestSchema = z.object({ v: VersionSchema, runId: RunIdSchema, file: FileOpSchema });
export type ApiFileRequest = z.infer<typeof ApiFileRequestSchema>;

/** One directory entry of a `list`, or what `stat` says about a path. */
export const FileEntrySchema = z.object({
  /** Workspace-relative path. */
  path: z.string(),
  type: z.enum(['file', 'dir', 'symlink', 'other']),
  size: z.number().int().nonnegative(),
  /** Permission bits, e.g. 0o644. */
  mode: z.number().int().nonnegative(),
  /** Last modification, ms since the epoch. */
  mtimeMs: z.number(),
  /** Where a symlink points (as stored in the link). */
  target: z.string().optional(),
});
export type FileEntry = z.infer<typeof FileEntrySchema>;

/** What a file step returns (the fields of its operation are set). */
export const FileResultSchema = z.object({
  runId: RunIdSchema,
  step: StepNumberSchema,
  op: z.enum(['read', 'write', 'edit', 'list', 'stat']),
  /** Workspace-relative path the operation worked on (after resolving `..` and, for reads, symlinks). */
  path: z.string(),
  /** read: the text (UTF-8), or base64 when `binary`. */
  content: z.string().optional(),
  /** read: the file is not UTF-8 text (or has NUL bytes): `content` is base64 of the bytes. */
  binary: z.boolean().optional(),
  /** read: the size cap or the line range cut the content. */
  truncated: z.boolean().optional(),
  /** read: lines in the whole file; the first and last line returned. */
  totalLines: z.number().int().nonnegative().optional(),
  fromLine: z.number().int().nonnegative().optional(),
  toLine: z.number().int().nonnegative().optional(),
  /** Size of the file in bytes (after the write or edit). */
  size: z.number().int().nonnegative().optional(),
  /** sha256 (hex) of the whole file (after the write or edit). */
  sha256: z.string().optional(),
  /** write: the file did not exist before. */
  created: z.boolean().optional(),
  /** edit: how many occurrences were replaced. */
  replaced: z.number().int().nonnegative().optional(),
  /** edit: the 1-based line of the first replacement. */
  line: z.number().int().nonnegative().optional(),
  /** list: the entries (sorted by path); `truncated` when more than {@link MAX_LIST_ENTRIES}. */
  entries: z.array(FileEntrySchema).optional(),
  /** stat: the entry (absent when the path does not exist: `exists: false`). */
  entry: FileEntrySchema.optional(),
  exists: z.boolean().optional(),
  /** Log sequence of the step's `step.exited` event. */
  logSeq: z.number().int().nonnegative(),
  /** The snapshot taken after the step. */
  snapshot: z.string().optional(),
  sig: ReplySignatureSchema.optional(),
});
export type FileResult = z.infer<typeof FileResultSchema>;

/**
 * Harness -> runner: run a file operation as step `step`. `token` is a job token whose command is
 * {@link fileOpText} of `file`: it binds the exact operation (path, content hash, search/replace).
 */
export const RunnerFileRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  step: StepNumberSchema,
  file: FileOpSchema,
  policyHash: z.string().regex(/^[0-9a-f]{64}$/),
  token: z.string().max(4096),
});
export type RunnerFileRequest = z.infer<typeof RunnerFileRequestSchema>;

/** The `step.file` log event's summary of what a file step did (never the content itself). */
export const FileStepSummarySchema = z.object({
  op: z.enum(['read', 'write', 'edit', 'list', 'stat']),
  path: z.string(),
  ok: z.boolean(),
  /** The typed error when not ok (e.g. `edit_no_match`), and its message. */
  code: z.string().optional(),
  message: z.string().optional(),
  size: z.number().int().nonnegative().optional(),
  /** sha256 of the file's content after the step (write, edit) or of what was read. */
  sha256: z.string().optional(),
  /** sha256 of the file before a write or edit (absent: it did not exist). */
  before: z.string().optional(),
  replaced: z.number().int().nonnegative().optional(),
  entries: z.number().int().nonnegative().optional(),
});
export type FileStepSummary = z.infer<typeof FileStepSummarySchema>;

/**
 * The text a file operation is validated, approved and signed as: one line naming the operation and
 * its path, with the sha256 of any content, so an approval of a write covers that content only.
 */
export function fileOpText(op: FileOp, sha256: (s: string) => string): string {
  switch (op.op) {
    case 'read':
      return `airlock:file.read ${JSON.stringify(op.path)} lines=${op.fromLine ?? 1}-${op.toLine ?? ''} max=${op.maxBytes ?? DEFAULT_READ_BYTES}`;
    case 'write':
      return `airlock:file.write ${JSON.stringify(op.path)} ${op.encoding}:sha256=${sha256(op.content)} createDirs=${op.createDirs ?? true} mode=${op.mode ?? ''}`;
    case 'edit':
      return `airlock:file.edit ${JSON.stringify(op.path)} search:sha256=${sha256(op.search)} replace:sha256=${sha256(op.replace)} occurrence=${op.occurrence ?? ''}`;
    case 'list':
      return `airlock:file.list ${JSON.stringify(op.path)} depth=${op.depth ?? 1}`;
    case 'stat':
      return `airlock:file.stat ${JSON.stringify(op.path)}`;
  }
}
