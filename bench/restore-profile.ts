// What bounds a full restore from the local blob cache against `tar -x` (issue 15's restore row):
// the same 10,000-file / 100 MB tree restored by `restoreTree` from a `LocalBlobCache`, extracted by
// GNU tar from one archive, and the restore's parts done alone, side by side in one run:
//   cache reads (open, read, close per blob), their SHA-256 checks, the writes (mkdir, open, write,
//   fchmod, close per file), then the directory modes and the swap.
// No NATS: every blob is a cache hit, as in the bench's "local blob cache" row.
//   node --conditions=airlock-source bench/restore-profile.ts [files] [MB]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants as fsc, fchmodSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LocalBlobCache, comparePaths, restoreTree, validateManifest, type Manifest, type ManifestEntry } from '@airlock/snapshot';
import { generate } from './snapshot.ts';

const files = Number(process.argv[2] ?? 10_000);
const megabytes = Number(process.argv[3] ?? 100);
const ROUNDS = 3;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Dirty pages of the step before are written back first: each part starts from a clean page cache. */
const settle = (): void => {
  execFileSync('sync');
};
const ms = (fn: () => void): number => {
  settle();
  const t = performance.now();
  fn();
  return performance.now() - t;
};

const scratch = mkdtempSync(join(tmpdir(), 'airlock-restore-profile-'));
try {
  const src = join(scratch, 'src');
  mkdirSync(src);
  const made = await generate(src, files, megabytes * 1024 * 1024);

  // The tree as a manifest, every blob in the local cache.
  const cache = new LocalBlobCache(join(scratch, 'cache'), 1024 * 1024);
  const dirSet = new Set<string>();
  const fileEntries: Extract<ManifestEntry, { type: 'file' }>[] = [];
  for (const p of made.paths) {
    const bytes = readFileSync(join(src, p));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    cache.put(sha256, bytes);
    fileEntries.push({ path: p, type: 'file', mode: 0o644, size: bytes.length, sha256 });
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirSet.add(parts.slice(0, i).join('/'));
  }
  for (const d of ['empty', 'empty/dir']) dirSet.add(d);
  const dirs: ManifestEntry[] = [...dirSet].map((path) => ({ path, type: 'dir', mode: 0o755, size: 0 }));
  const manifest: Manifest = validateManifest({ version: 1, entries: [...dirs, ...fileEntries].sort((a, b) => comparePaths(a.path, b.path)) });
  const tar = join(scratch, 'src.tar');
  execFileSync('tar', ['-cf', tar, '-C', src, '.']);
  execFileSync('sync');

  const rounds: Record<string, number[]> = { tarX: [], restore: [], cacheReadHash: [], cacheReadOnly: [], hashOnly: [], writeTree: [] };
  const noRemote = (): AsyncIterable<Uint8Array> => {
    throw new Error('every blob should come from the local cache');
  };
  const blobs = fileEntries.map((e) => cache.read(e.sha256)!);
  const scratchBuf = Buffer.allocUnsafe(cache.maxBlobBytes + 1);
  for (let r = 0; r < ROUNDS; r++) {
    // Interleaved, a fresh target each time.
    const tx = join(scratch, `tar-${r}`);
    mkdirSync(tx);
    rounds.tarX!.push(ms(() => execFileSync('tar', ['-xf', tar, '-C', tx])));
    const rt = join(scratch, `restore-${r}`);
    settle();
    const t = performance.now();
    await restoreTree(manifest, rt, noRemote, { local: cache });
    rounds.restore!.push(performance.now() - t);
    // The restore's parts alone.
    rounds.cacheReadHash!.push(ms(() => {
      for (const e of fileEntries) cache.read(e.sha256, scratchBuf);
    }));
    rounds.cacheReadOnly!.push(ms(() => {
      for (const e of fileEntries) {
        const fd = openSync(join(cache.dir, e.sha256.slice(0, 2), e.sha256), fsc.O_RDONLY | fsc.O_NOFOLLOW);
        try {
          readSync(fd, scratchBuf, 0, scratchBuf.length, null);
        } finally {
          closeSync(fd);
        }
      }
    }));
    rounds.hashOnly!.push(ms(() => {
      for (const b of blobs) createHash('sha256').update(b).digest('hex');
    }));
    const wt = join(scratch, `write-${r}`);
    rounds.writeTree!.push(ms(() => {
      mkdirSync(wt);
      for (const d of dirs) mkdirSync(join(wt, d.path), { mode: 0o700 });
      fileEntries.forEach((e, i) => {
        const fd = openSync(join(wt, e.path), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
        try {
          const b = blobs[i]!;
          let off = 0;
          while (off < b.length) off += writeSync(fd, b, off, b.length - off);
          fchmodSync(fd, e.mode & 0o777);
        } finally {
          closeSync(fd);
        }
      });
    }));
    for (const d of [tx, rt, wt]) rmSync(d, { recursive: true, force: true });
  }
  const m = Object.fromEntries(Object.entries(rounds).map(([k, v]) => [k, Math.round(median(v) * 10) / 10]));
  const result = {
    at: new Date().toISOString(),
    files: made.paths.length,
    bytes: made.bytes,
    dirs: dirs.length,
    medianMs: m,
    ratios: {
      restoreOverTarX: Math.round((m.restore! / m.tarX!) * 100) / 100,
      cacheReadHashOverTarX: Math.round((m.cacheReadHash! / m.tarX!) * 100) / 100,
      writeTreeOverTarX: Math.round((m.writeTree! / m.tarX!) * 100) / 100,
    },
    rounds,
  };
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(join(import.meta.dirname, 'results', 'restore-profile.json'), JSON.stringify(result, null, 2) + '\n');
  console.log(`restore of ${result.files} files / ${(result.bytes / 1e6).toFixed(0)} MB, medians of ${ROUNDS} (ms):`);
  console.log(`  tar -x ${m.tarX} | restoreTree from the local cache ${m.restore} (${result.ratios.restoreOverTarX}x)`);
  console.log(`  parts alone: cache reads + SHA-256 ${m.cacheReadHash} (reads alone ${m.cacheReadOnly}, hashing alone ${m.hashOnly}) | writing the tree (mkdir, open, write, fchmod, close) ${m.writeTree}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
