import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync, constants as fsc } from 'node:fs';
import { join } from 'node:path';
import { isSha256 } from './manifest.ts';

/**
 * An optional on-disk copy of small blobs on this machine (`<dir>/<sha[0:2]>/<sha>`), filled by
 * snapshots and restores, read by restores with synchronous I/O: with it a restore costs about what
 * `tar -x` costs instead of one NATS round trip per file. Every read is re-hashed; a corrupt entry
 * is dropped and the blob fetched from NATS instead. Entries are written to a temp name and renamed,
 * so concurrent writers of the same blob are harmless. Nothing evicts entries except
 * {@link LocalBlobCache.delete} (called by GC): size the disk accordingly or wipe the directory,
 * which is always safe.
 */
export class LocalBlobCache {
  readonly dir: string;
  /** Largest blob kept [1 MiB]. */
  readonly maxBlobBytes: number;
  readonly #madeDirs = new Set<string>();
  #tmpN = 0;

  constructor(dir: string, maxBlobBytes = 1024 * 1024) {
    this.dir = dir;
    this.maxBlobBytes = maxBlobBytes;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  #path(sha: string): string {
    return join(this.dir, sha.slice(0, 2), sha);
  }

  /** True when an entry exists (content not checked). */
  has(sha: string): boolean {
    if (!isSha256(sha)) return false;
    return statSync(this.#path(sha), { throwIfNoEntry: false }) !== undefined;
  }

  /**
   * The blob's bytes if cached and intact, else null (a corrupt entry is removed). With `scratch`
   * (at least `maxBlobBytes + 1` long) the result is a view into it, valid until the next call.
   */
  read(sha: string, scratch?: Buffer): Buffer | null {
    if (!isSha256(sha)) return null;
    let buf: Buffer;
    try {
      if (scratch === undefined) buf = readFileSync(this.#path(sha));
      else {
        const fd = openSync(this.#path(sha), fsc.O_RDONLY | fsc.O_NOFOLLOW);
        let n = 0;
        try {
          for (;;) {
            const r = readSync(fd, scratch, n, scratch.length - n, null);
            if (r === 0 || n + r >= scratch.length) {
              n += r;
              break;
            }
            n += r;
          }
        } finally {
          closeSync(fd);
        }
        if (n > this.maxBlobBytes) return null;
        buf = scratch.subarray(0, n);
      }
    } catch {
      return null;
    }
    if (createHash('sha256').update(buf).digest('hex') !== sha) {
      this.delete(sha);
      return null;
    }
    return buf;
  }

  /** Stores verified bytes (the caller hashed them). Failures are ignored: the cache is best effort. */
  put(sha: string, bytes: Uint8Array): void {
    if (!isSha256(sha) || bytes.byteLength > this.maxBlobBytes) return;
    try {
      const sub = join(this.dir, sha.slice(0, 2));
      if (!this.#madeDirs.has(sub)) {
        mkdirSync(sub, { recursive: true, mode: 0o700 });
        this.#madeDirs.add(sub);
      }
      const tmp = join(sub, `.${sha}.${process.pid}.${this.#tmpN++}`);
      const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o400);
      try {
        let off = 0;
        while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.#path(sha));
    } catch {
      // best effort
    }
  }

  /** Removes an entry (GC, or a corrupt one). */
  delete(sha: string): void {
    if (!isSha256(sha)) return;
    rmSync(this.#path(sha), { force: true });
  }
}
