import { createHash } from 'node:crypto';
import { SnapshotError } from './errors.ts';

/** Kinds of entries a manifest can hold. Everything else in a workspace is skipped. */
export const entryTypes = ['file', 'dir', 'symlink'] as const;
export type EntryType = (typeof entryTypes)[number];

/**
 * One path of a snapshot. `path` is relative to the workspace root, `/`-separated, with no
 * `.`/`..`/empty components. `mode` holds the permission bits only (`0o777`): setuid, setgid and
 * sticky bits are never recorded nor restored, and neither are owner, group or mtime.
 * - file: `size` bytes whose SHA-256 (lowercase hex) is `sha256`;
 * - dir: `size` 0;
 * - symlink: `target` is stored verbatim as data (may dangle or point outside), `size` its UTF-8 length.
 */
export type ManifestEntry =
  | { path: string; type: 'file'; mode: number; size: number; sha256: string }
  | { path: string; type: 'dir'; mode: number; size: 0 }
  | { path: string; type: 'symlink'; mode: number; size: number; target: string };

/** A snapshot's full listing, sorted by the UTF-8 bytes of `path`. Its digest is the SHA-256 of {@link serializeManifest}. */
export type Manifest = {
  readonly version: 1;
  readonly entries: readonly ManifestEntry[];
};

/**
 * Bounds applied to every untrusted input (stored manifests, tar archives, restores).
 * Defaults: {@link defaultLimits}.
 */
export type SnapshotLimits = {
  /** Most entries (files + dirs + symlinks) in one snapshot. */
  maxEntries: number;
  /** Most bytes of file content in one snapshot. */
  maxTotalBytes: number;
  /** Most bytes in one file. */
  maxEntryBytes: number;
  /** Longest path in UTF-8 bytes (Linux PATH_MAX). */
  maxPathBytes: number;
};

/** Generous defaults: a workspace, not a disk image. */
export const defaultLimits: SnapshotLimits = {
  maxEntries: 1_000_000,
  maxTotalBytes: 32 * 1024 ** 3,
  maxEntryBytes: 8 * 1024 ** 3,
  maxPathBytes: 4096,
} as const;

const SHA256_RE = /^[0-9a-f]{64}$/;
const HEADER_LINE = '{"v":1,"kind":"airlock.manifest"}';

/** True for a lowercase hex SHA-256. */
export function isSha256(s: string): boolean {
  return SHA256_RE.test(s);
}

/**
 * Validates a relative path from an untrusted source and returns it unchanged.
 * Rejects (`unsafe_path`): empty, absolute, NUL, empty/`.`/`..` components, trailing slash,
 * components over 255 bytes; (`limit_exceeded`) paths over `maxPathBytes`.
 */
export function validatePath(path: string, maxPathBytes = defaultLimits.maxPathBytes): string {
  const unsafe = (why: string): never => {
    throw new SnapshotError('unsafe_path', `unsafe path ${JSON.stringify(path.slice(0, 200))}: ${why}`, { data: { path: path.slice(0, 4096), reason: why } });
  };
  if (path.length === 0) unsafe('empty');
  if (path.includes('\0')) unsafe('contains NUL');
  if (path.startsWith('/')) unsafe('absolute');
  if (Buffer.byteLength(path) > maxPathBytes) {
    throw new SnapshotError('limit_exceeded', `path longer than ${maxPathBytes} bytes`, { data: { limit: 'maxPathBytes', value: maxPathBytes } });
  }
  for (const part of path.split('/')) {
    if (part === '') unsafe('empty component');
    if (part === '.' || part === '..') unsafe(`"${part}" component`);
    if (Buffer.byteLength(part) > 255) unsafe('component longer than 255 bytes');
  }
  return path;
}

/**
 * Byte-wise comparison of UTF-8 paths (the manifest order). UTF-16 code-unit order equals UTF-8 byte
 * order except across surrogate pairs, so only a first difference involving non-ASCII falls back to
 * a byte comparison.
 */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 && y < 0xd800) return x - y;
    return Buffer.compare(Buffer.from(a.slice(i)), Buffer.from(b.slice(i)));
  }
  return a.length - b.length;
}

/** The parent directory of a manifest path, or '' for top-level entries. */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** One canonical manifest line (fixed key order, no whitespace). */
export function serializeEntry(e: ManifestEntry): string {
  const p = JSON.stringify(e.path);
  switch (e.type) {
    case 'file':
      return `{"path":${p},"type":"file","mode":${e.mode},"size":${e.size},"sha256":"${e.sha256}"}`;
    case 'dir':
      return `{"path":${p},"type":"dir","mode":${e.mode},"size":0}`;
    case 'symlink':
      return `{"path":${p},"type":"symlink","mode":${e.mode},"size":${e.size},"target":${JSON.stringify(e.target)}}`;
  }
}

/** The canonical bytes of a manifest: a header line, then one JSON line per entry, each ending in `\n`. */
export function serializeManifest(m: Manifest): Buffer {
  const lines = [HEADER_LINE];
  for (const e of m.entries) lines.push(serializeEntry(e));
  return Buffer.from(lines.join('\n') + '\n');
}

/** SHA-256 (hex) of the canonical manifest bytes: the snapshot's identity. */
export function manifestDigest(m: Manifest): string {
  return createHash('sha256').update(serializeManifest(m)).digest('hex');
}

/**
 * FNV-1a 32-bit with a final avalanche (murmur3's fmix32); only used to place manifest chunk
 * boundaries. Plain FNV-1a's low bits depend only on the low bits of each character, so paths that
 * differ in digits rarely hit `% avgLines === 0` and chunks grew to `maxChunkBytes`.
 */
function boundaryHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A serialized line and its UTF-8 length (newline included), cached per entry object (manifest entries are never mutated). */
type Line = { text: string; bytes: number; hash: number };
const lines = new WeakMap<ManifestEntry, Line>();

function lineOf(e: ManifestEntry): Line {
  let l = lines.get(e);
  if (l === undefined) {
    const text = serializeEntry(e);
    l = { text, bytes: Buffer.byteLength(text) + 1, hash: boundaryHash(e.path) };
    lines.set(e, l);
  }
  return l;
}

/**
 * Splits the canonical manifest bytes into content-defined chunks, so that consecutive snapshots
 * share almost all of them: a chunk ends after an entry whose path hashes to 0 mod `avgLines`
 * (boundaries depend on paths only, so changing a file's content changes exactly one chunk), or
 * at `maxChunkBytes`. Concatenating the chunks gives back {@link serializeManifest}.
 */
export function chunkManifest(m: Manifest, avgLines = 64, maxChunkBytes = 256 * 1024): Buffer[] {
  return chunkRanges(m, avgLines, maxChunkBytes).map(([a, b]) => chunkBytes(m.entries, a, b));
}

/** [start, end) entry ranges of the chunks; the header line belongs to the first. */
function chunkRanges(m: Manifest, avgLines: number, maxChunkBytes: number): [number, number][] {
  const ranges: [number, number][] = [];
  let start = 0;
  let curBytes = HEADER_LINE.length + 1;
  const n = m.entries.length;
  for (let i = 0; i < n; i++) {
    const l = lineOf(m.entries[i] as ManifestEntry);
    curBytes += l.bytes;
    if (l.hash % avgLines === 0 || curBytes >= maxChunkBytes) {
      ranges.push([start, i + 1]);
      start = i + 1;
      curBytes = 0;
    }
  }
  if (start < n || ranges.length === 0) ranges.push([start, n]);
  return ranges;
}

function chunkBytes(entries: readonly ManifestEntry[], a: number, b: number): Buffer {
  const parts: string[] = a === 0 ? [HEADER_LINE] : [];
  for (let i = a; i < b; i++) parts.push(lineOf(entries[i] as ManifestEntry).text);
  return Buffer.from(parts.join('\n') + '\n');
}

/** A chunk kept for the next manifest of the same workspace: its entry objects, bytes and name. */
type CachedChunk = { entries: ManifestEntry[]; withHeader: boolean; bytes: Buffer; name: string };

/**
 * The chunks of consecutive manifests of one workspace, keyed by their first entry object: a chunk
 * whose entry objects are all the same as last time is reused without serializing or hashing it.
 */
export class ManifestChunkCache {
  #byFirst = new Map<ManifestEntry | null, CachedChunk>();

  /** {@link chunkManifest}'s chunks with their SHA-256 names (`hash`), and the digest of the whole manifest. */
  chunk(m: Manifest, hash: (b: Uint8Array) => string): { chunks: Buffer[]; names: string[]; digest: string } {
    const next = new Map<ManifestEntry | null, CachedChunk>();
    const chunks: Buffer[] = [];
    const names: string[] = [];
    const whole = createHash('sha256');
    for (const [a, b] of chunkRanges(m, 64, 256 * 1024)) {
      const first = a < b ? (m.entries[a] as ManifestEntry) : null;
      const old = this.#byFirst.get(first);
      let c: CachedChunk;
      if (old !== undefined && old.withHeader === (a === 0) && old.entries.length === b - a && old.entries.every((e, i) => e === m.entries[a + i])) c = old;
      else {
        const bytes = chunkBytes(m.entries, a, b);
        c = { entries: m.entries.slice(a, b), withHeader: a === 0, bytes, name: hash(bytes) };
      }
      next.set(first, c);
      chunks.push(c.bytes);
      names.push(c.name);
      whole.update(c.bytes);
    }
    this.#byFirst = next;
    return { chunks, names, digest: whole.digest('hex') };
  }
}

function invalid(why: string, data?: Record<string, unknown>): never {
  throw new SnapshotError('invalid_manifest', `invalid manifest: ${why}`, data ? { data } : undefined);
}

function isMode(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0o777;
}

function isSize(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parses and validates manifest bytes from an untrusted source. Enforces: canonical form (so the
 * digest is unambiguous), strictly increasing paths (no duplicates), safe paths, every parent being a
 * `dir` entry of the same manifest (so nothing can be written through a symlink the manifest
 * itself creates), and `limits`.
 */
export function parseManifest(bytes: Uint8Array, limits: SnapshotLimits = defaultLimits): Manifest {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (!text.endsWith('\n')) invalid('does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines[0] !== HEADER_LINE) invalid('unknown header');
  if (lines.length - 1 > limits.maxEntries) {
    throw new SnapshotError('limit_exceeded', `manifest has ${lines.length - 1} entries, limit ${limits.maxEntries}`, {
      data: { limit: 'maxEntries', value: limits.maxEntries },
    });
  }
  const entries: ManifestEntry[] = [];
  const dirs = new Set<string>(['']);
  let total = 0;
  let prev: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (cause) {
      invalid(`line ${i + 1} is not JSON`, { cause });
    }
    if (typeof raw !== 'object' || raw === null) invalid(`line ${i + 1} is not an object`);
    const o = raw as Record<string, unknown>;
    if (typeof o.path !== 'string' || !isMode(o.mode) || !isSize(o.size)) invalid(`line ${i + 1} lacks path/mode/size`);
    const path = validatePath(o.path, limits.maxPathBytes);
    let e: ManifestEntry;
    if (o.type === 'file' && typeof o.sha256 === 'string' && isSha256(o.sha256)) {
      e = { path, type: 'file', mode: o.mode, size: o.size, sha256: o.sha256 };
    } else if (o.type === 'dir' && o.size === 0) {
      e = { path, type: 'dir', mode: o.mode, size: 0 };
    } else if (o.type === 'symlink' && typeof o.target === 'string') {
      if (o.target === '' || o.target.includes('\0')) throw new SnapshotError('unsafe_path', `symlink ${path} has an empty or NUL target`, { data: { path } });
      e = { path, type: 'symlink', mode: o.mode, size: o.size, target: o.target };
    } else if (typeof o.type === 'string' && !(entryTypes as readonly string[]).includes(o.type)) {
      throw new SnapshotError('unsupported_entry', `manifest entry ${path} has unsupported type ${o.type}`, { data: { path, type: o.type } });
    } else {
      invalid(`line ${i + 1} has an inconsistent entry`, { path });
    }
    if (serializeEntry(e) !== line) invalid(`line ${i + 1} is not canonical`, { path });
    if (prev !== undefined && comparePaths(prev, path) >= 0) {
      if (prev === path) throw new SnapshotError('unsafe_path', `duplicate path ${path}`, { data: { path, reason: 'duplicate' } });
      invalid(`entries not sorted at ${path}`, { path });
    }
    if (!dirs.has(parentOf(path))) {
      throw new SnapshotError('unsafe_path', `${path} is not inside a directory of the manifest (a symlink or file stands in the way)`, {
        data: { path, reason: 'parent not a directory' },
      });
    }
    if (e.type === 'dir') dirs.add(path);
    if (e.type === 'file') {
      if (e.size > limits.maxEntryBytes) {
        throw new SnapshotError('limit_exceeded', `${path} is ${e.size} bytes, limit ${limits.maxEntryBytes}`, { data: { path, limit: 'maxEntryBytes', value: limits.maxEntryBytes } });
      }
      total += e.size;
      if (total > limits.maxTotalBytes) {
        throw new SnapshotError('limit_exceeded', `manifest content exceeds ${limits.maxTotalBytes} bytes`, { data: { limit: 'maxTotalBytes', value: limits.maxTotalBytes } });
      }
    }
    entries.push(e);
    prev = path;
  }
  return { version: 1, entries };
}

/**
 * Validates a manifest built in memory (e.g. from a tar import) with the same rules as
 * {@link parseManifest}. Cheap way to guarantee one set of rules for every input.
 */
export function validateManifest(m: Manifest, limits: SnapshotLimits = defaultLimits): Manifest {
  return parseManifest(serializeManifest(m), limits);
}

/** Total file bytes of a manifest. */
export function manifestBytes(m: Manifest): number {
  let n = 0;
  for (const e of m.entries) if (e.type === 'file') n += e.size;
  return n;
}

/** Sorts entries into manifest order (in place) and returns them. */
export function sortEntries<T extends { path: string }>(entries: T[]): T[] {
  return entries.sort((a, b) => comparePaths(a.path, b.path));
}
