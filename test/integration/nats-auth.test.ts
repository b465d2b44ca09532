// NATS users per deployment, generated as `./airlock up` does (harness/src/cli/credentials.ts):
// operator (JWT) mode, one user per role and one per runner (its identity nkey). A runner's
// credential cannot use the harness API or write policies, run records or approvals; it cannot read
// another runner's requests, answer them, or append to a run it does not hold (the server refuses
// it; a forgery let through some other way is refused by the harness); and secrets cross the bus
// sealed to the runner that holds the run.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import { RunLogWriter } from '@airlock/ledger';
import { connectNats, splitCredentials, type NatsHandles } from '@airlock/transport';
import { encode, names, runnerInboxPrefix, subjects } from '@airlock/proto';
import { DockerodeClient, RunnerKeyring, RunnerService, readIdentityFile } from '@airlock/runner';
import { HarnessConfigSchema, HarnessService, ensureDeployment, withCredentials, type Deployment } from '@airlock/harness';
import { Airlock } from '@airlock/client';
import { DEFAULT_POLICY_PATH } from '@airlock/validate';
import { containersOf, freePort, silent, waitUntil } from '../fixtures.ts';

const SECRET = 'sk-sealed-Qm4Zt8Xw2Vr7Lp';
const A = `auth-a-${process.pid}`;
const B = `auth-b-${process.pid}`;
let port = 0;
let server: ChildProcess;
let dir: string;
let dep: Deployment;
const plain = () => `nats://127.0.0.1:${port}`;
const url = (role: 'harness' | 'client') => withCredentials(plain(), dep[role]);
const keyring = (id: string) => new RunnerKeyring(readIdentityFile(dep.runners.find((r) => r.runnerId === id)!.identityFile));
const runnerJwt = (id: string) => dep.runners.find((r) => r.runnerId === id)!.jwt;
/** A runner's own connection: its nkey and the deployment's JWT for it, its inbox prefix. */
const runnerConn = (id: string) => connectNats({ servers: plain(), name: `auth-${id}`, nkeySeed: keyring(id).natsSeed, jwt: runnerJwt(id), inboxPrefix: runnerInboxPrefix(id) });
/** The harness's side of per-run log grants (operator mode), as `./airlock up` configures it. */
const grantsCfg = () => ({ natsAuthorityFile: dep.authorityFile, natsSystemUrl: withCredentials(plain(), dep.system) });
/** A raw connection as the harness or client user (operator mode: user JWT and seed). */
const roleConn = (who: 'harness' | 'client') => connect({ servers: plain(), authenticator: jwtAuthenticator(dep[who].jwt, new TextEncoder().encode(dep[who].seed)) });

beforeAll(async () => {
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'airlock-auth-'));
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

/** Connects as `who` and collects the permission errors the server sends while `act` runs. */
async function refused(who: 'harness' | 'client' | typeof A | typeof B, act: (nc: NatsConnection) => void | Promise<void>): Promise<string> {
  const nc =
    who === 'harness' || who === 'client'
      ? await roleConn(who)
      : await connect({ servers: plain(), authenticator: jwtAuthenticator(runnerJwt(who), new TextEncoder().encode(keyring(who).natsSeed)), inboxPrefix: runnerInboxPrefix(who) });
  const errors: string[] = [];
  const watch = async () => {
    for await (const s of nc.status()) if (s.type === 'error' || 'error' in s) errors.push(String((s as { error?: unknown }).error ?? JSON.stringify(s)));
  };
  watch().catch((e: unknown) => errors.push(String(e)));
  try {
    await act(nc);
  } catch (e) {
    errors.push(String(e));
  }
  await nc.flush().catch((e: unknown) => errors.push(String(e)));
  await new Promise((r) => setTimeout(r, 300));
  await nc.close();
  return errors.join(' | ');
}

const secretsPolicy = () => {
  const file = join(dir, 'policy.yaml');
  // The step prints its granted secret on purpose (to show it crosses the bus sealed and is redacted).
  writeFileSync(file, readFileSync(DEFAULT_POLICY_PATH, 'utf8').replace(/^secrets: \[\]$/m, 'secrets:\n  - name: API_TOKEN').replace(/^overrides: \{\}$/m, 'overrides:\n  exfil.secret_env: allow'));
  return file;
};

async function startStack(): Promise<{ harness: HarnessService; runner: RunnerService; hc: NatsHandles; rc: NatsHandles; [Symbol.asyncDispose](): Promise<void> }> {
  process.env.AIRLOCK_SECRET_API_TOKEN = SECRET;
  const hc = await connectNats({ servers: url('harness'), name: 'auth-harness' });
  const harness = await HarnessService.start(
    HarnessConfigSchema.parse({ natsUrl: url('harness'), keyFile: join(dir, 'key.pem'), secretsDir: join(dir, 'secrets'), runnersFile: dep.runnersFile, ...grantsCfg(), policyFile: secretsPolicy() }),
    hc,
    silent,
  );
  const rc = await runnerConn(A);
  const runner = await RunnerService.start(
    { natsUrl: plain(), runnerId: A, slots: 2, stateDir: join(dir, 'runner'), dockerSocket: '/var/run/docker.sock', maxOutputBytes: 1 << 30, heartbeatMs: 500, replicas: 1, harnessKey: join(dir, 'key.pem.pub'), executor: 'auto', logLevel: 'silent', logGrants: true },
    rc,
    new DockerodeClient(),
    silent,
    keyring(A),
  );
  return {
    harness,
    runner,
    hc,
    rc,
    async [Symbol.asyncDispose]() {
      delete process.env.AIRLOCK_SECRET_API_TOKEN;
      await runner.drain(2000);
      await harness.drain(2000);
      await rc.drain();
      await hc.drain();
    },
  };
}

describe('NATS users per deployment', () => {
  it('the runner and client credentials cannot write approvals, run records or policies, nor use the harness API', async () => {
    await using stack = await startStack();
    void stack;
    const approvalKey = `01JAAAAAAAAAAAAAAAAAAAAAAA.1`;
    const approval = encode({ runId: '01JAAAAAAAAAAAAAAAAAAAAAAA', step: 1, cmd: 'rm -rf /', cmdSha256: '0'.repeat(64), rule: 'x', reason: 'x', requestedAt: new Date().toISOString(), status: 'approved', decidedBy: 'runner' });
    for (const who of [A, 'client'] as const) {
      // Through the KV client, as an attacker would: put into the approvals and runs buckets.
      expect(await refused(who, async (nc) => void (await (await new Kvm(nc).open(names.approvalsBucket)).put(approvalKey, approval))), who).toMatch(/permissions violation/i);
      expect(await refused(who, async (nc) => void (await (await new Kvm(nc).open(names.runsBucket)).put('01JAAAAAAAAAAAAAAAAAAAAAAA', encode({})))), who).toMatch(/permissions violation/i);
      expect(await refused(who, (nc) => nc.publish(`$KV.${names.approvalsBucket}.${approvalKey}`, approval)), who).toMatch(/permissions violation/i);
      expect(await refused(who, (nc) => nc.publish(`$KV.${names.policiesBucket}.x`, new Uint8Array(2))), who).toMatch(/permissions violation/i);
      expect(await refused(who, (nc) => nc.publish(`$JS.API.STREAM.DELETE.KV_${names.approvalsBucket}`, new Uint8Array(0))), who).toMatch(/permissions violation/i);
    }
    // Nothing reached the bucket.
    const approvals = await new Kvm(stack.hc.nc).open(names.approvalsBucket);
    expect(await approvals.get(approvalKey)).toBeNull();
    expect(await refused(A, (nc) => nc.publish(subjects.api.exec, new Uint8Array(2)))).toMatch(/permissions violation/i);
    expect(await refused(A, (nc) => void nc.subscribe('airlock.v1.api.>'))).toMatch(/permissions violation/i);
    expect(await refused(A, (nc) => nc.publish(subjects.runnerHeartbeat, new Uint8Array(2)))).toBe('');
    expect(await refused('client', (nc) => void nc.subscribe('airlock.v1.runner.>'))).toMatch(/permissions violation/i);
    // A runner cannot open a consumer on the run log or the audit stream: it cannot read other runs.
    for (const [stream, filter] of [[names.logStream, subjects.logAll], [names.auditStream, subjects.auditAll]] as const) {
      expect(await refused(A, async (nc) => void (await (await jetstream(nc, { timeout: 2000 }).consumers.get(stream, { filter_subjects: filter })).next({ expires: 1000 }))), stream).toMatch(/permissions violation/i);
    }
    await expect(connect(splitCredentials(`nats://harness:wrong@127.0.0.1:${port}`))).rejects.toThrow(/authorization/i);
  });

  it('a second runner cannot read the first runner\'s requests nor answer them', async () => {
    for (const subject of [subjects.runnerExec(A), subjects.runnerClose(A), 'airlock.v1.runner.>', '_INBOX.>', `${runnerInboxPrefix(A)}.>`, '>']) {
      expect(await refused(B, (nc) => void nc.subscribe(subject)), subject).toMatch(/permissions violation/i);
    }
    // B cannot publish to an inbox it never received a request on (no blanket `_INBOX.>` right)...
    const hc = await roleConn('harness');
    const got: string[] = [];
    hc.subscribe('_INBOX.victim.>', { callback: (_e, m) => void got.push(m.string()) });
    await hc.flush();
    expect(await refused(B, (nc) => nc.publish('_INBOX.victim.1', new TextEncoder().encode('forged reply')))).toMatch(/permissions violation/i);
    // ...nor send requests to A.
    expect(await refused(B, (nc) => nc.publish(subjects.runnerExec(A), new Uint8Array(2)))).toMatch(/permissions violation/i);
    await hc.flush();
    expect(got).toEqual([]);
    await hc.close();
    // A receives its own requests and may answer them (allow_responses), with its own inbox for its API calls.
    await using a = await runnerConn(A);
    a.nc.subscribe(subjects.runnerExec(A), { callback: (_e, m) => void m.respond(new TextEncoder().encode('pong')) });
    await a.nc.flush();
    await using h = await connectNats({ servers: url('harness'), name: 'auth-h' });
    expect((await h.nc.request(subjects.runnerExec(A), new Uint8Array(0), { timeout: 2000 })).string()).toBe('pong');
  });

  it('an open answered by a runner in another runner\'s name is refused', async () => {
    const hc = await connectNats({ servers: url('harness'), name: 'auth-harness-open' });
    const harness = await HarnessService.start(
      HarnessConfigSchema.parse({ natsUrl: url('harness'), keyFile: join(dir, 'key.pem'), secretsDir: join(dir, 'secrets'), runnersFile: dep.runnersFile, ...grantsCfg(), openTimeoutMs: 3000 }),
      hc,
      silent,
    );
    // B answers every open offer, claiming to be A (and signing as B, the only key it has).
    await using b = await runnerConn(B);
    const kb = keyring(B);
    b.nc.subscribe(subjects.runnerOpen, {
      callback: (_e, m) => {
        const req = JSON.parse(m.string()) as { runId: string };
        const result = kb.sign('open', req.runId, 0, { runId: req.runId, runnerId: A, containerId: 'x', workspace: '/tmp', user: '1000:1000', keys: keyring(A).keys });
        m.respond(encode({ ok: true, result }));
      },
    });
    await b.nc.flush();
    try {
      await using client = await Airlock.connect({ servers: url('client') });
      await expect(client.open({})).rejects.toMatchObject({ code: 'verification_failed' });
      expect((await client.ps()).runs).toEqual([]);
    } finally {
      await harness.drain(2000);
      await hc.drain();
    }
  });

  it('runs a step with each role on its own credentials; the secret crosses the bus sealed; a forged log event is refused', async () => {
    await using stack = await startStack();
    // Capture what the harness sends to runner A, as anyone able to read the bus would.
    const captured: Uint8Array[] = [];
    const tap = stack.hc.nc.subscribe(subjects.runnerExec(A), { callback: (_e, m) => void captured.push(new Uint8Array(m.data)) });
    await stack.hc.nc.flush();
    await using client = await Airlock.connect({ servers: url('client') });
    const run = await client.open({});
    expect(run.record!.runnerId).toBe(A);
    const out: Buffer[] = [];
    // The runner opened the secret: the step sees its value (shown by its hash, which redaction leaves alone).
    const r = await run.exec('printf %s "$API_TOKEN" | sha256sum | cut -c1-64', { env: { API_TOKEN: '${secret:API_TOKEN}' }, onOutput: (_, d) => out.push(d) });
    expect(r.exitCode).toBe(0);
    expect(Buffer.concat(out).toString()).toBe(`${createHash('sha256').update(SECRET).digest('hex')}\n`);
    tap.unsubscribe();
    expect(captured.length).toBe(1);
    const wire = Buffer.from(captured[0]!);
    const req = JSON.parse(wire.toString()) as { sealed?: { to: string }; secrets?: unknown };
    expect(req.sealed?.to).toBe(keyring(A).keys.curve);
    expect(req.secrets ?? {}).toEqual({});
    for (const form of [SECRET, Buffer.from(SECRET).toString('base64'), Buffer.from(SECRET).toString('hex')]) expect(wire.includes(form), form).toBe(false);
    // The log of a run A holds verifies...
    expect((await client.bundle(run.runId)).events).toBeGreaterThan(3);

    // B cannot append to it at all: its NATS user has no right on any run's log (the run's grant is
    // A's), so the server refuses the publish and nothing is stored.
    const stored = (await client.bundle(run.runId)).events;
    await using b = await runnerConn(B);
    const kb = keyring(B);
    const forgedByB = { type: 'snapshot.created', step: 1, digest: 'f'.repeat(64), files: 0, totalBytes: 0, added: 0, modified: 0, deleted: 0, bytesUploaded: 0, durationMs: 1 } as const;
    await expect(new RunLogWriter(b.js, b.jsm, run.runId, { by: `runner:${B}`, sign: kb.signLog, giveUpAfterMs: 2000 }).append(forgedByB)).rejects.toThrow(/permission/i);
    expect((await client.bundle(run.runId)).events).toBe(stored);
    // A writer the server does let through (the harness's user here, standing in for a leaked grant)
    // is still caught by the harness: B's key, and B does not hold the run.
    const leak = stack.hc;
    await new RunLogWriter(leak.js, leak.jsm, run.runId, { by: `runner:${B}`, sign: kb.signLog }).append(forgedByB);
    const forged = client.bundle(run.runId);
    await expect(forged).rejects.toMatchObject({ code: 'verification_failed' });
    await expect(forged).rejects.toThrow(new RegExp(`by runner:${B} \\(runner ${B} does not hold this run`));
    // Writing in A's name (signed with B's key) or the harness's (unsigned) is caught too.
    await new RunLogWriter(leak.js, leak.jsm, run.runId, { by: `runner:${A}`, sign: kb.signLog }).append({ type: 'run.closed', reason: 'forged' });
    await new RunLogWriter(leak.js, leak.jsm, run.runId, { by: 'harness' }).append({ type: 'run.closed', reason: 'forged' });
    const err = (await client.bundle(run.runId).catch((e: unknown) => e)) as { data?: { forged?: Array<{ by: string; reason: string }> } };
    expect(err.data?.forged?.map((f) => [f.by, f.reason])).toEqual([
      [`runner:${B}`, expect.stringContaining('does not hold this run')],
      [`runner:${A}`, expect.stringContaining(`does not verify under runner ${A}'s key`)],
      ['harness', expect.stringContaining('unsigned')],
    ]);
    await client.close(run.runId);
    expect(await containersOf(A)).toEqual([]);
  });

  it('a run moved off a lost runner restores the last snapshot its holder logged, not one another runner appended', async () => {
    const hc = await connectNats({ servers: url('harness'), name: 'auth-harness-move' });
    const harness = await HarnessService.start(
      HarnessConfigSchema.parse({ natsUrl: url('harness'), keyFile: join(dir, 'key.pem'), secretsDir: join(dir, 'secrets'), runnersFile: dep.runnersFile, ...grantsCfg(), runnerLostMs: 2000, openTimeoutMs: 20_000 }),
      hc,
      silent,
    );
    const cfg = (id: string) => ({ natsUrl: plain(), runnerId: id, slots: 1, stateDir: join(dir, `move-${id}`), dockerSocket: '/var/run/docker.sock', maxOutputBytes: 1 << 30, heartbeatMs: 500, replicas: 1, harnessKey: join(dir, 'key.pem.pub'), executor: 'auto' as const, logLevel: 'silent' as const, logGrants: true });
    const rb = await runnerConn(B);
    const runnerB = await RunnerService.start(cfg(B), rb, new DockerodeClient(), silent, keyring(B));
    const ra = await runnerConn(A);
    let runnerA: RunnerService | undefined;
    try {
      await using client = await Airlock.connect({ servers: url('client') });
      // B (one slot) makes a snapshot of its own whose digest it will try to slip into A's run.
      const decoy = await client.open({});
      expect(decoy.record!.runnerId).toBe(B);
      await decoy.exec('echo poisoned > f');
      const poisoned = (await decoy.snapshots()).at(-1)!.digest;
      // B is full: the victim run lands on A.
      runnerA = await RunnerService.start(cfg(A), ra, new DockerodeClient(), silent, keyring(A));
      await waitUntil('runner A announced', async () => (await client.status()).runners.some((r) => r.runnerId === A));
      const victim = await client.open({});
      expect(victim.record!.runnerId).toBe(A);
      await victim.exec('echo genuine > f');
      await client.close(decoy.runId);
      // B tries to append a snapshot of its choosing to A's run: the server refuses (no grant). Then
      // the same event arrives through a writer the server lets through (the harness's user, standing
      // in for a leaked grant), and A is lost.
      const poison = { type: 'snapshot.created', step: 1, digest: poisoned, files: 1, totalBytes: 9, added: 1, modified: 0, deleted: 0, bytesUploaded: 0, durationMs: 1 } as const;
      await expect(new RunLogWriter(rb.js, rb.jsm, victim.runId, { by: `runner:${B}`, sign: keyring(B).signLog, giveUpAfterMs: 2000 }).append(poison)).rejects.toThrow(/permission/i);
      await new RunLogWriter(hc.js, hc.jsm, victim.runId, { by: `runner:${B}`, sign: keyring(B).signLog }).append(poison);
      await runnerA.drain(2000);
      await waitUntil('the run to move to B', async () => (await client.ps()).runs.find((r) => r.runId === victim.runId)?.runnerId === B, 30_000);
      const out: Buffer[] = [];
      expect(await victim.exec('cat f', { onOutput: (_, d) => out.push(d) })).toMatchObject({ exitCode: 0 });
      expect(Buffer.concat(out).toString()).toBe('genuine\n');
      await client.close(victim.runId);
    } finally {
      await runnerA?.drain(2000);
      await runnerB.drain(2000);
      await harness.drain(2000);
      for (const c of [ra, rb, hc]) await c.drain();
    }
    expect(await containersOf(A)).toEqual([]);
    expect(await containersOf(B)).toEqual([]);
  }, 90_000);
});
