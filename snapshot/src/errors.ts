/**
 * Every way the snapshot library can fail, with what the caller should do next.
 * Codes are stable strings: callers (and the runner's wire-error conversion) branch on `code`,
 * never on message text.
 */
export const snapshotErrorCodes = {
  unsafe_path: 'A manifest or archive names a path that could escape the target (absolute, `..`, NUL, through a symlink, duplicate). The input is hostile or corrupt; nothing was written.',
  unsupported_entry: 'An archive or manifest holds an entry type that is never restored (device, fifo, socket, hardlink out of the tree).',
  limit_exceeded: 'The input exceeds a configured limit (entries, total bytes, bytes per entry, path length). Raise the limit if the input is legitimate.',
  blob_mismatch: 'A blob read from the store does not hash to its name: the store is corrupt or was tampered with. The target was left unchanged.',
  blob_missing: 'A manifest references a blob that is not in the store (deleted by GC or never uploaded).',
  manifest_not_found: 'No manifest with this digest is stored.',
  invalid_manifest: 'A stored manifest does not parse, is not canonical, or does not hash to its digest.',
  invalid_archive: 'The tar stream is malformed or truncated.',
  concurrent_modification: 'A file kept changing while it was being snapshotted; retry the snapshot when the workspace is quiet.',
  not_a_directory: 'The workspace (or the restore target) is not a directory; symlinks are not followed.',
  aborted: 'The operation was cancelled through its AbortSignal.',
  closed: 'The snapshot store was disposed.',
} as const;

/** A stable snapshot error code; see {@link snapshotErrorCodes}. */
export type SnapshotErrorCode = keyof typeof snapshotErrorCodes;

/**
 * The only error type the snapshot library throws on purpose. `data` holds the offending
 * path, limit or digest in typed-enough form for logs and wire errors.
 */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
  readonly code: SnapshotErrorCode;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: SnapshotErrorCode, message: string, options?: { cause?: unknown; data?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.data = options?.data;
  }
}

/** True when `err` is a {@link SnapshotError}, optionally with the given code. */
export function isSnapshotError(err: unknown, code?: SnapshotErrorCode): err is SnapshotError {
  return err instanceof SnapshotError && (code === undefined || err.code === code);
}

/** Throws a typed `aborted` error when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new SnapshotError('aborted', 'snapshot operation aborted', { cause: signal.reason });
}
