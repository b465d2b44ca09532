// Per-run log grants as a deployment runs them (ensureDeployment, as `./airlock up` and compose do):
// the harness mints a run's grant for the runner that holds it, sealed to that runner; the runner
// writes the run's log through it; no other runner can get it or write the log; the grant dies
// when the run closes or moves. Real nats-server (operator mode), real dockerd.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kvm } from '@nats-io/kv';
import { RunLogWriter } from '@airlock/ledger';
import { connectNats, type NatsHandles } from '@airlock/transport';
import { LogGrantResultSchema, PROTOCOL_VERSION, decode, decodeReply, encode, names, replySchema, runnerInboxPrefix, subjects } from '@airlock/proto';
import { DockerodeClient, RunnerKeyring, RunnerService, readIdentityFile } from '@airlock/runner';
import { HarnessConfigSchema, HarnessService, ensureDeployment, withCredentials, type Deployment } from '@airlock/harness';
import { Airlock } from '@airlock/client';
import { containersOf, freePort, silent, waitUntil } from '../fixtures.ts';

const A = `grant-a-${process.pid}`;
const B = `grant-b-${process.pid}`;
let port = 0;
let server: ChildProcess;
let dir: string;
let dep: Deployment;
const plain = () => `nats://127.0.0.1:${port}`;
const keyring = (id: string) => new RunnerKeyring(readIdentityFile(dep.runners.find((r) => r.runnerId === id)!.identityFile));
const runnerJwt = (id: string) => dep.runners.find((r) => r.runnerId === id)!.jwt;
const runnerConn = (id: string) => connectNats({ servers: plain(), name: `grant-${id}`, nkeySeed: keyring(id).natsSeed, jwt: runnerJwt(id), inboxPrefix: runnerInboxPrefix(id), reconnect: false });

beforeAll(async () => {
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'airlock-grants-'));
  dep = await ensureDeployment(join(dir, 'creds'), [A, B]);
  server = spawn('nats-server', ['-c', dep.natsConf, '-js', '-sd', join(dir, 'js'), '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  await waitUntil('nats-server', () => new Promise((r) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), r(true)));
    s.once('error', () => r(false));
  }));
});
afterAll(async () => {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
});

interface Stack {
  hc: NatsHandles;
  harness: HarnessService;
  runners: Map<string, { svc: RunnerService; conn: NatsHandles }>;
  /** The grants the harness sent each runner, as seen on the bus (the harness user may read every inbox). */
  grants: Array<{ runnerId: string; runId: string; jwt: string; seed: string; inboxPrefix: string }>;
  startRunner(id: string, slots?: number): Promise<void>;
  /** Drains the harness and starts a new process of it on the same NATS (what it knew in memory is gone). */
  restartHarness(): Promise<void>;
  stopRunner(id: string): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function startStack(): Promise<Stack> {
  const url = withCredentials(plain(), dep.harness);
  const hc = await connectNats({ servers: url, name: 'grants-harness' });
  const startHarness = () =>
    HarnessService.start(
      HarnessConfigSchema.parse({ natsUrl: url, keyFile: join(dir, 'key.pem'), secretsDir: join(dir, 'secrets'), runnersFile: dep.runnersFile, natsAuthorityFile: dep.authorityFile, natsSystemUrl: withCredentials(plain(), dep.system), runnerLostMs: 2000, openTimeoutMs: 20_000 }),
      hc,
      silent,
    );
  const harness = await startHarness();
  const grants: Stack['grants'] = [];
  for (const id of [A, B]) {
    hc.nc.subscribe(`${runnerInboxPrefix(id)}.>`, {
      callback: (_e, m) => {
        try {
          const g = decodeReply(LogGrantResultSchema, m.data, 'grant');
          grants.push({ runnerId: id, runId: g.runId, ...keyring(id).unsealGrant(g.sealed, g.runId), inboxPrefix: g.inboxPrefix });
        } catch {
          // Another reply on that inbox (JetStream, KV).
        }
      },
    });
  }
  await hc.nc.flush();
  const runners: Stack['runners'] = new Map();
  const stack: Stack = {
    hc,
    harness,
    runners,
    grants,
    async startRunner(id, slots = 2) {
      const conn = await runnerConn(id);
      const svc = await RunnerService.start(
        { natsUrl: plain(), runnerId: id, slots, stateDir: join(dir, `runner-${id}`), dockerSocket: '/var/run/docker.sock', maxOutputBytes: 1 << 30, heartbeatMs: 500, replicas: 1, harnessKey: join(dir, 'key.pem.pub'), executor: 'auto', logLevel: 'silent', logGrants: true },
        conn,
        new DockerodeClient(),
        silent,
        keyring(id),
      );
      runners.set(id, { svc, conn });
    },
    async restartHarness() {
      await stack.harness.drain(2000);
      stack.harness = await startHarness();
    },
    async stopRunner(id) {
      const r = runners.get(id);
      runners.delete(id);
      await r?.svc.drain(2000);
      await r?.conn.drain();
    },
    async [Symbol.asyncDispose]() {
      for (const id of [...runners.keys()]) await stack.stopRunner(id);
      await stack.harness.drain(2000);
      await hc.drain();
    },
  };
  return stack;
}

/** Connects with a captured grant; resolves to the error text when the server refuses it. */
async function loginWith(grant: Stack['grants'][number]): Promise<NatsHandles | string> {
  try {
    return await connectNats({ servers: plain(), name: 'grant-replay', nkeySeed: grant.seed, jwt: grant.jwt, inboxPrefix: grant.inboxPrefix, reconnect: false, timeoutMs: 3000 });
  } catch (err) {
    return String(err);
  }
}

const snapshotEvent = { type: 'snapshot.created', step: 1, digest: 'f'.repeat(64), files: 0, totalBytes: 0, added: 0, modified: 0, deleted: 0, bytesUploaded: 0, durationMs: 1 } as const;

describe('per-run log grants in a deployment', () => {
  it('the holder logs through its grant; a second runner gets no grant and cannot append; the grant dies with the run', async () => {
    await using stack = await startStack();
    await stack.startRunner(A);
    await using client = await Airlock.connect({ servers: withCredentials(plain(), dep.client) });
    const run = await client.open({});
    expect(run.record!.runnerId).toBe(A);
    const out: Buffer[] = [];
    expect(await run.exec('echo logged', { onOutput: (_, d) => out.push(d) })).toMatchObject({ exitCode: 0 });
    expect(Buffer.concat(out).toString()).toBe('logged\n');
    // Every event of the run verifies (the runner's were written through its grant).
    const stored = (await client.bundle(run.runId)).events;
    expect(stored).toBeGreaterThan(4);
    const grant = stack.grants.find((g) => g.runId === run.runId);
    expect(grant?.runnerId).toBe(A);
    expect(grant!.jwt.startsWith('eyJ')).toBe(true);

    // B: asking for A's run's grant is refused by the harness; asking in A's name by the server.
    await using b = await runnerConn(B);
    const asked = await b.nc.request(subjects.logGrant(B), encode({ v: PROTOCOL_VERSION, runId: run.runId }), { timeout: 10_000 });
    expect(decode(replySchema(LogGrantResultSchema), asked.data, 'grant')).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    // ...and recorded in the system log beside the other refused requests.
    await waitUntil('the refusal audited', async () => {
      const last = await stack.hc.jsm.streams.getMessage(names.logStream, { last_by_subj: subjects.log('system') }).catch(() => null);
      const event = last ? (JSON.parse(last.string()) as { type?: string; code?: string; subject?: string }) : undefined;
      return event?.type === 'message.rejected' && event.code === 'log_grant.unauthorized' && event.subject === subjects.logGrant(B);
    }, 10_000);
    await expect(b.nc.request(subjects.logGrant(A), encode({ v: PROTOCOL_VERSION, runId: run.runId }), { timeout: 3000 })).rejects.toThrow(/permission/i);
    expect(stack.grants.filter((g) => g.runId === run.runId)).toHaveLength(1);
    // B's own user cannot append to the run: the server refuses, nothing is stored.
    await using b2 = await runnerConn(B);
    await expect(new RunLogWriter(b2.js, b2.jsm, run.runId, { by: `runner:${B}`, sign: keyring(B).signLog, giveUpAfterMs: 2000 }).append(snapshotEvent)).rejects.toThrow(/permission/i);
    expect((await client.bundle(run.runId)).events).toBe(stored);
    // A's grant may write only its run's log: another run's subject is refused.
    const replay = await loginWith(grant!);
    if (typeof replay === 'string') throw new Error(`the live grant was refused: ${replay}`);
    const other = await client.open({});
    await expect(new RunLogWriter(replay.js, replay.jsm, other.runId, { by: `runner:${A}`, sign: keyring(A).signLog, giveUpAfterMs: 2000 }).append(snapshotEvent)).rejects.toThrow(/permission/i);
    await client.close(other.runId);

    // Closing the run revokes the grant: the server drops a connection made with it, and refuses a new one.
    const dropped = replay.nc.closed();
    await client.close(run.runId);
    await expect(Promise.race([dropped, new Promise((_, no) => setTimeout(() => no(new Error('still connected 10 s after the close')), 10_000))])).resolves.toBeDefined();
    await waitUntil('the revoked grant refused', async () => typeof (await loginWith(grant!)) === 'string', 10_000);
    expect(await loginWith(grant!)).toMatch(/authorization|revoked|permission/i);
    expect(await containersOf(A)).toEqual([]);
  }, 90_000);

  it('a grant made before a harness restart is revoked by the next harness process when the run closes', async () => {
    await using stack = await startStack();
    await stack.startRunner(A);
    await using client = await Airlock.connect({ servers: withCredentials(plain(), dep.client) });
    const run = await client.open({});
    expect(await run.exec('true')).toMatchObject({ exitCode: 0 });
    const grant = stack.grants.find((g) => g.runId === run.runId)!;
    expect(grant).toBeDefined();
    const live = await loginWith(grant);
    if (typeof live === 'string') throw new Error(`the live grant was refused: ${live}`);
    // The harness that made the grant is gone; a new process closes the run.
    await stack.restartHarness();
    expect(await run.exec('echo after')).toMatchObject({ exitCode: 0 });
    const dropped = live.nc.closed();
    await client.close(run.runId);
    await expect(Promise.race([dropped, new Promise((_, no) => setTimeout(() => no(new Error('still connected 10 s after the close')), 10_000))])).resolves.toBeDefined();
    expect(await loginWith(grant)).toMatch(/authorization|revoked|permission/i);
    // Nothing left to revoke for the run.
    const kv = await new Kvm(stack.hc.nc).open(names.logGrantsBucket);
    await waitUntil('the grant record forgotten', async () => (await kv.get(run.runId))?.operation !== 'PUT', 10_000);
  }, 90_000);

  it('a run moved to another runner: the new holder logs with a new grant, the old holder\'s is refused', async () => {
    await using stack = await startStack();
    await stack.startRunner(A, 1);
    await using client = await Airlock.connect({ servers: withCredentials(plain(), dep.client) });
    const run = await client.open({});
    expect(run.record!.runnerId).toBe(A);
    await run.exec('echo before > f');
    const old = stack.grants.find((g) => g.runId === run.runId && g.runnerId === A)!;
    expect(old).toBeDefined();
    const oldConn = await loginWith(old);
    if (typeof oldConn === 'string') throw new Error(`the live grant was refused: ${oldConn}`);
    await stack.startRunner(B, 1);
    // A is lost (stops heartbeating); the run moves to B.
    await stack.stopRunner(A);
    await waitUntil('the run to move to B', async () => (await client.ps()).runs.find((r) => r.runId === run.runId)?.runnerId === B, 30_000);
    const out: Buffer[] = [];
    expect(await run.exec('cat f', { onOutput: (_, d) => out.push(d) })).toMatchObject({ exitCode: 0 });
    expect(Buffer.concat(out).toString()).toBe('before\n');
    expect(stack.grants.some((g) => g.runId === run.runId && g.runnerId === B)).toBe(true);
    // The old holder's grant: its connection was dropped and a new login is refused.
    await expect(Promise.race([oldConn.nc.closed(), new Promise((_, no) => setTimeout(() => no(new Error('old grant still connected')), 10_000))])).resolves.toBeDefined();
    expect(await loginWith(old)).toMatch(/authorization|revoked|permission/i);
    // The whole log verifies: A's events before the move, B's after.
    expect((await client.bundle(run.runId)).events).toBeGreaterThan(6);
    await client.close(run.runId);
    expect(await containersOf(B)).toEqual([]);
  }, 120_000);
});
