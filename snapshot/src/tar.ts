import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { SnapshotError, throwIfAborted } from './errors.ts';
import type { Manifest, ManifestEntry, SnapshotLimits } from './manifest.ts';
import { defaultLimits, parentOf, sortEntries, validateManifest, validatePath } from './manifest.ts';
import type { BlobReader } from './restore.ts';
import { EMPTY_SHA256 } from './restore.ts';

/**
 * Streams a manifest as a POSIX (ustar + pax for long names) tar that GNU tar and bsdtar extract.
 * Entries are named relative (`dir/`, `dir/file`); modes are the manifest's; uid/gid are those of
 * this process; mtime is `mtime` for every entry. Blob bytes are verified while packing: a mismatch
 * destroys the stream with `blob_mismatch`.
 */
export function packManifest(manifest: Manifest, readBlob: BlobReader, opts: { mtime?: Date; signal?: AbortSignal } = {}): Readable {
  const pack = tarStream.pack();
  const mtime = opts.mtime ?? new Date();
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const out = new PassThrough();
  const fail = (err: unknown): void => {
    out.destroy(err instanceof Error ? err : new Error(String(err)));
    pack.destroy();
  };
  pack.on('error', fail);
  (pack as unknown as NodeJS.ReadableStream).pipe(out);
  void (async () => {
    for (const e of manifest.entries) {
      throwIfAborted(opts.signal);
      const base = { name: e.path, mode: e.mode, mtime, uid, gid };
      if (e.type === 'dir') {
        await entryDone(pack, { ...base, name: `${e.path}/`, type: 'directory' }, undefined);
      } else if (e.type === 'symlink') {
        await entryDone(pack, { ...base, type: 'symlink', linkname: e.target, mode: 0o777 }, undefined);
      } else {
        const hash = createHash('sha256');
        let n = 0;
        const body = e.size === 0 ? undefined : readBlob(e.sha256, opts.signal);
        await new Promise<void>((resolve, reject) => {
          const sink = pack.entry({ ...base, type: 'file', size: e.size }, (err) => (err ? reject(err) : resolve()));
          if (body === undefined) {
            sink.end(undefined);
            return;
          }
          (async () => {
            for await (const chunk of body) {
              n += chunk.byteLength;
              hash.update(chunk);
              if (n > e.size) break;
              if (!sink.write(chunk)) await new Promise<void>((r) => sink.once('drain', () => r()));
            }
            if (n !== e.size || hash.digest('hex') !== e.sha256) {
              throw new SnapshotError('blob_mismatch', `blob for ${e.path} does not match the manifest`, { data: { path: e.path, expected: e.sha256 } });
            }
            sink.end(undefined);
          })().catch(reject);
        });
      }
    }
    pack.finalize();
  })().catch(fail);
  return out;
}

function entryDone(pack: tarStream.Pack, header: Partial<tarStream.Header> & { name: string }, body: Uint8Array | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
    if (body === undefined) pack.entry(header, cb);
    else pack.entry(header, body, cb);
  });
}

/** Where imported file bytes go: must store `bytes` (or the file at `path`) under `sha256`. */
export type BlobSink = {
  /** True when the store already holds `sha256`. */
  has(sha256: string): Promise<boolean>;
  putBytes(sha256: string, bytes: Uint8Array): Promise<void>;
  /** Uploads a spooled temp file whose content hashes to `sha256`. */
  putFile(sha256: string, path: string, size: number): Promise<void>;
};

/** Options of {@link unpackToManifest}. */
export type ImportOptions = {
  limits?: Partial<SnapshotLimits>;
  /** Files up to this size are held in memory; larger ones are spooled to a temp file. Default 1 MiB. */
  inMemoryBytes?: number;
  /** Directory for spooled temp files. Default `os.tmpdir()`. */
  spoolDir?: string;
  signal?: AbortSignal;
};

/** Counters of an import. */
export type ImportStats = { entries: number; files: number; bytes: number; blobsUploaded: number; bytesUploaded: number };

const GZIP_MAGIC = [0x1f, 0x8b];

/** Yields `input` decompressed when it starts with the gzip magic bytes, as is otherwise. */
async function* maybeGunzip(input: AsyncIterable<Uint8Array>, maxBytes: number): AsyncGenerator<Uint8Array> {
  const it = input[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  const buffered: Uint8Array[] = [];
  while (head.length < 2) {
    const r = await it.next();
    if (r.done) break;
    buffered.push(r.value);
    head = Buffer.concat([head, r.value]);
  }
  async function* rest(): AsyncGenerator<Uint8Array> {
    yield* buffered;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  let total = 0;
  const count = (chunk: Uint8Array): Uint8Array => {
    total += chunk.byteLength;
    if (total > maxBytes) {
      throw new SnapshotError('limit_exceeded', `archive expands to more than ${maxBytes} bytes`, { data: { limit: 'maxTotalBytes' } });
    }
    return chunk;
  };
  if (head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]) {
    const gunzip = createGunzip();
    const src = Readable.from(rest());
    src.on('error', (err) => gunzip.destroy(err));
    src.pipe(gunzip);
    try {
      for await (const chunk of gunzip) yield count(chunk as Buffer);
    } catch (err) {
      if (err instanceof SnapshotError) throw err;
      throw new SnapshotError('invalid_archive', `gzip stream is corrupt: ${(err as Error).message}`, { cause: err });
    }
  } else {
    for await (const chunk of rest()) yield count(chunk);
  }
}

/**
 * Reads a tar (optionally gzip, detected by magic bytes) from an untrusted source into manifest
 * entries, uploading file contents through `sink`. Nothing is written to any directory except
 * private spool files, removed before returning.
 *
 * Rejected with a typed {@link SnapshotError}: absolute names and `..` (`unsafe_path`); entries under a
 * symlink or file entry of the same archive, duplicates (`unsafe_path`); devices, fifos, unknown
 * types, hardlinks that do not name an earlier regular file of the archive (`unsupported_entry`);
 * more entries / bytes than `limits` (`limit_exceeded`), checked from headers before any byte is read
 * and again on the decompressed stream. Missing parent directories are added (mode 0755). Hardlinks to
 * earlier files become regular files with the same content.
 */
export async function unpackToManifest(input: AsyncIterable<Uint8Array>, sink: BlobSink, opts: ImportOptions = {}): Promise<{ manifest: Manifest; stats: ImportStats }> {
  const limits: SnapshotLimits = { ...defaultLimits, ...opts.limits };
  const inMemory = opts.inMemoryBytes ?? 1024 * 1024;
  const stats: ImportStats = { entries: 0, files: 0, bytes: 0, blobsUploaded: 0, bytesUploaded: 0 };
  const byPath = new Map<string, ManifestEntry>();
  const implicit = new Set<string>();
  let spool: string | undefined;
  let spoolN = 0;
  // Tar framing overhead: 512-byte header + up to 511 bytes padding per entry, plus pax records.
  const maxStreamBytes = limits.maxTotalBytes + (limits.maxEntries + 16) * 4096;
  const extract = tarStream.extract();
  const source = Readable.from(maybeGunzip(input, maxStreamBytes));
  let sourceErr: unknown;
  source.on('error', (err) => {
    sourceErr = err;
    extract.destroy(err);
  });
  source.pipe(extract as unknown as NodeJS.WritableStream);

  const unsupported = (path: string, type: string): never => {
    throw new SnapshotError('unsupported_entry', `archive entry ${path} has type ${type}, which is never imported`, { data: { path, type } });
  };

  try {
    for await (const entry of extract) {
      throwIfAborted(opts.signal);
      const h = entry.header;
      let name = h.name;
      while (name.startsWith('./')) name = name.slice(2);
      if (h.type === 'directory') name = name.replace(/\/+$/, '');
      if (name === '' || name === '.') {
        entry.resume();
        continue; // the archive's root
      }
      if (name.startsWith('/')) {
        throw new SnapshotError('unsafe_path', `archive entry ${JSON.stringify(name)} is absolute`, { data: { path: name, reason: 'absolute' } });
      }
      const path = validatePath(name, limits.maxPathBytes);
      if (++stats.entries > limits.maxEntries) {
        throw new SnapshotError('limit_exceeded', `archive has more than ${limits.maxEntries} entries`, { data: { limit: 'maxEntries' } });
      }
      if (implicit.has(path) && h.type === 'directory') {
        implicit.delete(path);
        byPath.set(path, { path, type: 'dir', mode: h.mode & 0o777, size: 0 });
        entry.resume();
        continue;
      }
      if (byPath.has(path)) throw new SnapshotError('unsafe_path', `archive names ${path} twice`, { data: { path, reason: 'duplicate' } });
      // Every ancestor must be a directory (implicitly created if absent), never a symlink or file.
      for (let p = parentOf(path); p !== ''; p = parentOf(p)) {
        const anc = byPath.get(p);
        if (anc === undefined) {
          byPath.set(p, { path: p, type: 'dir', mode: 0o755, size: 0 });
          implicit.add(p);
        }
        else if (anc.type !== 'dir') {
          throw new SnapshotError('unsafe_path', `archive entry ${path} lies under ${anc.type} ${p}`, { data: { path, reason: `parent is a ${anc.type}` } });
        } else break;
      }
      const mode = h.mode & 0o777;
      switch (h.type) {
        case 'directory':
          byPath.set(path, { path, type: 'dir', mode, size: 0 });
          entry.resume();
          break;
        case 'symlink': {
          const target = h.linkname;
          if (!target || target.includes('\0') || Buffer.byteLength(target) > limits.maxPathBytes) {
            throw new SnapshotError('unsafe_path', `symlink ${path} has an empty, NUL or overlong target`, { data: { path } });
          }
          byPath.set(path, { path, type: 'symlink', mode: 0o777, size: Buffer.byteLength(target), target });
          entry.resume();
          break;
        }
        case 'link': {
          let ln = h.linkname ?? '';
          while (ln.startsWith('./')) ln = ln.slice(2);
          const src = byPath.get(ln);
          if (src === undefined || src.type !== 'file') unsupported(path, `hardlink to ${JSON.stringify(ln)} (not an earlier file of this archive)`);
          const s = src as Extract<ManifestEntry, { type: 'file' }>;
          byPath.set(path, { path, type: 'file', mode, size: s.size, sha256: s.sha256 });
          stats.bytes += s.size;
          if (stats.bytes > limits.maxTotalBytes) throw new SnapshotError('limit_exceeded', `archive content exceeds ${limits.maxTotalBytes} bytes`, { data: { limit: 'maxTotalBytes' } });
          entry.resume();
          break;
        }
        case 'file':
        case 'contiguous-file': {
          const size = h.size;
          if (size > limits.maxEntryBytes) {
            throw new SnapshotError('limit_exceeded', `archive entry ${path} is ${size} bytes, limit ${limits.maxEntryBytes}`, { data: { path, limit: 'maxEntryBytes' } });
          }
          stats.bytes += size;
          if (stats.bytes > limits.maxTotalBytes) throw new SnapshotError('limit_exceeded', `archive content exceeds ${limits.maxTotalBytes} bytes`, { data: { limit: 'maxTotalBytes' } });
          const hash = createHash('sha256');
          let sha256: string;
          if (size <= inMemory) {
            const parts: Buffer[] = [];
            for await (const c of entry) parts.push(c as Buffer);
            const buf = Buffer.concat(parts);
            if (buf.length !== size) throw new SnapshotError('invalid_archive', `archive entry ${path} is truncated`, { data: { path } });
            sha256 = hash.update(buf).digest('hex');
            if (sha256 !== EMPTY_SHA256 && !(await sink.has(sha256))) {
              await sink.putBytes(sha256, buf);
              stats.blobsUploaded++;
              stats.bytesUploaded += size;
            }
          } else {
            spool ??= await mkdtemp(join(opts.spoolDir ?? tmpdir(), 'airlock-import-'));
            const file = join(spool, String(spoolN++));
            const hasher = new Transform({
              transform(chunk: Buffer, _enc, cb) {
                hash.update(chunk);
                cb(null, chunk);
              },
            });
            await pipeline(entry, hasher, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
            sha256 = hash.digest('hex');
            if (!(await sink.has(sha256))) {
              await sink.putFile(sha256, file, size);
              stats.blobsUploaded++;
              stats.bytesUploaded += size;
            }
            await rm(file, { force: true });
          }
          stats.files++;
          byPath.set(path, { path, type: 'file', mode, size, sha256 });
          break;
        }
        default:
          unsupported(path, h.type);
      }
    }
  } catch (err) {
    extract.destroy();
    source.destroy();
    if (err instanceof SnapshotError) throw err;
    if (sourceErr instanceof SnapshotError) throw sourceErr;
    throw new SnapshotError('invalid_archive', `cannot read the archive: ${(err as Error).message}`, { cause: err });
  } finally {
    if (spool) await rm(spool, { recursive: true, force: true });
  }
  if (sourceErr !== undefined) {
    if (sourceErr instanceof SnapshotError) throw sourceErr;
    throw new SnapshotError('invalid_archive', `cannot read the archive: ${(sourceErr as Error).message}`, { cause: sourceErr });
  }
  const manifest = validateManifest({ version: 1, entries: sortEntries([...byPath.values()]) }, limits);
  return { manifest, stats };
}

/** Reads a spooled file as chunks (for `BlobSink.putFile` implementations). */
export async function* readFileChunks(path: string, chunkBytes = 512 * 1024): AsyncGenerator<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(chunkBytes);
      const { bytesRead } = await fh.read(buf, 0, chunkBytes, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}
