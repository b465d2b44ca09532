import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { closeSync, fchmodSync, openSync, writeSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, open, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { SnapshotError, throwIfAborted } from './errors.ts';
import type { Manifest, ManifestEntry } from './manifest.ts';
import { forEachLimit } from './pool.ts';

/** SHA-256 of zero bytes: empty files need no blob fetch. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Streams a blob's bytes; the writer verifies them. */
export type BlobReader = (sha256: string, signal: AbortSignal | undefined) => AsyncIterable<Uint8Array>;

/** Options of a tree restore. */
export type RestoreTreeOptions = {
  /** Files written in parallel. Default 16. */
  concurrency?: number;
  signal?: AbortSignal | undefined;
  /** Mode of the restored root directory when the target does not exist yet. Default 0o755. */
  rootMode?: number;
  /**
   * A local source of verified blob bytes (see `LocalBlobCache`): hits are written with synchronous
   * I/O in slices, misses go through `readBlob` in parallel.
   */
  local?: { read(sha256: string, scratch?: Buffer): Buffer | null; put(sha256: string, bytes: Uint8Array): void; maxBlobBytes: number } | undefined;
};

/** What a restore did. */
export type RestoreStats = { files: number; dirs: number; symlinks: number; bytesWritten: number; durationMs: number };

const WRITE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;

/**
 * Writes an already validated manifest (see `parseManifest`: safe paths, parents are dirs, no
 * duplicates) into a fresh private directory beside `targetDir`, verifying every blob's SHA-256 and
 * size while writing, then swaps it into place with rename(2). On any failure the temp directory is
 * removed and `targetDir` is untouched.
 *
 * Safety: the temp root is created by mkdtemp (0700, unpredictable name); every file is created with
 * O_CREAT|O_EXCL|O_NOFOLLOW, so nothing is ever written through a symlink or into an existing file;
 * every parent is a directory this function created (the manifest cannot place a symlink where a
 * parent is expected). Files are created owned by this process (never chowned); permission bits are
 * applied (`& 0o777`; setuid/setgid/sticky never), mtimes are the restore time.
 *
 * The swap of an existing target is two renames (target → `.name.airlock-old-*`, temp → target);
 * Linux's RENAME_EXCHANGE is not reachable from Node. A crash between them leaves the old tree beside
 * the target under that name. A target that is a mount point cannot be renamed (EBUSY): restore into
 * a new directory and mount that instead.
 */
export async function restoreTree(manifest: Manifest, targetDir: string, readBlob: BlobReader, opts: RestoreTreeOptions = {}): Promise<RestoreStats> {
  const started = performance.now();
  const target = resolve(targetDir);
  const parent = dirname(target);
  const base = basename(target);
  const signal = opts.signal;
  throwIfAborted(signal);

  let targetExists = false;
  let rootMode = opts.rootMode ?? 0o755;
  try {
    const st = await lstat(target);
    if (!st.isDirectory()) throw new SnapshotError('not_a_directory', `restore target ${target} exists and is not a directory (symlinks are not followed)`, { data: { target } });
    targetExists = true;
    rootMode = st.mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }

  const tmp = await mkdtemp(join(parent, `.${base}.airlock-restore-`));
  const stats: RestoreStats = { files: 0, dirs: 0, symlinks: 0, bytesWritten: 0, durationMs: 0 };
  try {
    const dirs: ManifestEntry[] = [];
    const leaves: ManifestEntry[] = [];
    for (const e of manifest.entries) (e.type === 'dir' ? dirs : leaves).push(e);
    // Parents sort before children, so creating in manifest order never needs `recursive`.
    for (const d of dirs) await mkdir(join(tmp, d.path), { mode: 0o700 });
    stats.dirs = dirs.length;

    const local = opts.local;
    const remote: ManifestEntry[] = [];
    const hits: Extract<ManifestEntry, { type: 'file' }>[] = [];
    for (const e of leaves) {
      if (e.type === 'file' && local !== undefined && e.size > 0 && e.size <= local.maxBlobBytes) hits.push(e);
      else remote.push(e);
    }
    const late: ManifestEntry[] = [];
    const writeRemote = (list: ManifestEntry[]): Promise<void> => forEachLimit(
      list,
      opts.concurrency ?? 16,
      async (e) => {
        const abs = join(tmp, e.path);
        if (e.type === 'symlink') {
          await symlink(e.target, abs);
          stats.symlinks++;
          return;
        }
        if (e.type !== 'file') return;
        const fh = await open(abs, WRITE_FLAGS, 0o600);
        try {
          let written = 0;
          const keep: Uint8Array[] | undefined = local !== undefined && e.size <= local.maxBlobBytes ? [] : undefined;
          if (e.size === 0 && e.sha256 === EMPTY_SHA256) {
            // nothing to fetch
          } else {
            const hash = createHash('sha256');
            for await (const chunk of readBlob(e.sha256, signal)) {
              written += chunk.byteLength;
              if (written > e.size) break;
              hash.update(chunk);
              keep?.push(chunk);
              let off = 0;
              while (off < chunk.byteLength) {
                const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
                off += bytesWritten;
              }
            }
            const got = hash.digest('hex');
            if (written !== e.size || got !== e.sha256) {
              throw new SnapshotError('blob_mismatch', `blob for ${e.path} does not match the manifest (expected ${e.sha256}, ${e.size} bytes; got ${written > e.size ? `more than ${e.size}` : `${got}, ${written}`} bytes)`, {
                data: { path: e.path, expected: e.sha256 },
              });
            }
            if (keep !== undefined && local !== undefined) local.put(e.sha256, Buffer.concat(keep));
          }
          await fh.chmod(e.mode & 0o777);
          stats.files++;
          stats.bytesWritten += written;
        } finally {
          await fh.close();
        }
      },
      signal,
    );
    const remoteDone = writeRemote(remote);
    // Local hits: plain synchronous syscalls (no thread-pool hop per call), in slices so the
    // network fetches above keep flowing.
    const scratch = local !== undefined && hits.length > 0 ? Buffer.allocUnsafe(local.maxBlobBytes + 1) : undefined;
    const writeLocal = (async () => {
      for (let i = 0; i < hits.length; i++) {
        if (i % 256 === 255) {
          await new Promise<void>((r) => setImmediate(r));
          throwIfAborted(signal);
        }
        const e = hits[i] as (typeof hits)[number];
        // read() re-hashes: a hit is verified content; a corrupt or vanished entry goes to NATS.
        const bytes = local?.read(e.sha256, scratch) ?? null;
        if (bytes === null || bytes.length !== e.size) {
          late.push(e);
          continue;
        }
        const fd = openSync(join(tmp, e.path), WRITE_FLAGS, 0o600);
        try {
          let off = 0;
          while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
          fchmodSync(fd, e.mode & 0o777);
        } finally {
          closeSync(fd);
        }
        stats.files++;
        stats.bytesWritten += bytes.length;
      }
    })();
    const settled = await Promise.allSettled([remoteDone, writeLocal]);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
    if (late.length > 0) await writeRemote(late);

    // Directory modes last and deepest first, so a read-only directory does not block its children.
    for (let i = dirs.length - 1; i >= 0; i--) {
      const d = dirs[i] as ManifestEntry;
      await chmod(join(tmp, d.path), d.mode & 0o777);
    }
    await chmod(tmp, rootMode);
    throwIfAborted(signal);
    await swapInto(tmp, target, targetExists);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  stats.durationMs = performance.now() - started;
  return stats;
}

async function swapInto(tmp: string, target: string, targetExists: boolean): Promise<void> {
  if (!targetExists) {
    await rename(tmp, target);
    return;
  }
  const old = await mkdtemp(join(dirname(target), `.${basename(target)}.airlock-old-`));
  const oldPath = join(old, 'tree');
  await rename(target, oldPath);
  try {
    await rename(tmp, target);
  } catch (err) {
    await rename(oldPath, target);
    await rm(old, { recursive: true, force: true });
    throw err;
  }
  await rm(old, { recursive: true, force: true });
}
