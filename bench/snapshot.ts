/**
 * Snapshot benchmark: Airlock snapshots vs `git add -A && git commit` vs GNU tar, on one generated
 * workspace (~10,000 files, ~100 MB). Standalone: `node bench/snapshot.ts` starts its own nats-server
 * on loopback, prints a table and writes `bench/results/snapshot.json`. `runSnapshotBench()` is what
 * `bench/run.ts` calls.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { SnapshotStore, WorkspaceTracker } from '@airlock/snapshot';
import type { SnapshotResult } from '@airlock/snapshot';

/** Options of {@link runSnapshotBench}. */
export type SnapshotBenchOptions = {
  /** Files in the generated workspace [10,000]. */
  files?: number;
  /** Approximate total bytes [100 MB]. */
  totalBytes?: number;
  /** Steps of the storage-growth run, each changing one small file [100]. */
  steps?: number;
  /** An existing NATS server; default: spawn `nats-server -js` on a free loopback port. */
  natsUrl?: string;
  /** Where to write JSON; null to skip [bench/results/snapshot.json]. */
  outFile?: string | null;
  log?: (line: string) => void;
  /** Compare against `docker commit` (needs dockerd and the base image) [true]. */
  dockerCommit?: boolean;
};

/** One measured figure. */
export type BenchRow = { name: string; ms?: number; bytes?: number; note?: string };

/** The bench's JSON output. */
export type SnapshotBenchResult = {
  workspace: { files: number; bytes: number; dirs: number };
  rows: BenchRow[];
  ratios: { name: string; value: number; target: string; met: boolean }[];
  machine: { cpus: number; node: string };
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** Deterministic-ish mix of sizes, averaging `totalBytes / files`, in a tree of ~100 dirs. */
export async function generate(root: string, files: number, totalBytes: number): Promise<{ bytes: number; dirs: number; paths: string[] }> {
  const avg = totalBytes / files;
  const sizes = [0.02, 0.1, 0.3, 0.6, 0.9, 1.3, 1.9, 2.88].map((f) => Math.round(f * avg)); // mean = avg
  const perDir = 100;
  const paths: string[] = [];
  let bytes = 0;
  const dirs = new Set<string>();
  for (let i = 0; i < files; i++) {
    const d = Math.floor(i / perDir);
    const dir = `pkg${String(d % 20).padStart(2, '0')}/mod${String(d).padStart(3, '0')}`;
    if (!dirs.has(dir)) {
      await mkdir(join(root, dir), { recursive: true });
      dirs.add(dir);
    }
    const size = sizes[i % sizes.length] as number;
    // Text-like content (hex) so git's zlib does not get an unfair advantage from zeros.
    const body = randomBytes(Math.ceil(size / 2)).toString('hex').slice(0, size);
    const p = `${dir}/file${String(i).padStart(5, '0')}.txt`;
    await writeFile(join(root, p), body);
    paths.push(p);
    bytes += size;
  }
  await mkdir(join(root, 'empty/dir'), { recursive: true });
  return { bytes, dirs: dirs.size + 22, paths };
}

function time<T>(fn: () => T): { ms: number; value: T } {
  const t = performance.now();
  const value = fn();
  return { ms: performance.now() - t, value };
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

function sh(cmd: string, args: string[], cwd: string): void {
  execFileSync(cmd, args, { cwd, stdio: 'ignore', env: { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' } });
}

/** Median of `n` runs of an async measurement. */
async function median(n: number, fn: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await fn());
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)] as number;
}

/** Median of recorded samples, one decimal. */
function fmtMedian(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return (s[Math.floor(s.length / 2)] ?? NaN).toFixed(1);
}

let editCounter = 0;
/** Rewrites one small file with new content of the same size class. */
async function touchFile(root: string, path: string): Promise<void> {
  editCounter++;
  await writeFile(join(root, path), `edit ${editCounter} ${randomBytes(16).toString('hex')}\n`);
}

/** Runs the benchmark; see the file header. */
export async function runSnapshotBench(opts: SnapshotBenchOptions = {}): Promise<SnapshotBenchResult> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const files = opts.files ?? 10_000;
  const totalBytes = opts.totalBytes ?? 100 * 1024 * 1024;
  const steps = opts.steps ?? 100;
  const scratch = await mkdtemp(join(tmpdir(), 'airlock-bench-snap-'));
  let server: ReturnType<typeof spawn> | undefined;
  let url = opts.natsUrl;
  if (url === undefined) {
    const port = await freePort();
    server = spawn('nats-server', ['-js', '-sd', join(scratch, 'nats'), '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    url = `127.0.0.1:${port}`;
  }
  const rows: BenchRow[] = [];
  const row = (r: BenchRow): void => {
    rows.push(r);
    log(`  ${r.name.padEnd(52)} ${r.ms !== undefined ? `${r.ms.toFixed(1).padStart(9)} ms` : ''.padStart(12)} ${r.bytes !== undefined ? `${(r.bytes / 1e6).toFixed(2).padStart(9)} MB` : ''.padStart(12)} ${r.note ?? ''}`);
  };
  let nc;
  for (let i = 0; ; i++) {
    try {
      nc = await connect({ servers: url });
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    const ws = join(scratch, 'ws');
    await mkdir(ws);
    log(`generating ${files} files / ${(totalBytes / 1e6).toFixed(0)} MB in ${ws}`);
    const gen = await generate(ws, files, totalBytes);
    const small = gen.paths.filter((_, i) => i % 8 === 0); // the 0.02x size class: small files
    const gitDir = join(scratch, 'git');
    await cp(ws, gitDir, { recursive: true });

    const tag = `${process.pid}_${Date.now()}`;
    // The runner's configuration: a local cache of small blobs beside the workspaces.
    await using store = await SnapshotStore.open(nc, { blobBucket: `bench_blobs_${tag}`, manifestBucket: `bench_manifests_${tag}`, cacheDir: join(scratch, 'blob-cache') });

    // --- Airlock snapshots, as the runner takes them: with file-event change tracking, the
    // walk-only path measured beside them in the same run (same workspace, same store).
    const tracker = new WorkspaceTracker(ws);
    const first = await timeAsync(() => store.snapshot(ws, { tracker }));
    row({ name: 'airlock: first snapshot', ms: first.ms, bytes: first.value.stats.bytesUploaded, note: `${first.value.stats.blobsUploaded} blobs; tracking ${tracker.available ? 'on' : 'UNAVAILABLE'}` });
    let state = first.value.state;
    let walkState = first.value.state;
    // Wait until the racy window has passed for the generated files (as it would between real steps).
    await new Promise((r) => setTimeout(r, 2100));
    walkState = (await store.snapshot(ws, { previous: walkState })).state;
    state = (await store.snapshot(ws, { previous: state, tracker })).state;
    const modes = new Set<string>();
    const tracked = (r: SnapshotResult): SnapshotResult => {
      modes.add(r.stats.tracking?.mode ?? 'none');
      return r;
    };
    let noopHashed = 0;
    const noopWalk: number[] = [];
    const noop = await median(5, async () => {
      const w = await timeAsync(() => store.snapshot(ws, { previous: walkState }));
      walkState = w.value.state;
      noopWalk.push(w.ms);
      const r = await timeAsync(() => store.snapshot(ws, { previous: state, tracker }).then(tracked));
      state = r.value.state;
      noopHashed += r.value.stats.filesHashed;
      return r.ms;
    });
    row({ name: 'airlock: snapshot, nothing changed (median of 5)', ms: noop, note: `hashed ${noopHashed} in 5; walk without events ${fmtMedian(noopWalk)} ms in the same run` });
    const oneWalk: number[] = [];
    const one = await median(5, async () => {
      await touchFile(ws, small[editCounter % small.length] as string);
      const r = await timeAsync(() => store.snapshot(ws, { previous: state, tracker }).then(tracked));
      state = r.value.state;
      const w = await timeAsync(() => store.snapshot(ws, { previous: walkState }));
      walkState = w.value.state;
      oneWalk.push(w.ms);
      return r.ms;
    });
    row({ name: 'airlock: incremental snapshot, 1 file changed (median of 5)', ms: one, note: `walk without events ${fmtMedian(oneWalk)} ms in the same run` });
    for (let i = 0; i < 100; i++) await touchFile(ws, small[(editCounter + i * 7) % small.length] as string);
    const hundred = await timeAsync(() => store.snapshot(ws, { previous: state, tracker }).then(tracked));
    state = hundred.value.state;
    const hundredWalk = await timeAsync(() => store.snapshot(ws, { previous: walkState }));
    walkState = hundredWalk.value.state;
    if (hundredWalk.value.digest !== hundred.value.digest) throw new Error('bench: the tracked and the walked snapshot of the same tree differ');
    row({ name: 'airlock: incremental snapshot, 100 files changed', ms: hundred.ms, note: `hashed ${hundred.value.stats.filesHashed}, uploaded ${hundred.value.stats.blobsUploaded}; walk ${hundredWalk.ms.toFixed(1)} ms; snapshots by ${[...modes].join('/')}` });
    tracker.close();

    // --- restore (fresh target each time)
    const restoreFresh = await median(3, async () => {
      const target = join(scratch, `restore-${randomBytes(4).toString('hex')}`);
      const fresh = await SnapshotStore.open(nc, { blobBucket: store.blobs.name, manifestBucket: store.manifests.name });
      // Each timed write starts from a clean page cache: otherwise it pays for the writeback of the
      // 105 MB the step before it wrote (bench/restore-profile.ts measured 0.43 s vs 9.0 s for tar -x).
      sh('sync', [], scratch);
      const r = await timeAsync(() => fresh.restore(hundred.value.digest, target));
      await rm(target, { recursive: true, force: true });
      return r.ms;
    });
    row({ name: 'airlock: full restore from NATS, no local cache (median of 3)', ms: restoreFresh });
    const restoreWarm = await median(3, async () => {
      const target = join(scratch, `restore-${randomBytes(4).toString('hex')}`);
      sh('sync', [], scratch);
      const r = await timeAsync(() => store.restore(hundred.value.digest, target));
      await rm(target, { recursive: true, force: true });
      return r.ms;
    });
    row({ name: 'airlock: full restore, local blob cache (median of 3)', ms: restoreWarm });

    // --- git
    sh('git', ['init', '-q'], gitDir);
    sh('git', ['config', 'core.fsmonitor', 'false'], gitDir);
    const gitFirst = time(() => sh('sh', ['-c', 'git add -A && git commit -q -m first'], gitDir));
    row({ name: 'git: first add -A && commit', ms: gitFirst.ms });
    sh('git', ['status', '--porcelain'], gitDir); // refresh the racily-clean index once, like a second command would
    const gitOne = await median(5, async () => {
      await touchFile(gitDir, small[editCounter % small.length] as string);
      return time(() => sh('sh', ['-c', 'git add -A && git commit -q -m one'], gitDir)).ms;
    });
    row({ name: 'git: incremental add -A && commit, 1 file (median of 5)', ms: gitOne });
    for (let i = 0; i < 100; i++) await touchFile(gitDir, small[(editCounter + i * 7) % small.length] as string);
    const gitHundred = time(() => sh('sh', ['-c', 'git add -A && git commit -q -m hundred'], gitDir));
    row({ name: 'git: incremental add -A && commit, 100 files', ms: gitHundred.ms });

    // --- GNU tar of the same content
    const tarFile = join(scratch, 'ws.tar');
    const tarC = time(() => sh('tar', ['-cf', tarFile, '-C', ws, '.'], scratch));
    row({ name: 'GNU tar -c (full workspace)', ms: tarC.ms });
    const tarX = await median(3, async () => {
      const out = join(scratch, `tarx-${randomBytes(4).toString('hex')}`);
      await mkdir(out);
      sh('sync', [], scratch);
      const r = time(() => sh('tar', ['-xf', tarFile, '-C', out], scratch));
      await rm(out, { recursive: true, force: true });
      return r.ms;
    });
    row({ name: 'GNU tar -x (full workspace, median of 3)', ms: tarX });

    // --- docker commit (image-layer snapshotting): the workspace copied into a container's own
    // file system (commit ignores bind mounts), then committed; a 1-file change, committed again.
    let dockerFirst: number | undefined;
    let dockerOne: number | undefined;
    if (opts.dockerCommit !== false) {
      const name = `airlock-bench-commit-${process.pid}`;
      const images: string[] = [];
      try {
        sh('docker', ['create', '--name', name, '--network', 'none', '--init', 'airlock/sandbox-base:bookworm', 'sleep', 'infinity'], scratch);
        sh('docker', ['start', name], scratch);
        sh('docker', ['cp', `${ws}/.`, `${name}:/ws`], scratch);
        const first = time(() => sh('docker', ['commit', name, `airlock-bench:first-${process.pid}`], scratch));
        images.push(`airlock-bench:first-${process.pid}`);
        dockerFirst = first.ms;
        row({ name: 'docker commit, first (workspace inside the container)', ms: dockerFirst });
        dockerOne = await median(3, async () => {
          sh('docker', ['exec', name, 'sh', '-c', `echo ${randomBytes(8).toString('hex')} >> "/ws/${small[editCounter++ % small.length] as string}"`], scratch);
          const tag = `airlock-bench:one-${process.pid}-${images.length}`;
          const r = time(() => sh('docker', ['commit', name, tag], scratch));
          images.push(tag);
          return r.ms;
        });
        row({ name: 'docker commit, incremental, 1 file (median of 3)', ms: dockerOne });
      } catch (err) {
        row({ name: 'docker commit', note: `not measured: ${(err as Error).message.split('\n')[0]}` });
      } finally {
        try {
          sh('docker', ['rm', '-f', name], scratch);
        } catch {
          // already gone
        }
        for (const img of images.reverse()) {
          try {
            sh('docker', ['rmi', '-f', img], scratch);
          } catch {
            // already gone
          }
        }
      }
    }

    // --- storage growth over N one-small-file steps, in a fresh pair of buckets
    // Bucket names are part of every stored message's subject: on our own server use the production
    // defaults, on a shared one short unique names.
    const own = opts.natsUrl === undefined;
    const growthStore = await SnapshotStore.open(nc, own ? {} : { blobBucket: `gb_${tag}`, manifestBucket: `gm_${tag}` });
    let s: SnapshotResult = await growthStore.snapshot(ws);
    const afterFirst = (await growthStore.storedBytes()).total;
    let stepsMs = 0;
    for (let i = 0; i < steps; i++) {
      await touchFile(ws, small[(i * 13) % small.length] as string);
      const r = await timeAsync(() => growthStore.snapshot(ws, { previous: s.state, group: 'bench' }));
      stepsMs += r.ms;
      s = r.value;
    }
    const stored = await growthStore.storedBytes();
    row({ name: 'object store bytes after first snapshot', bytes: afterFirst, note: `${(afterFirst / gen.bytes).toFixed(3)}x workspace` });
    row({ name: `object store bytes after ${steps} one-file steps`, bytes: stored.total, note: `${(stored.total / gen.bytes).toFixed(3)}x workspace; ${(stepsMs / steps).toFixed(1)} ms/step` });

    const ratios = [
      { name: 'incremental 1-file snapshot / git incremental commit', value: one / gitOne, target: '<= 0.2', met: one / gitOne <= 0.2 },
      { name: 'snapshot with nothing changed, ms (not a ratio)', value: noop, target: '<= 10', met: noop <= 10 },
      { name: 'incremental 100-file snapshot / git incremental commit', value: hundred.ms / gitHundred.ms, target: '(report)', met: true },
      { name: 'full restore (NATS only) / tar -x', value: restoreFresh / tarX, target: '(report)', met: true },
      { name: 'full restore (local blob cache) / tar -x', value: restoreWarm / tarX, target: '<= 1.0', met: restoreWarm / tarX <= 1.0 },
      { name: `store bytes after ${steps} steps / workspace bytes`, value: stored.total / gen.bytes, target: '< 1.1', met: stored.total / gen.bytes < 1.1 },
      { name: 'first snapshot / git first commit', value: first.ms / gitFirst.ms, target: '(report)', met: true },
      ...(dockerOne !== undefined && dockerFirst !== undefined
        ? [
            { name: 'incremental 1-file snapshot / docker commit incremental', value: one / dockerOne, target: '(report)', met: true },
            { name: 'first snapshot / docker commit first', value: first.ms / dockerFirst, target: '(report)', met: true },
          ]
        : []),
    ];
    log('');
    for (const r of ratios) log(`  ${r.name.padEnd(56)} ${r.value.toFixed(3).padStart(8)}  target ${r.target.padEnd(9)} ${r.met ? 'ok' : 'MISSED'}`);
    const result: SnapshotBenchResult = {
      workspace: { files, bytes: gen.bytes, dirs: gen.dirs },
      rows,
      ratios,
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    };
    const outFile = opts.outFile === undefined ? join(dirname(fileURLToPath(import.meta.url)), 'results', 'snapshot.json') : opts.outFile;
    if (outFile !== null) {
      mkdirSync(dirname(outFile), { recursive: true });
      writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
      log(`\nwrote ${outFile}`);
    }
    await growthStore[Symbol.asyncDispose]();
    return result;
  } finally {
    await nc.close();
    server?.kill('SIGTERM');
    await rm(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runSnapshotBench();
}
