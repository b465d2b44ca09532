// Ledger write throughput: stream N MB of stdout through one step into the hash-chained run log
// (job token signed, policy re-checked, every event hashed), with secret redaction on (the step was
// granted a secret) and off, side by side with a raw docker exec of the same command. Harness and
// runner run as their own processes, as deployed; their RSS is sampled from /proc every 50 ms and
// the growth is measured against their RSS after a warm-up step. BENCH_PROF=DIR writes CPU profiles
// of harness and runner there; BENCH_MEMLOG=DIR logs their heap, external and ArrayBuffer memory
// there every 250 ms (bench/memlog.ts); BENCH_NODE_FLAGS adds Node flags to both (e.g. --trace-gc,
// whose lines then go to this process's stdout).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import { Airlock } from '@airlock/client';
import { demux } from '@airlock/runner';
import { DEFAULT_POLICY_PATH } from '@airlock/validate';
import { SERVICE_NODE_FLAGS } from '@airlock/proto';
import { NatsServer, stopProcesses, waitUntil } from '../test/fixtures.ts';

const ROOT = resolve(import.meta.dirname, '..');

/** Resident set size of a process, bytes (0 when it is gone). */
function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Tracks the RSS of some processes: peak since `reset()`, against the value at `reset()`. */
class RssSampler {
  readonly #pids: Record<string, number>;
  #base: Record<string, number> = {};
  #peak: Record<string, number> = {};
  readonly #timer: NodeJS.Timeout;
  constructor(pids: Record<string, number>) {
    this.#pids = pids;
    this.reset();
    this.#timer = setInterval(() => this.#sample(), 50);
  }
  #sample() {
    for (const [name, pid] of Object.entries(this.#pids)) this.#peak[name] = Math.max(this.#peak[name] ?? 0, rssOf(pid));
  }
  reset() {
    for (const [name, pid] of Object.entries(this.#pids)) this.#base[name] = this.#peak[name] = rssOf(pid);
  }
  /** MB: the RSS at reset, the peak since, and the growth. */
  report() {
    this.#sample();
    const mb = (b: number) => Math.round(b / 1048576);
    return Object.fromEntries(Object.keys(this.#pids).map((n) => [n, { baseMb: mb(this.#base[n]!), peakMb: mb(this.#peak[n]!), growthMb: mb(this.#peak[n]! - this.#base[n]!) }]));
  }
  stop() {
    clearInterval(this.#timer);
  }
}

export async function runLedgerBench(opts: { megabytes?: number } = {}) {
  const mb = opts.megabytes ?? 1024;
  const cmd = `head -c ${mb}M /dev/zero | tr '\\0' 'a'`;
  const dir = mkdtempSync(join(tmpdir(), 'airlock-ledger-'));
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, readFileSync(DEFAULT_POLICY_PATH, 'utf8').replace(/^secrets: \[\]$/m, 'secrets:\n  - name: BENCH_TOKEN'));
  await using nats = await NatsServer.start();
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, AIRLOCK_SECRET_BENCH_TOKEN: 'bench-secret-7Hq2Lx9' };
  const procs: ChildProcess[] = [];
  const start = (script: string, args: string[]) => {
    const extra = [
      ...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF] : []),
      ...(process.env.BENCH_MEMLOG ? ['--import', join(import.meta.dirname, 'memlog.ts')] : []),
      ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
    ];
    const p = spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...extra, join(ROOT, script), '--nats', nats.url, '--log-level', 'warn', ...args], {
      stdio: ['ignore', process.env.BENCH_NODE_FLAGS ? 'inherit' : 'ignore', 'inherit'],
      env: { ...env, ...(process.env.BENCH_MEMLOG ? { BENCH_MEMLOG: process.env.BENCH_MEMLOG } : {}) },
    });
    procs.push(p);
    return p;
  };
  const keyFile = join(dir, 'key.pem');
  const harness = start('harness/src/main.ts', ['--policy', policy, '--key-file', keyFile, '--secrets-dir', join(dir, 'secrets')]);
  const client = await Airlock.connect({ servers: nats.url });
  let sampler: RssSampler | undefined;
  try {
    await waitUntil('the harness', async () => (await client.status().then(() => true, () => false)), 30_000);
    const runner = start('runner/src/main.ts', ['--id', 'ledger-bench', '--slots', '1', '--state-dir', join(dir, 'runner'), '--harness-key', `${keyFile}.pub`]);
    await waitUntil('the runner', async () => (await client.status()).runners.length > 0, 30_000);
    const run = await client.open({});
    sampler = new RssSampler({ harness: harness.pid!, runner: runner.pid! });
    const time = async (label: string, env?: Record<string, string>) => {
      await run.exec('echo warm-up', env ? { env } : {});
      sampler!.reset();
      let bytes = 0;
      const t0 = performance.now();
      const r = await run.exec(cmd, { ...(env ? { env } : {}), onOutput: (_, d) => (bytes += d.length) });
      const s = (performance.now() - t0) / 1000;
      if (r.exitCode !== 0 || r.stdoutBytes !== mb * 1024 * 1024 || bytes !== r.stdoutBytes) throw new Error(`bench step failed: ${JSON.stringify(r)}, ${bytes} bytes received`);
      const rss = sampler!.report();
      console.log(`  ${label}: ${(mb / s).toFixed(1)} MB/s; RSS growth harness ${rss.harness!.growthMb} MB, runner ${rss.runner!.growthMb} MB`);
      return { seconds: Math.round(s * 100) / 100, mbPerSecond: Math.round((mb / s) * 10) / 10, bytesReceived: bytes, rss };
    };
    const plain = await time('hashing on, redaction off');
    const redacted = await time('hashing and redaction on', { BENCH_TOKEN: '${secret:BENCH_TOKEN}' });
    await client.close(run.runId);
    // Raw docker exec of the same command, output drained and dropped.
    const docker = new Docker();
    const ctr = await docker.createContainer({ Image: 'airlock/sandbox:default', Cmd: ['sleep', 'infinity'], Entrypoint: [], HostConfig: { NetworkMode: 'none', Init: true } });
    await ctr.start();
    let raw;
    try {
      const t0 = performance.now();
      const ex = await ctr.exec({ Cmd: ['bash', '-c', cmd], AttachStdout: true, AttachStderr: true });
      const stream = (await ex.start({ hijack: true, stdin: false })) as unknown as AsyncIterable<Buffer>;
      for await (const f of demux(stream)) void f;
      const s = (performance.now() - t0) / 1000;
      raw = { seconds: Math.round(s * 100) / 100, mbPerSecond: Math.round((mb / s) * 10) / 10 };
    } finally {
      await ctr.remove({ force: true });
    }
    console.log(`  raw docker exec: ${raw.mbPerSecond} MB/s`);
    return { megabytes: mb, hashingOnRedactionOff: plain, hashingAndRedactionOn: redacted, rawDockerExec: raw };
  } finally {
    sampler?.stop();
    await client[Symbol.asyncDispose]();
    await stopProcesses(procs);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const r = await runLedgerBench({ megabytes: Number(process.env.BENCH_LEDGER_MB ?? 1024) });
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(join(import.meta.dirname, 'results', 'ledger.json'), JSON.stringify({ at: new Date().toISOString(), ...r }, null, 2) + '\n');
  console.log(JSON.stringify(r, null, 2));
}
