import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { PassThrough } from 'node:stream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import { jetstream } from '@nats-io/jetstream';
import { ObjectBucket } from './bucket.ts';
import { LocalBlobCache } from './cache.ts';
import type { ObjectMeta } from './bucket.ts';
import { SnapshotError, throwIfAborted } from './errors.ts';
import type { ManifestDiff } from './diff.ts';
import { diffManifests, isProbablyText, unifiedDiff } from './diff.ts';
import type { Manifest, ManifestEntry, SnapshotLimits } from './manifest.ts';
import type { ManifestChunkCache } from './manifest.ts';
import { chunkManifest, defaultLimits, isSha256, manifestBytes, parseManifest } from './manifest.ts';
import { forEachLimit } from './pool.ts';
import type { RestoreStats } from './restore.ts';
import { EMPTY_SHA256, restoreTree } from './restore.ts';
import type { CachedEntry, ScannedEntry, SkippedEntry, SnapshotState } from './scan.ts';
import { nowNs, scanWorkspace } from './scan.ts';
import { mergeChanges, refreshPaths } from './incremental.ts';
import type { TrackerFallback, WorkspaceTracker } from './tracker.ts';
import { sameAsManifest } from './unchanged.ts';
import type { ImportStats } from './tar.ts';
import { packManifest, readFileChunks, unpackToManifest } from './tar.ts';

/** Options of {@link SnapshotStore.open}. Units are in the names; defaults in brackets. */
export type SnapshotStoreOptions = {
  /** Object store bucket of content blobs and manifest chunks, keyed by SHA-256 [`airlock_blobs`]. */
  blobBucket?: string;
  /** Object store bucket of manifest indexes (`m.<digest>`) and snapshot refs (`r.<group>.…`) [`airlock_manifests`]. */
  manifestBucket?: string;
  /** Replicas of both buckets [1]. */
  replicas?: number;
  /** Limits for untrusted input (stored manifests, archives) and for workspaces [{@link defaultLimits}]. */
  limits?: Partial<SnapshotLimits>;
  /** Files hashed/uploaded, or restored, in parallel [8 / 16]. */
  hashConcurrency?: number;
  restoreConcurrency?: number;
  /** Files up to this size are read in one piece; bigger ones are streamed twice (hash, then upload) [1 MiB]. */
  inMemoryBytes?: number;
  /** A cached stat is trusted only when mtime/ctime is this much older than the previous scan's start [2000]. */
  racyWindowMs?: number;
  /** Default for {@link GcOptions.keepLast}: snapshots kept per group [Infinity]. */
  keepLast?: number;
  /** GC never deletes blobs, manifests or refs younger than this, protecting concurrent writers in other processes [15 min]. */
  gcGraceMs?: number;
  /**
   * Directory of a local cache of small blobs on this machine (see `LocalBlobCache`); restores read
   * hits from it (re-hashed) instead of NATS. Off when unset.
   */
  cacheDir?: string;
};

/** Counters of one snapshot. `added/modified/deleted` count paths (files, dirs, symlinks) against `previous`. */
export type SnapshotStats = {
  entries: number;
  files: number;
  totalBytes: number;
  added: number;
  modified: number;
  deleted: number;
  /** Files that missed the stat cache and were read and hashed. */
  filesHashed: number;
  bytesHashed: number;
  /** File blobs uploaded (the store lacked them) and their bytes. */
  blobsUploaded: number;
  bytesUploaded: number;
  /** Manifest chunks + index uploaded (0 when an identical snapshot exists). */
  manifestBytesUploaded: number;
  /** Paths not snapshotted (fifos, sockets, devices, unrepresentable names, vanished). Never opened. */
  skipped: SkippedEntry[];
  durationMs: number;
  /**
   * With a tracker: `events` when only the paths file events named were read, `walk` when the
   * workspace was walked (and why: `fallback`, or a due verification). A verifying walk lists in
   * `missed` the changed paths no event had named (empty when events and walk agree).
   */
  tracking?: { mode: 'events' | 'walk'; fallback?: TrackerFallback | undefined; verified?: boolean; missed?: string[]; pathsChecked?: number };
};

/** The result of {@link SnapshotStore.snapshot}. Keep `state` in memory for the next snapshot of the same workspace. */
export type SnapshotResult = { digest: string; manifest: Manifest; stats: SnapshotStats; state: SnapshotState };

/** Options of {@link SnapshotStore.snapshot}. */
export type SnapshotOptions = {
  /** The state returned by the previous snapshot of this workspace; enables the stat fast path and the stats. */
  previous?: SnapshotState | undefined;
  /** Records a ref `group` (e.g. the run id) so `listSnapshots(group)` and `gc({keepLast})` see it. `[A-Za-z0-9_-]+`. */
  group?: string;
  /** Free-form label stored in the ref (e.g. `step-3`). */
  label?: string;
  signal?: AbortSignal;
  /**
   * Change tracking of `dir` (same path): the snapshot reads only what file events named since
   * `previous`, and walks whenever the tracker cannot vouch for that (see tracker.ts).
   */
  tracker?: WorkspaceTracker | undefined;
};

/** One recorded snapshot of a group. */
export type SnapshotRef = { group: string; digest: string; createdAt: string; label?: string | undefined; name: string };

/** A file diff: a unified patch for text, or a marker for binary/oversized files. */
export type FilePatch = { path: string; kind: 'text'; patch: string } | { path: string; kind: 'binary' | 'too_large' };

/** {@link SnapshotStore.diff}'s result. */
export type SnapshotDiff = ManifestDiff & { patches?: FilePatch[] };

/** Options of {@link SnapshotStore.gc}. */
export type GcOptions = {
  /** Manifest digests to keep regardless of refs (e.g. every live run's latest). */
  keep?: readonly string[];
  /** Newest refs kept per group; older refs are deleted [store's keepLast]. */
  keepLast?: number;
  /** Override of the store's grace period. */
  graceMs?: number;
  /** Report only, delete nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
};

/** What a GC did. */
export type GcStats = { refsDeleted: number; manifestsKept: number; manifestsDeleted: number; blobsKept: number; blobsDeleted: number; bytesFreed: number };

type ManifestIndex = { v: 1; digest: string; chunks: string[]; entries: number; bytes: number; createdAt: string };

const GROUP_RE = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
const READ_FLAGS = fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;

/**
 * Content-addressed workspace snapshots in a JetStream Object Store.
 *
 * - A snapshot is a {@link Manifest} (sorted paths with type, permission bits, size, SHA-256, symlink
 *   target) whose SHA-256 over its canonical bytes is its digest. The manifest is stored as
 *   content-defined chunks in the blob bucket plus a small index `m.<digest>` in the manifest
 *   bucket, so consecutive snapshots share almost all manifest bytes too.
 * - File contents are blobs named by their SHA-256: an existing blob is never uploaded again.
 * - Restores and imports treat stored manifests and archives as hostile (see `parseManifest`,
 *   `restoreTree`, `unpackToManifest`).
 * - Ownership: snapshots record permission bits only; restores create files owned by this process
 *   and never chown. Giving a tree back to the workspace owner is the runner's job (workspace.ts).
 *
 * The store does not own the NATS connection; disposing it only refuses further calls.
 *
 * @example
 * await using store = await SnapshotStore.open(nc);
 * const s1 = await store.snapshot('/ws', { group: runId });
 * const s2 = await store.snapshot('/ws', { group: runId, previous: s1.state });
 * await store.restore(s1.digest, '/ws-copy');
 */
export class SnapshotStore {
  readonly blobs: ObjectBucket;
  readonly manifests: ObjectBucket;
  readonly limits: SnapshotLimits;
  readonly #opts: Required<Omit<SnapshotStoreOptions, 'limits' | 'blobBucket' | 'manifestBucket' | 'replicas' | 'cacheDir'>>;
  readonly #cache: LocalBlobCache | undefined;
  /** Blob hashes this process knows to be stored, with their object meta when known (saves a lookup on read). */
  readonly #known = new Map<string, ObjectMeta | null>();
  /**
   * What each snapshot/import in flight has claimed: blob names, manifest chunk names and (once
   * known) its manifest digest. GC keeps everything claimed by a writer that was in flight at any
   * moment of that GC, not only at its end: a writer that finishes mid-GC has written its manifest
   * index or ref after GC listed the manifests bucket, so GC's mark phase cannot see them.
   */
  readonly #inflight = new Set<Set<string>>();
  /** One entry per running GC: every writer claim set in flight at any moment since that GC began. */
  readonly #gcWatches = new Set<Set<Set<string>>>();
  /** Blobs GC is deleting right now; a writer that needs one waits and re-uploads. */
  readonly #deleting = new Map<string, Promise<void>>();
  readonly #manifestCache = new Map<string, Manifest>();
  #closed = false;

  private constructor(blobs: ObjectBucket, manifests: ObjectBucket, opts: SnapshotStoreOptions) {
    this.blobs = blobs;
    this.manifests = manifests;
    this.limits = { ...defaultLimits, ...opts.limits };
    this.#cache = opts.cacheDir !== undefined ? new LocalBlobCache(opts.cacheDir) : undefined;
    this.#opts = {
      hashConcurrency: opts.hashConcurrency ?? 32,
      restoreConcurrency: opts.restoreConcurrency ?? 16,
      inMemoryBytes: opts.inMemoryBytes ?? 1024 * 1024,
      racyWindowMs: opts.racyWindowMs ?? 2000,
      keepLast: opts.keepLast ?? Number.POSITIVE_INFINITY,
      gcGraceMs: opts.gcGraceMs ?? 15 * 60_000,
    };
  }

  /** Opens (creating if missing) the two buckets on `nc` (or a JetStream client). */
  static async open(conn: NatsConnection | JetStreamClient, opts: SnapshotStoreOptions = {}): Promise<SnapshotStore> {
    const js = 'jetstreamManager' in conn ? conn : jetstream(conn);
    const bopts = opts.replicas !== undefined ? { replicas: opts.replicas } : {};
    const blobs = await ObjectBucket.open(js, opts.blobBucket ?? 'airlock_blobs', bopts);
    const manifests = await ObjectBucket.open(js, opts.manifestBucket ?? 'airlock_manifests', bopts);
    return new SnapshotStore(blobs, manifests, opts);
  }

  #check(signal?: AbortSignal): void {
    if (this.#closed) throw new SnapshotError('closed', 'the snapshot store was disposed');
    throwIfAborted(signal);
  }

  /**
   * Snapshots the directory `dir`: walks it without following symlinks, reuses hashes from
   * `previous` for files whose stat is unchanged and not racy, hashes the rest (streaming), uploads
   * blobs the store lacks, then stores the manifest. Cost grows with what changed plus one lstat per path.
   */
  async snapshot(dir: string, opts: SnapshotOptions = {}): Promise<SnapshotResult> {
    this.#check(opts.signal);
    if (opts.group !== undefined && !GROUP_RE.test(opts.group)) throw new SnapshotError('unsafe_path', `snapshot group ${JSON.stringify(opts.group)} must match ${GROUP_RE}`);
    const started = performance.now();
    const tracker = opts.tracker;
    if (tracker !== undefined && tracker.root !== dir) throw new SnapshotError('not_a_directory', `tracker of ${tracker.root} used to snapshot ${dir}`, { data: { root: dir } });
    const refs = this.#beginWrite();
    try {
      if (tracker === undefined) return await this.#walk(dir, opts, refs, started, undefined);
      const fallback = tracker.fallbackFor(opts.previous);
      if (fallback === undefined && !tracker.verifyDue && opts.previous !== undefined) return await this.#tracked(dir, opts.previous, tracker, refs, opts, started);
      return await this.#verifiedWalk(dir, tracker, fallback, refs, opts, started);
    } finally {
      this.#endWrite(refs);
    }
  }

  /**
   * A full walk that (re)places the tracker's watches. When the tracker could have answered
   * (`fallback` undefined: a due verification), the paths that changed are checked against the
   * paths events named; any change no event named is reported in `tracking.missed`.
   */
  async #verifiedWalk(dir: string, tracker: WorkspaceTracker, fallback: TrackerFallback | undefined, refs: Set<string>, opts: SnapshotOptions, started: number): Promise<SnapshotResult> {
    const vouched = new Set<string>([...tracker.multiLinked, ...tracker.open.keys()]);
    const named = tracker.beginWalk();
    const r = await this.#walk(dir, opts, refs, started, (rel) => tracker.watchDir(rel));
    for (const e of r.manifest.entries) {
      const c = r.state.byPath.get(e.path);
      if (e.type === 'file' && (c?.stat?.nlink ?? 1) > 1) tracker.multiLinked.add(e.path);
    }
    for (const sk of r.stats.skipped) if (sk.reason !== 'vanished') tracker.skipped.set(sk.path, sk.reason);
    tracker.endWalk(r.state);
    r.stats.tracking = { mode: 'walk', fallback };
    if (fallback === undefined && opts.previous !== undefined) {
      for (const p of tracker.pendingNow()) named.add(p);
      for (const p of vouched) named.add(p);
      const d = diffManifests(opts.previous.manifest, r.manifest);
      const missed = [...d.added, ...d.deleted, ...d.modified.map((m) => m.after)].map((e) => e.path).filter((p) => !coveredBy(p, named));
      r.stats.tracking = { mode: 'walk', verified: true, missed };
    }
    r.stats.durationMs = performance.now() - started;
    return r;
  }

  /**
   * The snapshot from file events: re-stat only the named paths, hash what changed, merge it into
   * the previous manifest (unchanged manifest chunks are neither serialized nor hashed again).
   * Any failure makes the tracker fall back to a walk next time.
   */
  async #tracked(dir: string, prev: SnapshotState, tracker: WorkspaceTracker, refs: Set<string>, opts: SnapshotOptions, started: number): Promise<SnapshotResult> {
    const { named, all } = tracker.take();
    try {
      const startedAtNs = nowNs();
      const r = await refreshPaths(dir, prev, all, tracker, { racyWindowNs: BigInt(this.#opts.racyWindowMs) * 1_000_000n, limits: this.limits, signal: opts.signal });
      const stats = emptyStats(r.skipped.filter((sk) => sk.reason === 'vanished'));
      for (const [path, reason] of tracker.skipped) stats.skipped.push({ path, reason });
      stats.tracking = { mode: 'events', pathsChecked: all.size };
      const candidates: Extract<ScannedEntry, { type: 'file' }>[] = [];
      for (const e of r.changes.values()) if (e?.type === 'file' && e.sha256 === undefined) candidates.push(e);
      // The previous manifest, claimed, keeps every blob of the entries carried over through a concurrent GC.
      refs.add(prev.digest);
      await forEachLimit(
        candidates,
        this.#opts.hashConcurrency,
        async (e) => {
          const got = await this.#ingestFile(join(dir, e.path), refs, opts.signal);
          if (got === null) {
            if (prev.byPath.has(e.path)) r.changes.set(e.path, null);
            else r.changes.delete(e.path);
            stats.skipped.push({ path: e.path, reason: 'vanished' });
            return;
          }
          recordIngested(e, got, stats);
        },
        opts.signal,
      );
      const merged = mergeChanges(prev, r, this.limits);
      Object.assign(stats, { entries: merged.entries.length, files: merged.files, totalBytes: merged.totalBytes, added: merged.added, modified: merged.modified, deleted: merged.deleted });
      let digest = prev.digest;
      let manifest = prev.manifest;
      const same = merged.added + merged.modified + merged.deleted === 0 && (await this.manifests.info(`m.${digest}`)) !== null;
      if (!same) {
        manifest = { version: 1, entries: merged.entries };
        const stored = await this.#storeManifest(manifest, refs, opts.signal, tracker.chunks);
        digest = stored.digest;
        stats.manifestBytesUploaded = stored.uploadedBytes;
        this.#remember(digest, manifest);
      }
      if (opts.group !== undefined) await this.#writeRef(opts.group, digest, opts.label);
      const state: SnapshotState = { digest, manifest, startedAtNs, byPath: prev.byPath };
      tracker.tracked(state);
      stats.durationMs = performance.now() - started;
      return { digest, manifest, stats, state };
    } catch (err) {
      tracker.untake(named);
      tracker.invalidate();
      throw err;
    }
  }

  /** The walk: every path lstat'ed, hashes reused where the stat cache vouches for them. */
  async #walk(dir: string, opts: SnapshotOptions, refs: Set<string>, started: number, onDir: ((rel: string) => void) | undefined): Promise<SnapshotResult> {
      const scan = await scanWorkspace(dir, {
        previous: opts.previous,
        racyWindowNs: BigInt(this.#opts.racyWindowMs) * 1_000_000n,
        limits: this.limits,
        signal: opts.signal,
        ...(onDir ? { onDir } : {}),
      });
      const stats: SnapshotStats = {
        entries: 0,
        files: 0,
        totalBytes: 0,
        added: 0,
        modified: 0,
        deleted: 0,
        filesHashed: 0,
        bytesHashed: 0,
        blobsUploaded: 0,
        bytesUploaded: 0,
        manifestBytesUploaded: 0,
        skipped: scan.skipped,
        durationMs: 0,
      };
      if (opts.previous && scan.candidates === 0 && sameAsManifest(scan.entries, opts.previous.manifest)) {
        const same = await this.#unchanged(opts.previous, scan, refs, stats, opts);
        if (same) {
          stats.durationMs = performance.now() - started;
          return same;
        }
      }
      const candidates: Extract<ScannedEntry, { type: 'file' }>[] = [];
      for (const e of scan.entries) {
        if (e.type !== 'file') continue;
        if (e.sha256 === undefined) candidates.push(e);
        else refs.add(e.sha256);
      }
      const vanished = new Set<string>();
      await forEachLimit(
        candidates,
        this.#opts.hashConcurrency,
        async (e) => {
          const r = await this.#ingestFile(join(dir, e.path), refs, opts.signal);
          if (r === null) {
            vanished.add(e.path);
            stats.skipped.push({ path: e.path, reason: 'vanished' });
            return;
          }
          recordIngested(e, r, stats);
        },
        opts.signal,
      );
      const entries: ManifestEntry[] = [];
      const byPath = new Map<string, CachedEntry>();
      for (const e of scan.entries) {
        if (vanished.has(e.path)) continue;
        let entry: ManifestEntry;
        if (e.type === 'dir') entry = { path: e.path, type: 'dir', mode: e.mode, size: 0 };
        else if (e.type === 'symlink') entry = { path: e.path, type: 'symlink', mode: 0o777, size: Buffer.byteLength(e.target), target: e.target };
        else entry = { path: e.path, type: 'file', mode: e.mode, size: e.size, sha256: e.sha256 as string };
        entries.push(entry);
        byPath.set(e.path, { entry, stat: e.stat });
      }
      const manifest: Manifest = { version: 1, entries };
      const { digest, uploadedBytes } = await this.#storeManifest(manifest, refs, opts.signal);
      stats.manifestBytesUploaded = uploadedBytes;
      if (opts.group !== undefined) await this.#writeRef(opts.group, digest, opts.label);
      for (const e of entries) {
        stats.entries++;
        if (e.type === 'file') {
          stats.files++;
          stats.totalBytes += e.size;
        }
      }
      if (opts.previous) {
        const d = diffManifests(opts.previous.manifest, manifest);
        stats.added = d.added.length;
        stats.modified = d.modified.length;
        stats.deleted = d.deleted.length;
      } else {
        stats.added = entries.length;
      }
      this.#remember(digest, manifest);
      stats.durationMs = performance.now() - started;
      return { digest, manifest, stats, state: { digest, manifest, startedAtNs: scan.startedAtNs, byPath } };
  }

  /**
   * The snapshot of a workspace the stat walk found exactly as `previous` recorded it: the same digest,
   * with a new ref and a fresh stat cache. Null when the previous manifest's index is gone from the
   * store (a GC removed it): the caller then stores the manifest again as for any change.
   */
  async #unchanged(previous: SnapshotState, scan: { entries: ScannedEntry[]; startedAtNs: bigint }, refs: Set<string>, stats: SnapshotStats, opts: SnapshotOptions): Promise<SnapshotResult | null> {
    const { digest, manifest } = previous;
    // Claimed before the check: a GC that starts now keeps the index while this ref is written.
    refs.add(digest);
    if ((await this.manifests.info(`m.${digest}`)) === null) return null;
    if (opts.group !== undefined) await this.#writeRef(opts.group, digest, opts.label);
    // The previous stat cache stays valid: every file matched it field for field (sameAsManifest
    // needs a reused hash). A symlink recreated with the same target keeps its old stat there, which
    // only costs one readlink next time; directory stats are never trusted.
    for (const e of manifest.entries) {
      if (e.type !== 'file') continue;
      stats.files++;
      stats.totalBytes += e.size;
    }
    stats.entries = manifest.entries.length;
    return { digest, manifest, stats, state: { digest, manifest, startedAtNs: scan.startedAtNs, byPath: previous.byPath } };
  }

  /** Registers a writer's claim set, visible to every GC running now (and to later ones while in flight). */
  #beginWrite(): Set<string> {
    const refs = new Set<string>();
    this.#inflight.add(refs);
    for (const watch of this.#gcWatches) watch.add(refs);
    return refs;
  }

  /** The writer is done; GCs that saw it in flight keep its claims until they end. */
  #endWrite(refs: Set<string>): void {
    this.#inflight.delete(refs);
  }

  /** Marks `sha` as referenced by an in-flight writer and waits out a concurrent GC deletion of it. */
  async #claim(sha: string, refs: Set<string>): Promise<void> {
    refs.add(sha);
    const d = this.#deleting.get(sha);
    if (d) await d.catch(() => undefined);
  }

  /** True when the store holds `sha` (in-process index first, then one direct get). */
  async #has(sha: string): Promise<boolean> {
    if (this.#known.has(sha)) return true;
    const meta = await this.blobs.info(sha);
    if (meta === null) return false;
    this.#known.set(sha, meta);
    return true;
  }

  async #putBytes(sha: string, bytes: Uint8Array): Promise<void> {
    this.#known.set(sha, await this.blobs.putBytes(sha, bytes));
  }

  /**
   * Reads, hashes and (if new) uploads one file. Opened with O_NOFOLLOW|O_NONBLOCK and fstat-checked,
   * so a path swapped for a symlink or fifo since the scan is never followed nor blocks. Returns null
   * when the file vanished or is no longer a regular file.
   */
  async #ingestFile(abs: string, refs: Set<string>, signal: AbortSignal | undefined, attempt = 0): Promise<{ sha256: string; size: number; uploaded: boolean } | null> {
    let fh: FileHandle;
    try {
      fh = await open(abs, READ_FLAGS);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENXIO') return null;
      throw err;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) return null;
      if (st.size <= this.#opts.inMemoryBytes) {
        const buf = await readUpTo(fh, this.#opts.inMemoryBytes + 1);
        if (buf.length <= this.#opts.inMemoryBytes) {
          const sha256 = createHash('sha256').update(buf).digest('hex');
          if (this.#cache !== undefined && !this.#cache.has(sha256)) this.#cache.put(sha256, buf);
          await this.#claim(sha256, refs);
          if (await this.#has(sha256)) return { sha256, size: buf.length, uploaded: false };
          await this.#putBytes(sha256, buf);
          return { sha256, size: buf.length, uploaded: true };
        }
      }
      // Large file: hash pass, then (only if new) an upload pass that re-hashes what it sends.
      const first = createHash('sha256');
      let size = 0;
      for await (const c of fdChunks(fh, signal)) {
        first.update(c);
        size += c.byteLength;
      }
      const sha256 = first.digest('hex');
      await this.#claim(sha256, refs);
      if (await this.#has(sha256)) return { sha256, size, uploaded: false };
      const second = createHash('sha256');
      let sent = 0;
      const verified = async function* (): AsyncGenerator<Uint8Array> {
        for await (const c of fdChunks(fh, signal)) {
          second.update(c);
          sent += c.byteLength;
          yield c;
        }
        if (sent !== size || second.digest('hex') !== sha256) {
          throw new SnapshotError('concurrent_modification', `${abs} changed while it was being uploaded`, { data: { path: abs } });
        }
      };
      try {
        this.#known.set(sha256, await this.blobs.putStream(sha256, verified()));
      } catch (err) {
        if (err instanceof SnapshotError && err.code === 'concurrent_modification' && attempt === 0) {
          await fh.close();
          fh = undefined as unknown as FileHandle;
          return this.#ingestFile(abs, refs, signal, 1);
        }
        throw err;
      }
      return { sha256, size, uploaded: true };
    } finally {
      await fh?.close();
    }
  }

  async #storeManifest(manifest: Manifest, refs: Set<string>, signal: AbortSignal | undefined, cache?: ManifestChunkCache): Promise<{ digest: string; uploadedBytes: number }> {
    const { chunks, names, digest } = cache ? cache.chunk(manifest, sha256Hex) : chunkAndHash(manifest);
    let uploadedBytes = 0;
    const indexName = `m.${digest}`;
    // Claim the manifest itself too: GC must not delete an index whose ref is not written yet.
    refs.add(digest);
    for (const n of names) await this.#claim(n, refs);
    if ((await this.manifests.info(indexName)) !== null) {
      // Identical tree already stored; make sure its chunks still are (GC may have raced us).
      let complete = true;
      for (const n of names) if (!(await this.#has(n))) complete = false;
      if (complete) return { digest, uploadedBytes: 0 };
    }
    await forEachLimit(
      chunks.map((c, i) => ({ c, n: names[i] as string })),
      8,
      async ({ c, n }) => {
        if (await this.#has(n)) return;
        await this.#putBytes(n, c);
        uploadedBytes += c.length;
      },
      signal,
    );
    const index: ManifestIndex = { v: 1, digest, chunks: names, entries: manifest.entries.length, bytes: manifestBytes(manifest), createdAt: new Date().toISOString() };
    const body = Buffer.from(JSON.stringify(index));
    await this.manifests.putBytes(indexName, body);
    uploadedBytes += body.length;
    return { digest, uploadedBytes };
  }

  async #writeRef(group: string, digest: string, label: string | undefined): Promise<void> {
    const createdAt = new Date().toISOString();
    const name = `r.${group}.${String(Date.now()).padStart(15, '0')}.${digest.slice(0, 16)}`;
    const ref = { v: 1, group, digest, createdAt, ...(label !== undefined ? { label } : {}) };
    await this.manifests.putBytes(name, Buffer.from(JSON.stringify(ref)), { group, digest });
  }

  #remember(digest: string, m: Manifest): void {
    this.#manifestCache.delete(digest);
    this.#manifestCache.set(digest, m);
    while (this.#manifestCache.size > 8) this.#manifestCache.delete(this.#manifestCache.keys().next().value as string);
  }

  /**
   * Loads and fully validates a stored manifest (chunk hashes, overall digest, canonical form, safe
   * paths, limits). Throws `manifest_not_found`, `invalid_manifest`, `unsafe_path`, `limit_exceeded`.
   */
  async getManifest(digest: string, opts: { signal?: AbortSignal } = {}): Promise<Manifest> {
    this.#check(opts.signal);
    if (!isSha256(digest)) throw new SnapshotError('manifest_not_found', `${JSON.stringify(digest)} is not a manifest digest`, { data: { digest } });
    const cached = this.#manifestCache.get(digest);
    if (cached) return cached;
    const raw = await this.manifests.readBytes(`m.${digest}`, { maxBytes: MAX_INDEX_BYTES, ...(opts.signal ? { signal: opts.signal } : {}) });
    if (raw === null) throw new SnapshotError('manifest_not_found', `no manifest ${digest}`, { data: { digest } });
    let index: ManifestIndex;
    try {
      index = JSON.parse(raw.toString('utf8')) as ManifestIndex;
    } catch (cause) {
      throw new SnapshotError('invalid_manifest', `manifest index ${digest} is not JSON`, { cause, data: { digest } });
    }
    if (index.v !== 1 || index.digest !== digest || !Array.isArray(index.chunks) || !index.chunks.every((c) => typeof c === 'string' && isSha256(c))) {
      throw new SnapshotError('invalid_manifest', `manifest index ${digest} is malformed`, { data: { digest } });
    }
    const parts: Buffer[] = new Array<Buffer>(index.chunks.length);
    let total = 0;
    await forEachLimit(
      index.chunks,
      8,
      async (name, i) => {
        const bytes = await this.blobs.readBytes(name, { maxBytes: 16 * 1024 * 1024, ...(opts.signal ? { signal: opts.signal } : {}) });
        if (bytes === null) throw new SnapshotError('blob_missing', `manifest ${digest} lost chunk ${name}`, { data: { digest, blob: name } });
        if (createHash('sha256').update(bytes).digest('hex') !== name) throw new SnapshotError('blob_mismatch', `manifest ${digest} chunk ${name} is corrupt`, { data: { digest, blob: name } });
        total += bytes.length;
        if (total > this.limits.maxEntries * 8192) throw new SnapshotError('limit_exceeded', `manifest ${digest} is too large`, { data: { digest } });
        parts[i] = bytes;
      },
      opts.signal,
    );
    const bytes = Buffer.concat(parts);
    if (createHash('sha256').update(bytes).digest('hex') !== digest) throw new SnapshotError('invalid_manifest', `manifest ${digest} does not hash to its digest`, { data: { digest } });
    const m = parseManifest(bytes, this.limits);
    this.#remember(digest, m);
    return m;
  }

  /** Streams a blob's stored bytes, unverified: whoever consumes them hashes what it reads (the harness's `api.snapshot` hands them on). */
  readBlob(sha: string, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    return this.#readBlob(sha, signal);
  }

  /** Streams a blob's stored bytes (not verified here; every consumer hashes what it reads). */
  async *#readBlob(sha: string, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
    const meta = this.#known.get(sha);
    if (meta) {
      try {
        yield* this.blobs.read(sha, { meta, ...(signal ? { signal } : {}) });
        return;
      } catch (err) {
        // Cached meta may be stale (re-uploaded by another process); retry once with a fresh lookup,
        // unless bytes already went out.
        if (!(err instanceof SnapshotError && err.code === 'blob_missing')) throw err;
        this.#known.delete(sha);
      }
    }
    const fresh = await this.blobs.info(sha);
    if (fresh === null) throw new SnapshotError('blob_missing', `blob ${sha} is not in the store`, { data: { blob: sha } });
    this.#known.set(sha, fresh);
    yield* this.blobs.read(sha, { meta: fresh, ...(signal ? { signal } : {}) });
  }

  /**
   * Restores snapshot `digest` into `targetDir`: built in a fresh temp dir beside it, every blob
   * verified while written, then swapped in by rename; on any failure the target is unchanged.
   * Files are owned by this process; permission bits are restored, setuid/setgid/sticky and mtimes
   * are not. See `restoreTree` for the exact guarantees.
   */
  async restore(digest: string, targetDir: string, opts: { signal?: AbortSignal; concurrency?: number } = {}): Promise<RestoreStats> {
    this.#check(opts.signal);
    const manifest = await this.getManifest(digest, opts);
    return restoreTree(manifest, targetDir, (sha, signal) => this.#readBlob(sha, signal), {
      concurrency: opts.concurrency ?? this.#opts.restoreConcurrency,
      signal: opts.signal,
      local: this.#cache,
    });
  }

  /**
   * Streams snapshot `digest` as a tar archive (GNU tar / bsdtar compatible). Errors (unknown digest,
   * corrupt blob) destroy the stream with a {@link SnapshotError}.
   */
  exportTar(digest: string, opts: { signal?: AbortSignal; mtime?: Date } = {}): Readable {
    const out = new PassThrough();
    void (async () => {
      this.#check(opts.signal);
      const manifest = await this.getManifest(digest, opts);
      const pack = packManifest(manifest, (sha, signal) => this.#readBlob(sha, signal), opts);
      pack.on('error', (err) => out.destroy(err));
      pack.pipe(out);
    })().catch((err: unknown) => out.destroy(err as Error));
    return out;
  }

  /**
   * Imports a tar (or tar.gz, detected by magic bytes) from an untrusted source as a new snapshot.
   * Rejects hostile archives with typed errors (see `unpackToManifest`); nothing is written to disk
   * except private spool files for entries over `inMemoryBytes`.
   */
  async importTar(
    input: AsyncIterable<Uint8Array>,
    opts: { group?: string; label?: string; signal?: AbortSignal; limits?: Partial<SnapshotLimits>; spoolDir?: string } = {},
  ): Promise<{ digest: string; manifest: Manifest; stats: ImportStats }> {
    this.#check(opts.signal);
    if (opts.group !== undefined && !GROUP_RE.test(opts.group)) throw new SnapshotError('unsafe_path', `snapshot group ${JSON.stringify(opts.group)} must match ${GROUP_RE}`);
    const refs = this.#beginWrite();
    try {
      const { manifest, stats } = await unpackToManifest(
        input,
        {
          has: async (sha) => {
            await this.#claim(sha, refs);
            return this.#has(sha);
          },
          putBytes: (sha, bytes) => this.#putBytes(sha, bytes),
          putFile: async (sha, path) => {
            const bytes = path ? readFileChunks(path) : undefined;
            if (bytes === undefined) return;
            this.#known.set(sha, await this.blobs.putStream(sha, bytes));
          },
        },
        {
          limits: { ...this.limits, ...opts.limits },
          inMemoryBytes: this.#opts.inMemoryBytes,
          ...(opts.signal ? { signal: opts.signal } : {}),
          ...(opts.spoolDir ? { spoolDir: opts.spoolDir } : {}),
        },
      );
      // Empty files reference the empty blob; store it once so every manifest blob exists.
      if (manifest.entries.some((e) => e.type === 'file' && e.sha256 === EMPTY_SHA256)) {
        await this.#claim(EMPTY_SHA256, refs);
        if (!(await this.#has(EMPTY_SHA256))) await this.#putBytes(EMPTY_SHA256, new Uint8Array(0));
      }
      const { digest } = await this.#storeManifest(manifest, refs, opts.signal);
      if (opts.group !== undefined) await this.#writeRef(opts.group, digest, opts.label);
      this.#remember(digest, manifest);
      return { digest, manifest, stats };
    } finally {
      this.#endWrite(refs);
    }
  }

  /**
   * Paths added, modified and deleted from snapshot `a` to snapshot `b`. With `patch`, also a unified
   * diff per modified or added/deleted text file up to `maxPatchBytes` [1 MiB] per side; binary files
   * are reported as `binary`, bigger ones as `too_large`.
   */
  async diff(a: string, b: string, opts: { patch?: boolean; maxPatchBytes?: number; context?: number; signal?: AbortSignal } = {}): Promise<SnapshotDiff> {
    const [ma, mb] = await Promise.all([this.getManifest(a, opts), this.getManifest(b, opts)]);
    const d: SnapshotDiff = diffManifests(ma, mb);
    if (!opts.patch) return d;
    const max = opts.maxPatchBytes ?? 1024 * 1024;
    const patches: FilePatch[] = [];
    const load = async (e: ManifestEntry | undefined): Promise<Buffer | 'too_large'> => {
      if (e === undefined || e.type !== 'file') return Buffer.alloc(0);
      if (e.size > max) return 'too_large';
      if (e.size === 0) return Buffer.alloc(0);
      const parts: Uint8Array[] = [];
      for await (const c of this.#readBlob(e.sha256, opts.signal)) parts.push(c);
      const buf = Buffer.concat(parts);
      if (createHash('sha256').update(buf).digest('hex') !== e.sha256) throw new SnapshotError('blob_mismatch', `blob for ${e.path} is corrupt`, { data: { path: e.path } });
      return buf;
    };
    const work: { path: string; before: ManifestEntry | undefined; after: ManifestEntry | undefined }[] = [
      ...d.added.filter((e) => e.type === 'file').map((e) => ({ path: e.path, before: undefined, after: e })),
      ...d.modified.filter((m) => m.contentChanged && (m.before.type === 'file' || m.after.type === 'file')).map((m) => ({ path: m.path, before: m.before, after: m.after })),
      ...d.deleted.filter((e) => e.type === 'file').map((e) => ({ path: e.path, before: e, after: undefined })),
    ];
    for (const w of work) {
      const [x, y] = await Promise.all([load(w.before), load(w.after)]);
      if (x === 'too_large' || y === 'too_large') patches.push({ path: w.path, kind: 'too_large' });
      else if (!isProbablyText(x) || !isProbablyText(y)) patches.push({ path: w.path, kind: 'binary' });
      else {
        const patch = unifiedDiff(x.toString('utf8'), y.toString('utf8'), {
          oldName: w.before ? `a/${w.path}` : '/dev/null',
          newName: w.after ? `b/${w.path}` : '/dev/null',
          ...(opts.context !== undefined ? { context: opts.context } : {}),
        });
        if (patch === null) patches.push({ path: w.path, kind: 'too_large' });
        else patches.push({ path: w.path, kind: 'text', patch });
      }
    }
    patches.sort((p, q) => (p.path < q.path ? -1 : p.path > q.path ? 1 : 0));
    d.patches = patches;
    return d;
  }

  /** Refs of `group` (or of every group), oldest first. */
  async listSnapshots(group?: string): Promise<SnapshotRef[]> {
    this.#check();
    const all = await this.manifests.list();
    const refs: SnapshotRef[] = [];
    for (const o of all) {
      if (!o.name.startsWith('r.')) continue;
      const g = o.metadata?.group;
      const digest = o.metadata?.digest;
      if (g === undefined || digest === undefined) continue;
      if (group !== undefined && g !== group) continue;
      refs.push({ group: g, digest, createdAt: o.mtime, name: o.name });
    }
    refs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return refs;
  }

  /**
   * Garbage collection. Deletes refs beyond the newest `keepLast` per group, then every manifest not
   * named by a remaining ref or `keep`, then every blob not referenced by a retained manifest.
   * Safe while snapshots run: the manifests, manifest chunks and blobs claimed by snapshots/imports
   * of this store that were in flight at any moment of this GC are kept (also when they finish
   * before GC sweeps), a writer needing a blob being deleted waits and re-uploads, and nothing
   * younger than `graceMs` is deleted (covers writers in other processes, which claim old blobs
   * without re-uploading them only when their previous manifest, and so the blob, is retained).
   */
  async gc(opts: GcOptions = {}): Promise<GcStats> {
    this.#check(opts.signal);
    const keepLast = opts.keepLast ?? this.#opts.keepLast;
    const graceMs = opts.graceMs ?? this.#opts.gcGraceMs;
    const cutoff = Date.now() - graceMs;
    const young = (mtime: string): boolean => Date.parse(mtime) > cutoff;
    const stats: GcStats = { refsDeleted: 0, manifestsKept: 0, manifestsDeleted: 0, blobsKept: 0, blobsDeleted: 0, bytesFreed: 0 };
    // Every writer in flight from now until this GC ends, with all it claims meanwhile.
    const writers = new Set(this.#inflight);
    this.#gcWatches.add(writers);
    try {
      return await this.#gc(opts, keepLast, young, writers, stats);
    } finally {
      this.#gcWatches.delete(writers);
    }
  }

  async #gc(opts: GcOptions, keepLast: number, young: (mtime: string) => boolean, writers: Set<Set<string>>, stats: GcStats): Promise<GcStats> {
    const claimed = (name: string): boolean => {
      for (const w of writers) if (w.has(name)) return true;
      return false;
    };
    const objects = await this.manifests.list();
    const refsByGroup = new Map<string, ObjectMeta[]>();
    const indexes: ObjectMeta[] = [];
    for (const o of objects) {
      if (o.name.startsWith('m.')) indexes.push(o);
      else if (o.name.startsWith('r.') && o.metadata?.group) {
        const list = refsByGroup.get(o.metadata.group) ?? [];
        list.push(o);
        refsByGroup.set(o.metadata.group, list);
      }
    }
    const keepDigests = new Set<string>(opts.keep ?? []);
    for (const list of refsByGroup.values()) {
      list.sort((a, b) => (a.name < b.name ? -1 : 1));
      const cut = Number.isFinite(keepLast) ? Math.max(0, list.length - keepLast) : 0;
      for (let i = 0; i < list.length; i++) {
        const r = list[i] as ObjectMeta;
        if (i >= cut || young(r.mtime)) {
          if (r.metadata?.digest) keepDigests.add(r.metadata.digest);
        } else {
          if (!opts.dryRun) await this.manifests.delete(r.name);
          stats.refsDeleted++;
        }
      }
    }
    // Mark.
    const live = new Set<string>();
    for (const idx of indexes) {
      const digest = idx.name.slice(2);
      if (!keepDigests.has(digest) && !young(idx.mtime) && !claimed(digest)) continue;
      let m: Manifest;
      try {
        m = await this.getManifest(digest, opts);
      } catch (err) {
        if (err instanceof SnapshotError && !keepDigests.has(digest)) continue; // broken and unwanted
        throw err;
      }
      stats.manifestsKept++;
      for (const e of m.entries) if (e.type === 'file') live.add(e.sha256);
      const raw = await this.manifests.readBytes(idx.name, { maxBytes: MAX_INDEX_BYTES });
      if (raw) for (const c of (JSON.parse(raw.toString('utf8')) as ManifestIndex).chunks) live.add(c);
    }
    // Sweep manifests.
    for (const idx of indexes) {
      const digest = idx.name.slice(2);
      if (keepDigests.has(digest) || young(idx.mtime) || claimed(digest)) continue;
      if (!opts.dryRun) {
        await this.manifests.delete(idx.name);
        this.#manifestCache.delete(digest);
      }
      stats.manifestsDeleted++;
    }
    // Sweep blobs.
    const blobs = await this.blobs.list();
    for (const b of blobs) {
      throwIfAborted(opts.signal);
      if (live.has(b.name) || young(b.mtime) || claimed(b.name)) {
        stats.blobsKept++;
        continue;
      }
      stats.blobsDeleted++;
      stats.bytesFreed += b.size;
      if (opts.dryRun) continue;
      this.#known.delete(b.name);
      this.#cache?.delete(b.name);
      const p = this.blobs.delete(b.name);
      this.#deleting.set(b.name, p);
      try {
        await p;
      } finally {
        this.#deleting.delete(b.name);
      }
    }
    return stats;
  }

  /** Bytes held by both buckets' streams (content, manifests, per-message overhead). */
  async storedBytes(): Promise<{ blobs: number; manifests: number; total: number }> {
    const [blobs, manifests] = await Promise.all([this.blobs.storedBytes(), this.manifests.storedBytes()]);
    return { blobs, manifests, total: blobs + manifests };
  }

  /** Refuses further calls. Idempotent. The NATS connection belongs to the caller. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    this.#manifestCache.clear();
  }
}

/** Reads at most `max` bytes from the start of `fh`. */
async function readUpTo(fh: FileHandle, max: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(max);
  let off = 0;
  while (off < max) {
    const { bytesRead } = await fh.read(buf, off, max - off, off);
    if (bytesRead === 0) break;
    off += bytesRead;
  }
  return buf.subarray(0, off);
}

/** Reads `fh` from offset 0 in fresh 512 KiB chunks (each yielded buffer is owned by the consumer). */
async function* fdChunks(fh: FileHandle, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  const size = 512 * 1024;
  let pos = 0;
  for (;;) {
    throwIfAborted(signal);
    const buf = Buffer.allocUnsafe(size);
    const { bytesRead } = await fh.read(buf, 0, size, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}


/** SHA-256 of `b`, lowercase hex. */
function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The manifest's chunks, their names and the whole manifest's digest, computed from scratch. */
function chunkAndHash(manifest: Manifest): { chunks: Buffer[]; names: string[]; digest: string } {
  const chunks = chunkManifest(manifest);
  const whole = createHash('sha256');
  const names: string[] = [];
  for (const c of chunks) {
    whole.update(c);
    names.push(sha256Hex(c));
  }
  return { chunks, names, digest: whole.digest('hex') };
}

/** Zeroed counters of one snapshot. */
/** A file hashed (and uploaded unless the store had it) for a snapshot: onto its entry and into the stats. */
function recordIngested(e: Extract<ScannedEntry, { type: 'file' }>, got: { sha256: string; size: number; uploaded: boolean }, stats: SnapshotStats): void {
  e.sha256 = got.sha256;
  e.size = got.size;
  stats.filesHashed++;
  stats.bytesHashed += got.size;
  if (got.uploaded) {
    stats.blobsUploaded++;
    stats.bytesUploaded += got.size;
  }
}

function emptyStats(skipped: SkippedEntry[]): SnapshotStats {
  return { entries: 0, files: 0, totalBytes: 0, added: 0, modified: 0, deleted: 0, filesHashed: 0, bytesHashed: 0, blobsUploaded: 0, bytesUploaded: 0, manifestBytesUploaded: 0, skipped, durationMs: 0 };
}

/** True when `path` or one of its ancestors is in `named` (a rescanned directory covers its subtree). */
function coveredBy(path: string, named: ReadonlySet<string>): boolean {
  for (let p = path; ; ) {
    if (named.has(p)) return true;
    const i = p.lastIndexOf('/');
    if (i < 0) return false;
    p = p.slice(0, i);
  }
}
