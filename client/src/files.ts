import { FileResultSchema, subjects } from '@airlock/proto';
import type { FileEntry, FileResult } from '@airlock/proto';
import type { Link } from './link.ts';

/** Options every file call takes. */
export interface FileCallOptions {
  /** Stops waiting (the step may still run; its outcome is in the log). */
  signal?: AbortSignal;
}

/** How long a file call waits for the harness (the step's own deadline is 60 s, plus its snapshot). */
const FILE_CALL_MS = 180_000;

/**
 * File tools of a run (`run.files`): read, write, edit, list and stat without a shell, each a
 * logged, validated and snapshotted step (`step.file` in the log). A path outside the workspace
 * (also through a symlink) is refused with {@link PolicyDeniedError} (`rule` `file.outside_workspace`),
 * a write to a sensitive path (git hooks, CI workflows, agent settings) is held for an operator
 * ({@link ApprovalRequiredError}); after `airlock approve`, the same write runs once.
 */
export class RunFiles {
  /** The run these files belong to. */
  readonly runId: string;
  protected readonly link: Link;

  constructor(link: Link, runId: string) {
    this.link = link;
    this.runId = runId;
  }

  #call(file: Record<string, unknown>, opts: FileCallOptions): Promise<FileResult> {
    return this.link.request(subjects.api.file, { runId: this.runId, file }, FileResultSchema, { timeoutMs: FILE_CALL_MS, signal: opts.signal });
  }

  /**
   * Reads a file: its text (or base64 with `binary: true` for NUL bytes or non-UTF-8), lines
   * `fromLine`..`toLine` (1-based, inclusive), at most `maxBytes` (default 256 KiB; `truncated`).
   */
  read(path: string, opts: FileCallOptions & { fromLine?: number; toLine?: number; maxBytes?: number } = {}): Promise<FileResult> {
    const { signal, ...rest } = opts;
    return this.#call({ op: 'read', path, ...rest }, { signal });
  }

  /** Writes a whole file (text, or bytes sent as base64); missing parent directories are created unless `createDirs: false`. */
  write(path: string, content: string | Uint8Array, opts: FileCallOptions & { createDirs?: boolean; mode?: number } = {}): Promise<FileResult> {
    const { signal, ...rest } = opts;
    const body = typeof content === 'string' ? { content, encoding: 'utf8' } : { content: Buffer.from(content).toString('base64'), encoding: 'base64' };
    return this.#call({ op: 'write', path, ...body, ...rest }, { signal });
  }

  /**
   * Replaces the exact text `search` with `replace`. Not found: `edit_no_match`, whose `data.nearest`
   * names the closest lines and how they differ. Found more than once: `edit_ambiguous`, unless
   * `occurrence` says which (1-based) or `'all'`.
   */
  edit(path: string, search: string, replace: string, opts: FileCallOptions & { occurrence?: number | 'all' } = {}): Promise<FileResult> {
    const { signal, ...rest } = opts;
    return this.#call({ op: 'edit', path, search, replace, ...rest }, { signal });
  }

  /** The entries under a directory, `depth` levels deep (default 1), sorted by path. */
  async list(path = '.', opts: FileCallOptions & { depth?: number } = {}): Promise<FileEntry[]> {
    const { signal, ...rest } = opts;
    return (await this.#call({ op: 'list', path, ...rest }, { signal })).entries ?? [];
  }

  /** What a path is (not following a final symlink), or null when nothing is there. */
  async stat(path: string, opts: FileCallOptions = {}): Promise<FileEntry | null> {
    const r = await this.#call({ op: 'stat', path }, opts);
    return r.exists ? (r.entry ?? null) : null;
  }
}
