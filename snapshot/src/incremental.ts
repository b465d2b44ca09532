// The tracked snapshot's two pure-ish halves: re-stat the paths the events named (rescanning only
// directories that are new or replaced), and merge those changes into the previous manifest
// without touching the entries that did not change, so unchanged manifest chunks are reused as is.
import { lstatSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { SnapshotError, throwIfAborted } from './errors.ts';
import type { ManifestEntry, SnapshotLimits } from './manifest.ts';
import { comparePaths, parentOf } from './manifest.ts';
import type { CachedEntry, ScannedEntry, SkippedEntry, SnapshotState } from './scan.ts';
import { classifyEntry, scanWorkspace } from './scan.ts';
import type { WorkspaceTracker } from './tracker.ts';

/** What re-stat'ing the named paths found: each changed path's new entry (null: gone), and directories whose old subtree is gone. */
export type Refresh = {
  changes: Map<string, ScannedEntry | null>;
  removedSubtrees: Set<string>;
  skipped: SkippedEntry[];
};

/** True when `path` or one of its ancestors is in `set`. */
function underAny(path: string, set: ReadonlySet<string>): boolean {
  if (set.size === 0) return false;
  for (let p = path; ; ) {
    if (set.has(p)) return true;
    const i = p.lastIndexOf('/');
    if (i < 0) return false;
    p = p.slice(0, i);
  }
}

/** lstat that reports a path gone (ENOENT, or a parent no longer a directory) as undefined. */
function lstatOrGone(abs: string): BigIntStats | undefined {
  try {
    return lstatSync(abs, { bigint: true, throwIfNoEntry: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/**
 * Re-stats `paths` (relative) against `prev` and rescans new or replaced directories (watching
 * them first). Parents come before children; a path below a directory handled whole in this pass,
 * or whose parent is no longer a directory of the tree, is skipped (its parent's change covers it).
 * A file found with several names brings its other names known to `prev` into the pass.
 */
export async function refreshPaths(
  root: string,
  prev: SnapshotState,
  paths: ReadonlySet<string>,
  tracker: WorkspaceTracker,
  opts: { racyWindowNs: bigint; limits: SnapshotLimits; signal?: AbortSignal | undefined },
): Promise<Refresh> {
  const rootPrefix = root.endsWith('/') ? root : `${root}/`;
  const changes = new Map<string, ScannedEntry | null>();
  const removedSubtrees = new Set<string>();
  const handled = new Set<string>();
  const skipped: SkippedEntry[] = [];
  const queue = [...paths].sort(comparePaths);
  const seen = new Set(queue);
  let byIno: Map<string, string[]> | undefined;
  const current = (p: string): ScannedEntry | CachedEntry['entry'] | null | undefined => (changes.has(p) ? changes.get(p) : prev.byPath.get(p)?.entry);
  /** A file with several names: re-stat'ed from now on; when newly linked, its other names known to `prev` are re-stat'ed in this pass too (a write through one name raised no event under the others). */
  const linked = (e: Extract<ScannedEntry, { type: 'file' }>): void => {
    if ((e.stat.nlink ?? 1) <= 1) {
      tracker.multiLinked.delete(e.path);
      return;
    }
    if (tracker.multiLinked.has(e.path)) return;
    tracker.multiLinked.add(e.path);
    byIno ??= inodeIndex(prev);
    for (const other of byIno.get(`${e.stat.dev}:${e.stat.ino}`) ?? []) {
      tracker.multiLinked.add(other);
      if (!seen.has(other)) {
        seen.add(other);
        queue.push(other);
      }
    }
  };
  const removeOld = (p: string, old: CachedEntry | undefined): void => {
    if (old?.entry.type === 'dir') {
      removedSubtrees.add(p);
      tracker.forgetSubtree(p);
    }
  };
  for (let i = 0; i < queue.length; i++) {
    const p = queue[i] as string;
    if (underAny(p, handled)) continue;
    const parent = parentOf(p);
    if (parent !== '') {
      const pe = current(parent);
      if (!pe || pe.type !== 'dir' || underAny(parent, removedSubtrees)) continue;
    }
    if ((i & 255) === 255) throwIfAborted(opts.signal);
    const old = prev.byPath.get(p);
    tracker.skipped.delete(p);
    if (p.includes('\uFFFD')) {
      tracker.skipped.set(p, 'unrepresentable_name');
      continue;
    }
    const st = lstatOrGone(rootPrefix + p);
    if (st === undefined) {
      if (old) changes.set(p, null);
      removeOld(p, old);
      if (old?.entry.type === 'dir') handled.add(p);
      tracker.multiLinked.delete(p);
      tracker.open.delete(p);
      continue;
    }
    const got = classifyEntry(p, rootPrefix + p, st, old, prev.startedAtNs, opts.racyWindowNs, opts.limits);
    if ('reason' in got) {
      if (got.reason !== 'vanished') tracker.skipped.set(p, got.reason);
      skipped.push(got);
      if (old) changes.set(p, null);
      removeOld(p, old);
      if (old?.entry.type === 'dir') handled.add(p);
      continue;
    }
    if (got.type === 'dir') {
      const sameDir = old?.entry.type === 'dir' && old.stat !== undefined && old.stat.ino === got.stat.ino && old.stat.dev === got.stat.dev && tracker.isWatched(p);
      if (sameDir) {
        if (old.entry.mode !== got.mode) changes.set(p, got);
        continue;
      }
      // New, replaced or never watched: the whole subtree is read again, its watches placed first.
      removeOld(p, old);
      handled.add(p);
      changes.set(p, got);
      const sub = await scanWorkspace(root, { previous: prev, racyWindowNs: opts.racyWindowNs, limits: opts.limits, signal: opts.signal, subdir: p, onDir: (rel) => tracker.watchDir(rel) });
      for (const e of sub.entries) {
        changes.set(e.path, e);
        if (e.type === 'file') linked(e);
      }
      for (const s of sub.skipped) {
        if (s.reason !== 'vanished') tracker.skipped.set(s.path, s.reason);
        skipped.push(s);
      }
      continue;
    }
    removeOld(p, old);
    if (old?.entry.type === 'dir') handled.add(p);
    changes.set(p, got);
    if (got.type === 'file') linked(got);
  }
  return { changes, removedSubtrees, skipped };
}

/** dev:ino -> paths of the files of a state (built only when a file gains a name). */
function inodeIndex(state: SnapshotState): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [path, c] of state.byPath) {
    if (c.entry.type !== 'file' || c.stat === undefined) continue;
    const k = `${c.stat.dev}:${c.stat.ino}`;
    const list = m.get(k);
    if (list) list.push(path);
    else m.set(k, [path]);
  }
  return m;
}

/** The manifest entry of a scanned entry whose file hash is known. */
export function toManifestEntry(e: ScannedEntry): ManifestEntry {
  if (e.type === 'dir') return { path: e.path, type: 'dir', mode: e.mode, size: 0 };
  if (e.type === 'symlink') return { path: e.path, type: 'symlink', mode: 0o777, size: Buffer.byteLength(e.target), target: e.target };
  return { path: e.path, type: 'file', mode: e.mode, size: e.size, sha256: e.sha256 as string };
}

/** Same path, type, mode, size, hash and target. */
export function sameEntry(a: ManifestEntry, b: ManifestEntry): boolean {
  if (a.path !== b.path || a.type !== b.type || a.mode !== b.mode || a.size !== b.size) return false;
  if (a.type === 'file') return a.sha256 === (b as typeof a).sha256;
  if (a.type === 'symlink') return a.target === (b as typeof a).target;
  return true;
}

/** The merged tree: entries in manifest order, with counts against the previous manifest. */
export type Merged = { entries: ManifestEntry[]; added: number; modified: number; deleted: number; files: number; totalBytes: number };

/**
 * Applies `changes` (hashed) and `removedSubtrees` to the previous manifest. Unchanged entries keep
 * their objects (the manifest chunk cache recognises them); the byPath cache is updated in place
 * (it is an observation cache: every entry + stat pair in it was true when recorded).
 */
export function mergeChanges(prev: SnapshotState, r: Refresh, limits: SnapshotLimits): Merged {
  const byPath = prev.byPath as Map<string, CachedEntry>;
  const dropped = new Map<string, ManifestEntry>();
  const kept: ManifestEntry[] = [];
  let files = 0;
  let totalBytes = 0;
  for (const e of prev.manifest.entries) {
    if (r.changes.has(e.path) || underAny(parentOf(e.path), r.removedSubtrees)) {
      dropped.set(e.path, e);
      continue;
    }
    kept.push(e);
    if (e.type === 'file') {
      files++;
      totalBytes += e.size;
    }
  }
  const added: ManifestEntry[] = [];
  let nAdded = 0;
  let modified = 0;
  for (const [path, s] of r.changes) {
    if (s === null) {
      byPath.delete(path);
      continue;
    }
    const before = dropped.get(path);
    let entry = toManifestEntry(s);
    if (before !== undefined) {
      dropped.delete(path);
      if (sameEntry(before, entry)) entry = before;
      else modified++;
    } else nAdded++;
    added.push(entry);
    byPath.set(path, { entry, stat: s.stat });
    if (entry.type === 'file') {
      files++;
      totalBytes += entry.size;
    }
  }
  for (const path of dropped.keys()) byPath.delete(path);
  added.sort((a, b) => comparePaths(a.path, b.path));
  const entries: ManifestEntry[] = new Array<ManifestEntry>(kept.length + added.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < kept.length && j < added.length) entries[k++] = comparePaths((kept[i] as ManifestEntry).path, (added[j] as ManifestEntry).path) < 0 ? (kept[i++] as ManifestEntry) : (added[j++] as ManifestEntry);
  while (i < kept.length) entries[k++] = kept[i++] as ManifestEntry;
  while (j < added.length) entries[k++] = added[j++] as ManifestEntry;
  if (entries.length > limits.maxEntries) throw new SnapshotError('limit_exceeded', `workspace has more than ${limits.maxEntries} entries`, { data: { limit: 'maxEntries' } });
  if (totalBytes > limits.maxTotalBytes) throw new SnapshotError('limit_exceeded', `workspace holds more than ${limits.maxTotalBytes} bytes`, { data: { limit: 'maxTotalBytes' } });
  return { entries, added: nAdded, modified, deleted: dropped.size, files, totalBytes };
}
