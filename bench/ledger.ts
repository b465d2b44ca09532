// Ledger write throughput: stream N MB of stdout through one step into the hash-chained run log,
// with secret redaction on (the step was granted a secret) and off (no secret), side by side with a
// raw docker exec of the same command; peak RSS growth of this process (harness + runner in-process).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { demux } from '@airlock/runner';
import { DEFAULT_POLICY_PATH } from '@airlock/validate';
import { TestStack } from '../test/fixtures.ts';

export async function runLedgerBench(opts: { megabytes?: number } = {}) {
  const mb = opts.megabytes ?? 1024;
  const cmd = `head -c ${mb}M /dev/zero | tr '\\0' 'a'`;
  const dir = mkdtempSync(join(tmpdir(), 'airlock-ledger-'));
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, readFileSync(DEFAULT_POLICY_PATH, 'utf8').replace(/^secrets: \[\]$/m, 'secrets:\n  - name: BENCH_TOKEN'));
  process.env.AIRLOCK_SECRET_BENCH_TOKEN = 'bench-secret-7Hq2Lx9';
  const rssStart = process.memoryUsage().rss;
  let rssPeak = rssStart;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 100);
  try {
    await using stack = await TestStack.start({ harness: { policyFile: policy } });
    const c = stack.client;
    const run = await c.open({});
    const time = async (env?: Record<string, string>) => {
      let bytes = 0;
      const t0 = performance.now();
      const r = await c.exec(run.runId, cmd, { ...(env ? { env } : {}), onOutput: (_, d) => (bytes += d.length) });
      const s = (performance.now() - t0) / 1000;
      if (r.exitCode !== 0 || r.stdoutBytes !== mb * 1024 * 1024) throw new Error(`bench step failed: ${JSON.stringify(r)}`);
      return { seconds: Math.round(s * 100) / 100, mbPerSecond: Math.round((mb / s) * 10) / 10, bytesReceived: bytes };
    };
    const plain = await time();
    const redacted = await time({ BENCH_TOKEN: '${secret:BENCH_TOKEN}' });
    await c.close(run.runId);
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
    return { megabytes: mb, hashingOnRedactionOff: plain, hashingAndRedactionOn: redacted, rawDockerExec: raw, rssGrowthMb: Math.round((rssPeak - rssStart) / 1024 / 1024) };
  } finally {
    clearInterval(sampler);
    delete process.env.AIRLOCK_SECRET_BENCH_TOKEN;
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const r = await runLedgerBench({ megabytes: Number(process.env.BENCH_LEDGER_MB ?? 1024) });
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(join(import.meta.dirname, 'results', 'ledger.json'), JSON.stringify({ at: new Date().toISOString(), ...r }, null, 2) + '\n');
  console.log(JSON.stringify(r, null, 2));
}
