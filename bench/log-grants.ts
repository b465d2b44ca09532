/**
 * Cost of per-run log-writer grants (harness/src/natsauth): minting one, a writer's connection,
 * its first append, and revoke → the old writer's connection closed by the server; plus the size
 * of the account JWT with that many live revocations. Standalone: starts its own nats-server in
 * operator mode on loopback and prints one JSON line.
 * `node --conditions=airlock-source bench/log-grants.ts [grants=100]`
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, jwtAuthenticator } from '@nats-io/transport-node';
import { connectNats } from '@airlock/transport';
import { RunLogWriter, ensureLogStream } from '@airlock/ledger';
import { LogWriterGrants, NatsAuthority } from '@airlock/harness';

const N = Number(process.argv[2] ?? 100);
const dir = mkdtempSync(join(tmpdir(), 'airlock-grants-bench-'));
const authority = NatsAuthority.create();
writeFileSync(join(dir, 'nats.conf'), await authority.serverConfig(join(dir, 'jwt')));
const port = 20000 + Math.floor(Math.random() * 20000);
const server = spawn('nats-server', ['-c', join(dir, 'nats.conf'), '-js', '-sd', join(dir, 'js'), '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
try {
  await listening(port);
  const servers = `nats://127.0.0.1:${port}`;
  const harnessUser = await authority.mint('harness', { pub: { allow: ['>'] }, sub: { allow: ['>'] } });
  const harness = await connectNats({ servers, name: 'bench-harness', nkeySeed: harnessUser.seed, jwt: harnessUser.jwt });
  await ensureLogStream(harness.jsm);
  const systemUser = await authority.mint('harness-system', {}, { system: true });
  const system = await connect({ servers, authenticator: jwtAuthenticator(systemUser.jwt, new TextEncoder().encode(systemUser.seed)) });
  const grants = new LogWriterGrants(authority, system);
  const mint: number[] = [], conn: number[] = [], append: number[] = [], revoke: number[] = [];
  for (let i = 0; i < N; i++) {
    const runId = `01BENCHGRANT${String(i).padStart(14, '0')}`;
    let t = performance.now();
    const grant = await grants.grant('bench-runner', runId);
    mint.push(performance.now() - t);
    t = performance.now();
    const w = await connectNats({ servers, name: 'bench-writer', nkeySeed: grant.seed, jwt: grant.jwt, inboxPrefix: grant.inboxPrefix, reconnect: false });
    conn.push(performance.now() - t);
    t = performance.now();
    await new RunLogWriter(w.js, w.jsm, runId, { by: 'runner:bench-runner' }).append({ type: 'runner.lost', runnerId: 'bench', reason: 'bench' });
    append.push(performance.now() - t);
    const closed = w.nc.closed();
    t = performance.now();
    await grants.revoke(grant);
    await closed;
    revoke.push(performance.now() - t);
  }
  const stored = await system.request(`$SYS.REQ.ACCOUNT.${authority.accountId}.CLAIMS.LOOKUP`);
  const ms = (xs: number[], p: number) => Number(xs.slice().sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]!.toFixed(2));
  const row = (xs: number[]) => ({ p50: ms(xs, 0.5), p99: ms(xs, 0.99) });
  console.log(JSON.stringify({ grants: N, mintMs: row(mint), connectMs: row(conn), firstAppendMs: row(append), revokeToClosedMs: row(revoke), accountJwtBytes: stored.data.length }));
  await system.drain();
  await harness.drain();
} finally {
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

function listening(p: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = createConnection({ host: '127.0.0.1', port: p });
      s.once('connect', () => (s.destroy(), resolve()));
      s.once('error', () => (Date.now() > deadline ? reject(new Error('nats-server did not listen')) : setTimeout(attempt, 100)));
    };
    attempt();
  });
}
