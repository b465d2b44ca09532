import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { SnapshotError, throwIfAborted } from './errors.ts';
import type { Manifest, ManifestEntry, SnapshotLimits } from './manifest.ts';
import { comparePaths, defaultLimits } from './manifest.ts';

/** The stat fields the fast path compares. Nanosecond times and inode numbers as bigint. */
export type StatRecord = {
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  dev: bigint;
  /** Full st_mode (type + permission bits). */
  mode: number;
  /** Link count: a file with several names changes under all of them (change tracking re-stats it). Absent in records made before it existed. */
  nlink?: number;
};

/** A manifest entry plus the stat it was observed with (absent after a rebuild from a manifest). */
export type CachedEntry = { entry: ManifestEntry; stat: StatRecord | undefined };

/**
 * What the runner keeps in memory between two snapshots of one workspace: the previous manifest
 * and a stat cache. Without it (e.g. after a runner restart) use {@link stateFromManifest}: the next
 * snapshot then rehashes every file but still uploads only what the store lacks.
 */
export type SnapshotState = {
  readonly digest: string;
  readonly manifest: Manifest;
  /** Wall-clock time (ns since the epoch) at which the scan that produced this state started. */
  readonly startedAtNs: bigint;
  readonly byPath: ReadonlyMap<string, CachedEntry>;
};

/** A state with no stat cache: every file is a candidate for hashing next time. */
export function stateFromManifest(digest: string, manifest: Manifest): SnapshotState {
  const byPath = new Map<string, CachedEntry>();
  for (const entry of manifest.entries) byPath.set(entry.path, { entry, stat: undefined });
  return { digest, manifest, startedAtNs: 0n, byPath };
}

/** Converts a bigint lstat to the compared fields. */
export function toStatRecord(st: BigIntStats): StatRecord {
  return { size: Number(st.size), mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, ino: st.ino, dev: st.dev, mode: Number(st.mode), nlink: Number(st.nlink) };
}

/**
 * The stat fast path. A file's cached hash may be reused only when size, mtime, ctime, inode, device
 * and mode are all unchanged AND the recorded times were safely older than the start of the scan
 * that recorded them ("racy git"): a file written in the same timestamp tick as that scan could have
 * changed again afterwards without its stat changing, so it must be rehashed.
 *
 * @param racyWindowNs how far before the previous scan's start a timestamp must lie to be trusted;
 *   covers coarse filesystem clocks (kernel ticks, 2 s on FAT, skewed NFS servers).
 */
export function canReuseHash(cached: StatRecord | undefined, now: StatRecord, previousStartNs: bigint, racyWindowNs: bigint): boolean {
  if (cached === undefined) return false;
  if (cached.size !== now.size || cached.mtimeNs !== now.mtimeNs || cached.ctimeNs !== now.ctimeNs) return false;
  if (cached.ino !== now.ino || cached.dev !== now.dev || cached.mode !== now.mode) return false;
  const newest = now.mtimeNs > now.ctimeNs ? now.mtimeNs : now.ctimeNs;
  return newest < previousStartNs - racyWindowNs;
}

/** Why a path of the workspace is not in the snapshot. */
export type SkipReason = 'fifo' | 'socket' | 'char_device' | 'block_device' | 'unknown_type' | 'unrepresentable_name' | 'vanished';

/** A path that was seen but not snapshotted (and never opened). */
export type SkippedEntry = { path: string; reason: SkipReason };

/** One scanned path; files with `sha256 === undefined` must be hashed (candidates). */
export type ScannedEntry =
  | { path: string; type: 'dir'; mode: number; stat: StatRecord }
  | { path: string; type: 'symlink'; mode: number; target: string; stat: StatRecord }
  | { path: string; type: 'file'; mode: number; size: number; sha256: string | undefined; stat: StatRecord };

export type ScanResult = {
  entries: ScannedEntry[];
  skipped: SkippedEntry[];
  startedAtNs: bigint;
  /** Files whose hash could not be reused. */
  candidates: number;
};

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFIFO = 0o010000;
const S_IFSOCK = 0o140000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

function skipReason(mode: number): SkipReason {
  switch (mode & S_IFMT) {
    case S_IFIFO:
      return 'fifo';
    case S_IFSOCK:
      return 'socket';
    case S_IFCHR:
      return 'char_device';
    case S_IFBLK:
      return 'block_device';
    default:
      return 'unknown_type';
  }
}

/** Names made only of UTF-16 code units below the surrogates, where code-unit order is UTF-8 byte order. */
const BELOW_SURROGATES = /^[\u0000-\ud7ff]*$/;

/**
 * Sorts scanned entries into manifest order (UTF-8 bytewise paths). When no name holds a code unit
 * at or above U+D800, the engine's own string comparison gives the same order several times faster
 * than {@link comparePaths}, which handles the general case.
 */
function sortEntries(entries: ScannedEntry[], belowSurrogates: boolean): void {
  if (belowSurrogates) entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  else entries.sort((a, b) => comparePaths(a.path, b.path));
}

/** Wall clock in ns since the epoch. */
export function nowNs(): bigint {
  return BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1e6));
}

/**
 * One lstat'ed path as a scanned entry (a file with `sha256` undefined must be hashed: its stat
 * does not vouch for the cached hash), or why it is skipped. Reads a symlink's target only when its
 * stat changed. Throws `limit_exceeded` for a file over `maxEntryBytes`.
 */
export function classifyEntry(
  path: string,
  abs: string,
  st: BigIntStats,
  cached: CachedEntry | undefined,
  prevStart: bigint,
  racyWindowNs: bigint,
  limits: SnapshotLimits,
): ScannedEntry | SkippedEntry {
  const stat = toStatRecord(st);
  const mode = stat.mode & 0o777;
  const type = stat.mode & S_IFMT;
  if (type === S_IFDIR) return { path, type: 'dir', mode, stat };
  if (type === S_IFREG) {
    if (stat.size > limits.maxEntryBytes) {
      throw new SnapshotError('limit_exceeded', `${path} is ${stat.size} bytes, limit ${limits.maxEntryBytes}`, { data: { path, limit: 'maxEntryBytes' } });
    }
    const sha256 = cached?.entry.type === 'file' && canReuseHash(cached.stat, stat, prevStart, racyWindowNs) ? cached.entry.sha256 : undefined;
    return { path, type: 'file', mode, size: stat.size, sha256, stat };
  }
  if (type === S_IFLNK) {
    const c = cached?.stat;
    if (cached?.entry.type === 'symlink' && c && c.mtimeNs === stat.mtimeNs && c.ctimeNs === stat.ctimeNs && c.ino === stat.ino && c.size === stat.size) {
      return { path, type: 'symlink', mode, target: cached.entry.target, stat };
    }
    let target: string;
    try {
      target = readlinkSync(abs);
    } catch {
      return { path, reason: 'vanished' };
    }
    if (target.includes('\uFFFD')) return { path, reason: 'unrepresentable_name' };
    return { path, type: 'symlink', mode, target, stat };
  }
  return { path, reason: skipReason(stat.mode) };
}

/**
 * Walks `root` without following symlinks and classifies every path against the previous state's
 * stat cache. Uses synchronous lstat in slices of `sliceSize` entries, yielding to the event loop
 * between slices: an lstat through the thread pool costs ~10x the syscall itself, and the scan is
 * what bounds an incremental snapshot. Fifos, sockets and devices are reported in `skipped` and never
 * opened.
 */
export async function scanWorkspace(
  root: string,
  opts: {
    previous?: SnapshotState | undefined;
    racyWindowNs: bigint;
    limits?: SnapshotLimits;
    signal?: AbortSignal | undefined;
    sliceSize?: number;
    /** Walk only below this directory (relative, already known to be one); entries keep workspace-relative paths. */
    subdir?: string;
    /** Called with each directory (relative, '' = root) just before it is read: change tracking watches it there. */
    onDir?: (rel: string) => void;
  },
): Promise<ScanResult> {
  const limits = opts.limits ?? defaultLimits;
  const sliceSize = opts.sliceSize ?? 1024;
  const startedAtNs = nowNs();
  const prev = opts.previous;
  const prevStart = prev?.startedAtNs ?? 0n;
  const entries: ScannedEntry[] = [];
  const skipped: SkippedEntry[] = [];
  let candidates = 0;
  let totalBytes = 0;
  let sinceYield = 0;

  let rootSt: BigIntStats;
  try {
    rootSt = lstatSync(root, { bigint: true });
  } catch (cause) {
    throw new SnapshotError('not_a_directory', `workspace ${root} cannot be read`, { cause, data: { root } });
  }
  if (!rootSt.isDirectory()) throw new SnapshotError('not_a_directory', `workspace ${root} is not a directory (symlinks are not followed)`, { data: { root } });

  // Plain concatenation instead of path.join per entry: join normalizes every call (~10% of a walk).
  const rootPrefix = root.endsWith('/') ? root : `${root}/`;
  let ascii = true;
  const stack: string[] = [opts.subdir ?? ''];
  while (stack.length > 0) {
    const rel = stack.pop() as string;
    const abs = rel === '' ? root : rootPrefix + rel;
    opts.onDir?.(rel);
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
        if (rel !== '') skipped.push({ path: rel, reason: 'vanished' });
        continue;
      }
      throw err;
    }
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      if (ascii && !BELOW_SURROGATES.test(name)) ascii = false;
      if (name.includes('\uFFFD')) {
        // Not valid UTF-8 on disk: a JS string cannot name it again, so it cannot be restored.
        skipped.push({ path, reason: 'unrepresentable_name' });
        continue;
      }
      if (++sinceYield >= sliceSize) {
        sinceYield = 0;
        await new Promise<void>((r) => setImmediate(r));
        throwIfAborted(opts.signal);
      }
      const st = lstatSync(rootPrefix + path, { bigint: true, throwIfNoEntry: false });
      if (st === undefined) {
        skipped.push({ path, reason: 'vanished' });
        continue;
      }
      const got = classifyEntry(path, rootPrefix + path, st, prev?.byPath.get(path), prevStart, opts.racyWindowNs, limits);
      if ('reason' in got) {
        skipped.push(got);
        continue;
      }
      entries.push(got);
      if (got.type === 'dir') stack.push(path);
      else if (got.type === 'file') {
        totalBytes += got.size;
        if (got.sha256 === undefined) candidates++;
      }
      if (entries.length > limits.maxEntries) {
        throw new SnapshotError('limit_exceeded', `workspace has more than ${limits.maxEntries} entries`, { data: { limit: 'maxEntries' } });
      }
      if (totalBytes > limits.maxTotalBytes) {
        throw new SnapshotError('limit_exceeded', `workspace holds more than ${limits.maxTotalBytes} bytes`, { data: { limit: 'maxTotalBytes' } });
      }
    }
  }
  sortEntries(entries, ascii);
  return { entries, skipped, startedAtNs, candidates };
}
