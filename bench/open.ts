// Issue 15's rows about runs, measured on one stack: open -> first command's output, CPU per open +
// close, an idle run's memory, a fork of a 10k-file run, and the six real sessions replayed through
// the SDK against raw `docker exec` (with each session's open against `docker run -d`).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TestStack } from '../test/fixtures.ts';
import { listWorkloads, prepareRepo } from '../test/workloads.ts';
import { repeatablePolicyFile } from './policy.ts';
import { stats, type Stats } from './steps.ts';

const run = promisify(execFile);
const ratio = (x: number, y: number) => Math.round((x / y) * 100) / 100;

/** CPU time (user + system, ms) a process has used, from /proc; 0 when it is not there. */
function procCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime, stime are fields 14 and 15 of stat(5): indexes 11 and 12 after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

async function pidsOf(name: string): Promise<number[]> {
  try {
    return (await run('pidof', [name])).stdout.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The memory the kernel charges to a container's cgroup (v2 with either cgroup driver, or v1), in bytes. */
function containerMemory(id: string): number | undefined {
  for (const p of [`/sys/fs/cgroup/system.slice/docker-${id}.scope/memory.current`, `/sys/fs/cgroup/docker/${id}/memory.current`, `/sys/fs/cgroup/memory/docker/${id}/memory.usage_in_bytes`]) {
    try {
      return Number(readFileSync(p, 'utf8').trim());
    } catch {
      /* the other cgroup layout */
    }
  }
  return undefined;
}

export interface OpenBench {
  /** open() resolved -> `echo ready`'s output arrived, wall, p50 over `opens` (no warm pool). */
  openToFirstOutput: Stats;
  /**
   * The same with the runner's warm pool (2 sandboxes, refilled between samples), side by side with
   * `docker run -d` + `docker exec CID echo ready` (interleaved), and an idle pooled sandbox's memory.
   */
  pooled: { openToFirstOutput: Stats; dockerRunExec: Stats; ratioP50: number; idleSandboxMb: number | null; served: number };
  /**
   * CPU of harness + runner + client (this process), dockerd, containerd and the run's shim (with the
   * runc calls it reaped) per open + close; the shim's and runc's work during the close is not counted.
   */
  cpuPerOpenCloseMs: number;
  /** Of which the shim and its runc calls, read before the close. */
  cpuPerOpenCloseShimMs: number;
  /** An idle run: its sandbox's cgroup memory (executor included) and this process's RSS growth per open run. */
  idleRun: { sandboxMb: number | null; runnerShareMb: number; runs: number };
  /** A fork (open from the snapshot after step 1) of a run whose workspace has `files` files, `bytes` in all. */
  fork: { files: number; bytes: number; ms: Stats };
  /** The six sessions, total wall including open and close, through the SDK vs raw docker exec. */
  workloads: { sessions: number; steps: number; airlockMs: number; rawMs: number; ratio: number; open: Array<{ name: string; files: number; airlockMs: number; dockerRunMs: number }> };
}

async function openToFirstOutput(stack: TestStack, opens: number): Promise<Stats> {
  const samples: number[] = [];
  for (let i = 0; i < opens + 1; i++) {
    const t0 = performance.now();
    const r = await stack.client.open({});
    let first = 0;
    await r.exec('echo ready', { onOutput: () => (first ||= performance.now()) });
    if (i > 0) samples.push(first - t0);
    await stack.client.close(r.runId);
  }
  return stats(samples);
}

async function dockerRunExec(): Promise<number> {
  const t0 = performance.now();
  const { stdout } = await run('docker', ['run', '-d', '--network', 'none', '--label', 'airlock.bench=open', '--user', '1000:1000', '--entrypoint', 'sleep', 'airlock/sandbox:default', 'infinity']);
  const cid = stdout.trim();
  try {
    await run('docker', ['exec', cid, 'echo', 'ready']);
    return performance.now() - t0;
  } finally {
    await run('docker', ['rm', '-f', cid]);
  }
}

/** Open -> first output from the warm pool (waiting for it to refill between samples) vs docker run -d + exec. */
async function pooledOpen(opens: number): Promise<OpenBench['pooled']> {
  await using stack = await TestStack.start({ harness: { policyFile: await repeatablePolicyFile() }, runner: { poolSize: 2 } });
  const pool = stack.runner.warmPool!;
  const samples: number[] = [];
  const raw: number[] = [];
  let served = 0;
  // The first open teaches the pool its key (image, limits, mount path, environment).
  await stack.client.close((await stack.client.open({})).runId);
  for (let i = 0; i < opens; i++) {
    if (!(await pool.whenFull())) throw new Error('the warm pool did not fill');
    const before = pool.idle;
    const t0 = performance.now();
    const r = await stack.client.open({});
    let first = 0;
    await r.exec('echo ready', { onOutput: () => (first ||= performance.now()) });
    samples.push(first - t0);
    if (pool.idle < before) served++;
    await stack.client.close(r.runId);
    raw.push(await dockerRunExec());
  }
  await pool.whenFull();
  const ids = (await run('docker', ['ps', '-q', '--no-trunc', '--filter', `label=airlock.runner-id=${stack.runnerId}`, '--filter', 'label=airlock.pool=1'])).stdout.trim().split('\n').filter(Boolean);
  const mem = ids.map(containerMemory).filter((m): m is number => m !== undefined);
  const s = stats(samples);
  const d = stats(raw);
  return { openToFirstOutput: s, dockerRunExec: d, ratioP50: ratio(s.p50, d.p50), idleSandboxMb: mem.length ? Math.round((mem.reduce((a, b) => a + b, 0) / mem.length / 2 ** 20) * 10) / 10 : null, served };
}

/** CPU time (ms) of a process and of the children it has reaped (cutime, cstime: fields 16, 17 of stat(5)). */
function procCpuWithChildrenMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** The containerd shims running now (one per container under moby), from /proc. */
function shimPids(): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').startsWith('containerd-shim')) pids.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

/**
 * CPU per open + close: this process (client, harness and runner of the in-process stack), dockerd,
 * containerd, and the run's containerd shim with the `runc` calls it made (reaped by the shim),
 * read just before the close. Not counted: the shim's and runc's work during the close itself
 * (the shim exits and is reaped by init, whose counters other processes share).
 */
async function cpuPerOpenClose(stack: TestStack, n: number): Promise<{ totalMs: number; shimMs: number }> {
  const daemons = [...(await pidsOf('dockerd')), ...(await pidsOf('containerd'))];
  const shimsBefore = new Set(shimPids());
  let shimMs = 0;
  let scanMs = 0;
  const before = process.cpuUsage();
  const d0 = daemons.reduce((a, p) => a + procCpuMs(p), 0);
  for (let i = 0; i < n; i++) {
    const r = await stack.client.open({});
    // The scan's own CPU is this process's and is taken out again below.
    const s0 = process.cpuUsage();
    for (const p of shimPids()) if (!shimsBefore.has(p)) (shimMs += procCpuWithChildrenMs(p)), shimsBefore.add(p);
    const s = process.cpuUsage(s0);
    scanMs += (s.user + s.system) / 1000;
    await stack.client.close(r.runId);
  }
  const own = process.cpuUsage(before);
  const d1 = daemons.reduce((a, p) => a + procCpuMs(p), 0);
  return { totalMs: Math.round(((own.user + own.system) / 1000 - scanMs + (d1 - d0) + shimMs) / n), shimMs: Math.round(shimMs / n) };
}

async function idleRun(stack: TestStack, n: number): Promise<OpenBench['idleRun']> {
  const rss0 = process.memoryUsage().rss;
  const runs = [];
  for (let i = 0; i < n; i++) runs.push(await stack.client.open({}));
  await new Promise((r) => setTimeout(r, 2000));
  const rss1 = process.memoryUsage().rss;
  const mem: number[] = [];
  for (const r of runs) {
    const id = (await run('docker', ['ps', '-q', '--no-trunc', '--filter', `label=airlock.run-id=${r.runId}`])).stdout.trim().split('\n')[0] ?? '';
    const m = containerMemory(id);
    if (m !== undefined) mem.push(m);
  }
  for (const r of runs) await stack.client.close(r.runId);
  const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
  return { sandboxMb: mem.length ? mb(mem.reduce((a, b) => a + b, 0) / mem.length) : null, runnerShareMb: mb(Math.max(0, rss1 - rss0) / n), runs: n };
}

async function fork(stack: TestStack, files: number, bytes: number, forks: number): Promise<OpenBench['fork']> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-fork-'));
  const size = Math.floor(bytes / files);
  for (let d = 0; d < Math.ceil(files / 100); d++) {
    mkdirSync(join(dir, `d${d}`));
    for (let i = 0; i < 100 && d * 100 + i < files; i++) writeFileSync(join(dir, `d${d}`, `f${i}.txt`), Buffer.alloc(size, `${d}:${i} `));
  }
  const parent = await stack.client.open({ workspace: dir });
  const samples: number[] = [];
  try {
    await parent.exec('echo one >> d0/f0.txt');
    const snap = await parent.snapshotAt(1);
    for (let i = 0; i < forks; i++) {
      const t0 = performance.now();
      const child = await stack.client.open({ fromSnapshot: snap.digest });
      samples.push(performance.now() - t0);
      await stack.client.close(child.runId);
    }
  } finally {
    await stack.client.close(parent.runId);
    rmSync(dir, { recursive: true, force: true });
  }
  return { files, bytes, ms: stats(samples) };
}

async function workloads(stack: TestStack): Promise<OpenBench['workloads']> {
  let airlockMs = 0;
  let rawMs = 0;
  let steps = 0;
  const open: OpenBench['workloads']['open'] = [];
  const all = listWorkloads();
  for (const w of all) {
    const countFiles = async (d: string) => Number((await run('bash', ['-c', 'find . -path ./.git -prune -o -print | wc -l'], { cwd: d })).stdout.trim());
    // Through the SDK: validation, a snapshot after every step, the log.
    const repo = prepareRepo(w);
    const files = await countFiles(repo);
    let t0 = performance.now();
    const r = await stack.client.open({ workspace: repo, mountPath: '/testbed' });
    const openMs = performance.now() - t0;
    for (const s of w.steps) await r.exec(s.cmd, { timeoutMs: 60_000, onOutput: () => undefined });
    await stack.client.close(r.runId);
    airlockMs += performance.now() - t0;
    // Raw: docker run -d on the same image and workspace, then docker exec per command, no snapshots.
    const rawRepo = prepareRepo(w);
    await run('chown', ['-R', '1000:1000', rawRepo]);
    t0 = performance.now();
    const { stdout } = await run('docker', ['run', '-d', '--network', 'none', '--label', 'airlock.bench=workloads', '--user', '1000:1000', '-v', `${rawRepo}:/testbed`, '-w', '/testbed', '--entrypoint', 'sleep', 'airlock/sandbox:default', 'infinity']);
    const dockerRunMs = performance.now() - t0;
    const cid = stdout.trim();
    try {
      for (const s of w.steps) await run('docker', ['exec', cid, 'bash', '-c', s.cmd], { maxBuffer: 64 << 20 }).catch(() => undefined);
    } finally {
      await run('docker', ['rm', '-f', cid]);
    }
    rawMs += performance.now() - t0;
    steps += w.steps.length;
    open.push({ name: w.name, files, airlockMs: Math.round(openMs), dockerRunMs: Math.round(dockerRunMs) });
    rmSync(repo, { recursive: true, force: true });
    rmSync(rawRepo, { recursive: true, force: true });
  }
  return { sessions: all.length, steps, airlockMs: Math.round(airlockMs), rawMs: Math.round(rawMs), ratio: ratio(airlockMs, rawMs), open };
}

export async function runOpenBench(opts: { opens?: number; forkFiles?: number; forkBytes?: number; workloads?: boolean } = {}): Promise<OpenBench> {
  await using stack = await TestStack.start({ harness: { policyFile: await repeatablePolicyFile() } });
  const first = await openToFirstOutput(stack, opts.opens ?? 10);
  const pooled = await pooledOpen(opts.opens ?? 10);
  const cpu = await cpuPerOpenClose(stack, 5);
  const idle = await idleRun(stack, 4);
  const f = await fork(stack, opts.forkFiles ?? 10_000, opts.forkBytes ?? 105_000_000, 3);
  const wl = opts.workloads === false ? { sessions: 0, steps: 0, airlockMs: 0, rawMs: 0, ratio: 0, open: [] } : await workloads(stack);
  return { openToFirstOutput: first, pooled, cpuPerOpenCloseMs: cpu.totalMs, cpuPerOpenCloseShimMs: cpu.shimMs, idleRun: idle, fork: f, workloads: wl };
}

if (import.meta.main) console.log(JSON.stringify(await runOpenBench({ forkFiles: Number(process.env.BENCH_FORK_FILES ?? 10_000), workloads: process.env.BENCH_WORKLOADS !== '0' }), null, 2));
