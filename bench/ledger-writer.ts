// The run-log writer alone against a nats-server it starts (no harness, runner or sandbox): MB/s and
// CPU per GB of the writer and of nats-server, for one chunk size (CHUNK, bytes; default 64 KiB) and
// server binary (NATS_BIN, default `nats-server` on PATH), so server versions and chunk sizes compare
// side by side. Hold the Docker lock: `flock /tmp/airlock-docker.lock node --conditions=airlock-source bench/ledger-writer.ts`.
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats } from '@airlock/transport';
import { RunLogWriter, ensureLogStream } from '@airlock/ledger';
import { outputFields, sha256Hex } from '@airlock/proto';
import { freePort, waitUntil } from '../test/fixtures.ts';

const cpuOf = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const mb = Number(process.env.MB ?? 256);
const chunk = Number(process.env.CHUNK ?? 65536);
const port = await freePort();
const store = mkdtempSync(join(tmpdir(), 'wbench-'));
const srv = spawn(process.env.NATS_BIN ?? 'nats-server', ['-js', '-sd', store, '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
try {
  let h: Awaited<ReturnType<typeof connectNats>> | undefined;
  await waitUntil('nats', async () => { try { h = await connectNats({ servers: `nats://127.0.0.1:${port}`, name: 'wbench' }); return true; } catch { return false; } });
  await ensureLogStream(h!.jsm);
  const { privateKey } = generateKeyPairSync('ed25519');
  const enc = new TextEncoder();
  const sign = (stored: Uint8Array, h?: string) => cryptoSign(null, enc.encode(`airlock-log/v1\nr\n${h ?? sha256Hex(stored)}`), privateKey).toString("base64url");
  const w = new RunLogWriter(h!.js, h!.jsm, 'run-bench', { by: 'runner:x', sign });
  const data = Buffer.alloc(chunk, 'a');
  const window = Number(process.env.WINDOW ?? 8);
  const go = async (megabytes: number) => {
    const n = Math.floor((megabytes * 1048576) / chunk);
    const seqr = w.sequence();
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      pending.push(seqr.append({ type: 'step.output', step: 1, stream: 'stdout', offset: i * chunk, ...outputFields(Buffer.from(data)) }));
      if (pending.length >= window) await pending.shift();
    }
    await Promise.all(pending);
  };
  await go(16);
  const c0 = process.cpuUsage(); const n0 = cpuOf(srv.pid!);
  const t0 = performance.now();
  await go(mb);
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0); const nc = cpuOf(srv.pid!) - n0;
  const perGb = (ms: number) => (ms / mb * 1024).toFixed(0);
  console.log(`${process.env.NATS_BIN ?? 'nats 2.9'} ${mb} MB in ${chunk}-byte chunks: ${(mb / s).toFixed(1)} MB/s, CPU/GB writer ${perGb((c.user + c.system) / 1000)} ms, nats-server ${perGb(nc)} ms, rss ${Math.round(process.memoryUsage().rss / 1048576)} MB`);
  await h![Symbol.asyncDispose]();
} finally {
  srv.kill(); rmSync(store, { recursive: true, force: true });
}
