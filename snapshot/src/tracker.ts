// Knowing what changed in a workspace between two snapshots without walking it: one inotify watch
// per directory, events recorded as the paths they name. The snapshot then lstats only those paths
// (plus the few no directory event can vouch for: other names of hard-linked files, and files open
// right now, since a write through a shared mapping raises no event until the mapping is dropped)
// and rescans only directories that are new. Anything
// the events cannot vouch for makes the next snapshot a full walk: a kernel queue overflow, the
// workspace root moved or deleted, a watch that could not be added, a snapshot taken from a state
// the tracker did not produce. A full walk is also taken every `verifyEvery` snapshots or
// `verifyAfterMs`, and compared with what the events said (see store.ts).
import type { InotifySink } from './inotify.ts';
import { IN, InotifyError, InotifyHub } from './inotify.ts';
import { ManifestChunkCache } from './manifest.ts';
import type { SkipReason, SnapshotState } from './scan.ts';

/** Options of {@link WorkspaceTracker}. Defaults in brackets. */
export type TrackerOptions = {
  /** A full verifying walk after this many tracked snapshots [64]. */
  verifyEvery?: number;
  /** ...or when the last full walk is older than this [120,000]. */
  verifyAfterMs?: number;
};

/** Why the next snapshot cannot trust events alone; undefined while it can. */
export type TrackerFallback = 'not_started' | 'overflow' | 'root_gone' | 'watch_failed' | 'unavailable' | 'other_state' | 'failed' | 'closed';

let sharedHub: InotifyHub | null | undefined;

/** The process's inotify instance, created on first use (null where inotify is unavailable). */
function hub(): InotifyHub | null {
  if (sharedHub === undefined) {
    sharedHub = InotifyHub.open();
    sharedHub?.keepDraining(50);
  }
  return sharedHub;
}

/**
 * Change tracking of one workspace for {@link SnapshotStore.snapshot} (`tracker` option). Create it
 * before the first snapshot of the workspace (that snapshot walks and places the watches) and close
 * it when the workspace is no longer snapshotted. Never makes a snapshot miss a change it would
 * have seen by walking: whatever it cannot vouch for turns the next snapshot into a walk.
 */
export class WorkspaceTracker {
  readonly root: string;
  readonly #rootPrefix: string;
  readonly #hub: InotifyHub | null;
  readonly #opts: Required<TrackerOptions>;
  readonly #wdToPath = new Map<number, string>();
  readonly #pathToWd = new Map<string, number>();
  #pending = new Set<string>();
  /** Paths re-stat'ed by every tracked snapshot: files with more than one name. */
  readonly multiLinked = new Set<string>();
  /** Paths re-stat'ed by every tracked snapshot: files open now (opens minus closes seen; a mapping holds its file open). */
  readonly open = new Map<string, number>();
  /** Open counts of files renamed while open, by the rename's cookie, until its second half arrives. */
  readonly #movedOpen = new Map<number, number>();
  /** Entries not snapshotted (fifos, sockets, devices, unrepresentable names), kept across tracked snapshots. */
  readonly skipped = new Map<string, SkipReason>();
  /** The chunks of the last manifest stored from events: the next one re-serializes only the chunks that changed. */
  readonly chunks = new ManifestChunkCache();
  #fallback: TrackerFallback | undefined = 'not_started';
  #base: SnapshotState | undefined;
  #sinceWalk = 0;
  #lastWalkAt = 0;
  #closed = false;
  readonly #sink: InotifySink = (wd, mask, name, cookie) => this.#onEvent(wd, mask, name, cookie);

  constructor(root: string, opts: TrackerOptions = {}) {
    this.root = root;
    this.#rootPrefix = root.endsWith('/') ? root : `${root}/`;
    this.#hub = hub();
    this.#opts = { verifyEvery: opts.verifyEvery ?? 64, verifyAfterMs: opts.verifyAfterMs ?? 120_000 };
    if (this.#hub === null) this.#fallback = 'unavailable';
  }

  /** Why the next snapshot from `previous` must walk, or undefined when events suffice. */
  fallbackFor(previous: SnapshotState | undefined): TrackerFallback | undefined {
    if (this.#closed) return 'closed';
    this.#drain();
    if (this.#fallback !== undefined) return this.#fallback;
    if (previous === undefined || previous !== this.#base) return 'other_state';
    return undefined;
  }

  /** True when the next snapshot should be a full walk checked against the events. */
  get verifyDue(): boolean {
    return this.#sinceWalk >= this.#opts.verifyEvery || performance.now() - this.#lastWalkAt >= this.#opts.verifyAfterMs;
  }

  /** Reads every queued event; a read error counts as lost events (the next snapshot walks). */
  #drain(): void {
    try {
      this.#hub?.drain();
    } catch {
      this.#fallback ??= 'overflow';
    }
  }

  /** True when a hub exists (the tracker can place watches). */
  get available(): boolean {
    return this.#hub !== null && !this.#closed;
  }

  /**
   * Starts a full walk: every event so far is superseded by what the walk reads, watches are
   * placed afresh as it enters directories ({@link watchDir}). Returns the paths events named
   * since the last snapshot (for the verifying comparison).
   */
  beginWalk(): Set<string> {
    this.#drain();
    const named = this.#pending;
    this.#pending = new Set();
    for (const wd of this.#wdToPath.keys()) this.#hub?.rmWatch(wd);
    this.#wdToPath.clear();
    this.#pathToWd.clear();
    this.multiLinked.clear();
    this.skipped.clear();
    this.#base = undefined;
    this.#fallback = this.#hub === null ? 'unavailable' : undefined;
    return named;
  }

  /** The walk is done and produced `state`: the next snapshot may trust events again. */
  endWalk(state: SnapshotState): void {
    this.#base = state;
    this.#sinceWalk = 0;
    this.#lastWalkAt = performance.now();
  }

  /**
   * Takes the paths to re-stat for a tracked snapshot: those events named, plus multi-linked and
   * recently written files. {@link untake} gives them back if the snapshot fails.
   */
  take(): { named: Set<string>; all: Set<string> } {
    this.#drain();
    const named = this.#pending;
    this.#pending = new Set();
    const all = new Set(named);
    for (const p of this.multiLinked) all.add(p);
    for (const p of this.open.keys()) all.add(p);
    return { named, all };
  }

  /** A snapshot from events failed part way: the next one walks. */
  invalidate(): void {
    this.#fallback ??= 'failed';
    this.#base = undefined;
  }

  /** A failed snapshot: its paths are pending again. */
  untake(named: Set<string>): void {
    for (const p of named) this.#pending.add(p);
  }

  /** A tracked snapshot produced `state` from the events. */
  tracked(state: SnapshotState): void {
    this.#base = state;
    this.#sinceWalk++;
  }

  /** Events named since the last take (after a drain): a change raced the snapshot. */
  pendingNow(): ReadonlySet<string> {
    this.#drain();
    return this.#pending;
  }

  /**
   * Watches directory `rel` ('' = the root) before it is read, so a change after this call raises
   * an event and one before it is seen by the read. A failure (e.g. `ENOSPC`) turns tracking off
   * until the next walk.
   */
  watchDir(rel: string): void {
    if (this.#hub === null || this.#fallback !== undefined || this.#closed) return;
    let wd: number;
    try {
      wd = this.#hub.addWatch(rel === '' ? this.root : this.#rootPrefix + rel, this.#sink);
    } catch (err) {
      if (!(err instanceof InotifyError)) throw err;
      this.#fallback = 'watch_failed';
      return;
    }
    const old = this.#wdToPath.get(wd);
    if (old !== undefined && this.#pathToWd.get(old) === wd) this.#pathToWd.delete(old);
    this.#wdToPath.set(wd, rel);
    this.#pathToWd.set(rel, wd);
  }

  /** True when directory `rel` has its own watch (its children's events arrive). */
  isWatched(rel: string): boolean {
    return this.#pathToWd.has(rel);
  }

  /** Drops the watches of `rel` and everything under it (it was deleted, moved or replaced). */
  forgetSubtree(rel: string): void {
    const prefix = `${rel}/`;
    for (const [path, wd] of this.#pathToWd) {
      if (path !== rel && !path.startsWith(prefix)) continue;
      this.#pathToWd.delete(path);
      if (this.#wdToPath.get(wd) === path) {
        this.#wdToPath.delete(wd);
        this.#hub?.rmWatch(wd);
      }
    }
    for (const p of this.skipped.keys()) if (p === rel || p.startsWith(prefix)) this.skipped.delete(p);
    for (const p of this.open.keys()) if (p.startsWith(prefix)) this.open.delete(p);
    for (const p of this.multiLinked) if (p.startsWith(prefix)) this.multiLinked.delete(p);
  }

  /** Opens minus closes of a file; a file no longer open leaves the map. */
  #opened(path: string, delta: number): void {
    const n = (this.open.get(path) ?? 0) + delta;
    if (n > 0) this.open.set(path, n);
    else this.open.delete(path);
  }

  #onEvent(wd: number, mask: number, name: string, cookie: number): void {
    if (wd === -1 || mask & IN.Q_OVERFLOW) {
      this.#fallback ??= 'overflow';
      return;
    }
    if (mask & IN.UNMOUNT) {
      this.#fallback ??= 'root_gone';
      return;
    }
    const dir = this.#wdToPath.get(wd);
    if (dir === undefined) return;
    if (mask & IN.IGNORED) {
      this.#wdToPath.delete(wd);
      if (this.#pathToWd.get(dir) === wd) this.#pathToWd.delete(dir);
      if (dir === '') this.#fallback ??= 'root_gone';
      else this.#pending.add(dir);
      return;
    }
    if (name === '') {
      // About the directory itself: only its mode, or its going away, matter (not its reads).
      if (!(mask & (IN.ATTRIB | IN.DELETE_SELF | IN.MOVE_SELF))) return;
      if (dir === '') {
        // The root's own mode is not in a manifest; moving or deleting it is.
        if (mask & (IN.DELETE_SELF | IN.MOVE_SELF)) this.#fallback ??= 'root_gone';
        return;
      }
      this.#pending.add(dir);
      return;
    }
    const path = dir === '' ? name : `${dir}/${name}`;
    if (mask & IN.ISDIR && mask & (IN.OPEN | IN.CLOSE_NOWRITE)) return; // a directory read
    if (mask & IN.OPEN) {
      this.#opened(path, 1);
      return;
    }
    if (mask & IN.CLOSE_NOWRITE) {
      this.#opened(path, -1);
      return;
    }
    if (mask & IN.CLOSE_WRITE) this.#opened(path, -1);
    if (mask & IN.MOVED_FROM && this.open.has(path)) {
      this.#movedOpen.set(cookie, this.open.get(path) as number);
      this.open.delete(path);
    }
    if (mask & IN.MOVED_TO && this.#movedOpen.has(cookie)) {
      this.#opened(path, this.#movedOpen.get(cookie) as number);
      this.#movedOpen.delete(cookie);
    }
    this.#pending.add(path);
  }

  /** Stops tracking; the watches go. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#hub?.detach(this.#sink);
    this.#wdToPath.clear();
    this.#pathToWd.clear();
    this.#base = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
