// Agents read only their own runs' logs, enforced by the NATS server (issue 14): in a deployment as
// `./airlock up` makes it (ensureDeployment: operator-mode nats-server, a NATS user per role, harness
// with required credentials and per-run log grants), the agent role's NATS user has no JetStream read
// of the run log; the SDK reads an agent's run through the per-run reader user the harness mints
// for it (harness/src/natsauth/reader-desk.ts, client/src/readers.ts). Real nats-server, real dockerd.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { connect, headers as natsHeaders, jwtAuthenticator, nkeys, type NatsConnection } from '@nats-io/transport-node';
import { connectNats, type NatsHandles } from '@airlock/transport';
import { ApiReaderResultSchema, ApiSessionResultSchema, PROTOCOL_VERSION, decodeReply, encode, names, outputBytes, subjects, type LogEvent, type ApiReaderResult } from '@airlock/proto';
import { DockerodeClient, RunnerKeyring, RunnerService, readIdentityFile } from '@airlock/runner';
import { HarnessConfigSchema, HarnessService, ensureDeployment, issueCredential, withCredentials, type Deployment } from '@airlock/harness';
import { importPrivateKey } from '@airlock/trust';
import { Airlock } from '@airlock/client';
import { readLog } from '../../client/src/log.ts';
import { containersOf, freePort, runCli, silent, waitUntil } from '../fixtures.ts';

const RUNNER = `readers-${process.pid}`;
let port = 0;
let server: ChildProcess;
let dir: string;
let dep: Deployment;
let hc: NatsHandles;
let harness: HarnessService;
let runner: { svc: RunnerService; conn: NatsHandles };
const plain = () => `nats://127.0.0.1:${port}`;
const keyFile = () => join(dir, 'key.pem');
const credential = (principal: string, role: 'agent' | 'operator' | 'reviewer') => issueCredential(importPrivateKey(readFileSync(keyFile(), 'utf8')), { principal, role });
/** A client as `principal` in `role`, over that role's own NATS user. */
const connectAs = (principal: string, role: 'agent' | 'operator' | 'reviewer') => Airlock.connect({ servers: withCredentials(plain(), dep.roles[role]), credential: credential(principal, role) });

const startHarness = (more: { readerTtlMs?: number } = {}) =>
  HarnessService.start(
    HarnessConfigSchema.parse({ natsUrl: withCredentials(plain(), dep.harness), keyFile: keyFile(), secretsDir: join(dir, 'secrets'), runnersFile: dep.runnersFile, natsAuthorityFile: dep.authorityFile, natsSystemUrl: withCredentials(plain(), dep.system), auth: 'required', runnerLostMs: 5000, openTimeoutMs: 30_000, ...more }),
    hc,
    silent,
  );

beforeAll(async () => {
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'airlock-readers-'));
  dep = await ensureDeployment(join(dir, 'creds'), [RUNNER], { harnessKeyFile: join(dir, 'key.pem') });
  server = spawn('nats-server', ['-c', dep.natsConf, '-js', '-sd', join(dir, 'js'), '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  await waitUntil('nats-server', () => new Promise((r) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), r(true)));
    s.once('error', () => r(false));
  }));
  hc = await connectNats({ servers: withCredentials(plain(), dep.harness), name: 'readers-harness' });
  harness = await startHarness();
  const keyring = new RunnerKeyring(readIdentityFile(dep.runners[0]!.identityFile));
  const conn = await connectNats({ servers: plain(), name: RUNNER, nkeySeed: keyring.natsSeed, jwt: dep.runners[0]!.jwt, inboxPrefix: `_INBOX_${RUNNER}` });
  const svc = await RunnerService.start(
    { natsUrl: plain(), runnerId: RUNNER, slots: 3, stateDir: join(dir, 'runner'), dockerSocket: '/var/run/docker.sock', maxOutputBytes: 1 << 30, heartbeatMs: 500, replicas: 1, harnessKey: `${keyFile()}.pub`, executor: 'auto', logLevel: 'silent', logGrants: true },
    conn,
    new DockerodeClient(),
    silent,
    keyring,
  );
  runner = { svc, conn };
}, 60_000);

afterAll(async () => {
  await runner?.svc.drain(2000);
  await runner?.conn.drain();
  await harness?.drain(2000);
  await hc?.drain();
  server?.kill('SIGTERM');
  if (server) await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
});

async function all(events: AsyncIterable<LogEvent>): Promise<LogEvent[]> {
  const out: LogEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

/** The stdout a run's log holds, all steps together. */
const stdoutOf = (events: LogEvent[]) => events.map((e) => (e.type === 'step.output' && e.stream === 'stdout' ? outputBytes(e).toString() : '')).join('');

/** Asks the harness for a reader of `runId` as `cred`, over `nc`, for a fresh key; returns the answer and the key's seed. */
async function askReader(nats: NatsHandles, cred: string, runId: string): Promise<{ answer: ApiReaderResult; seed: Uint8Array }> {
  const key = nkeys.createUser();
  const h = natsHeaders();
  h.set('Airlock-Credential', cred);
  const reply = await nats.nc.request(subjects.api.reader, encode({ v: PROTOCOL_VERSION, runId, publicKey: key.getPublicKey() }), { timeout: 10_000, headers: h });
  return { answer: decodeReply(ApiReaderResultSchema, reply.data, 'reader'), seed: key.getSeed() };
}

/**
 * `./airlock --as agent` against this deployment: a stack file as `up` writes it (in a fresh state
 * directory `name`), naming the deployment's role files, where the CLI finds `--as agent`.
 */
function agentCli(name: string): (args: string[]) => ReturnType<typeof runCli> {
  const state = join(dir, name);
  rmSync(state, { recursive: true, force: true });
  mkdirSync(state, { recursive: true });
  writeFileSync(join(state, 'stack.json'), JSON.stringify({ natsUrl: plain(), rolesDir: join(dep.dir, 'roles'), stateDir: state, pids: { runner: process.pid, harness: process.pid }, startedAt: new Date().toISOString() }));
  return (args) => runCli(['--state-dir', state, '--as', 'agent', ...args], { timeoutMs: 120_000 });
}

/**
 * What the SDK does for an agent, by hand: log in as the deployment's agent user (which may only ask
 * for a session, on `_INBOX_BOOT`), ask for a user of its own for a fresh key, connect as it.
 */
async function rawSession(principal: string): Promise<NatsHandles & { inboxPrefix: string }> {
  const { jwt, seed } = dep.roles.agent;
  const boot = await connect({ servers: plain(), authenticator: jwtAuthenticator(jwt, new TextEncoder().encode(seed)), inboxPrefix: '_INBOX_BOOT', reconnect: false });
  const key = nkeys.createUser();
  const h = natsHeaders();
  h.set('Airlock-Credential', credential(principal, 'agent'));
  const answer = decodeReply(ApiSessionResultSchema, (await boot.request(subjects.api.session, encode({ v: PROTOCOL_VERSION, publicKey: key.getPublicKey() }), { timeout: 10_000, headers: h })).data, 'session');
  await boot.close();
  if (answer.kind !== 'user') throw new Error(`expected a session user for an agent, got ${JSON.stringify(answer)}`);
  const handles = await connectNats({ servers: plain(), name: `raw-session-${principal}`, nkeySeed: new TextDecoder().decode(key.getSeed()), jwt: answer.jwt, inboxPrefix: answer.inboxPrefix, reconnect: false });
  return Object.assign(handles, { inboxPrefix: answer.inboxPrefix });
}

/**
 * Subscribes to `subject` and resolves with the server's refusal (its message), or with what was
 * heard first (`heard: <subject>`), or `nothing` after 5 s: a refusal is the only good answer.
 */
function heard(nc: NatsConnection, subject: string): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('nothing'), 5000);
    nc.subscribe(subject, {
      callback: (err, msg) => {
        clearTimeout(timer);
        resolve(err ? err.message : `heard: ${msg.subject}`);
      },
    });
  });
}

/** Every JetStream way into a run's log an agent's NATS user could try; each must be refused by the server. */
async function expectEveryReadRefused(nats: NatsHandles, runId: string): Promise<void> {
  const consumer = { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 5_000_000_000 };
  // A consumer without a filter (every run), and one filtered on the other run.
  await expect(nats.jsm.consumers.add(names.logStream, { ...consumer, name: 'peek-all' })).rejects.toThrow(/permission/i);
  await expect(nats.jsm.consumers.add(names.logStream, { ...consumer, name: 'peek', filter_subject: subjects.log(runId) })).rejects.toThrow(/permission/i);
  // An ordered consumer (what the SDK's reader makes), through the SDK's own log reader.
  await expect(all(readLog(nats.js, nats.jsm, runId, { follow: false }))).rejects.toThrow(/permission/i);
  // Stored-message get and direct get, by sequence and by the run's subject.
  await expect(nats.jsm.streams.getMessage(names.logStream, { seq: 1 })).rejects.toThrow(/permission/i);
  await expect(nats.jsm.streams.getMessage(names.logStream, { last_by_subj: subjects.log(runId) })).rejects.toThrow(/permission/i);
  await expect(nats.jsm.direct.getMessage(names.logStream, { seq: 1 })).rejects.toThrow(/permission/i);
  await expect(nats.jsm.direct.getMessage(names.logStream, { last_by_subj: subjects.log(runId) })).rejects.toThrow(/permission/i);
}

describe('agents read their own runs\' logs only, by NATS permission', () => {
  it('an agent reads and follows its run through the SDK across a harness restart; another agent\'s run is refused by the harness and, by every raw JetStream call, by the server; operators and reviewers read both', async () => {
    await using ada = await connectAs('ada', 'agent');
    await using bob = await connectAs('bob', 'agent');
    const runA = await ada.open({});
    const runB = await bob.open({});
    // exec reads the run's log (its output, its result): through ada's reader user.
    expect(await runA.exec('echo ada-one')).toMatchObject({ exitCode: 0, stdout: 'ada-one\n' });
    expect(await runB.exec('echo bob-secret')).toMatchObject({ exitCode: 0, stdout: 'bob-secret\n' });

    const stored = await all(ada.run(runA.runId).log({ follow: false }));
    expect(stdoutOf(stored)).toBe('ada-one\n');

    // A live follow, then the harness restarts under it; the next step's output still arrives.
    const after = stored.at(-1)!.seq;
    const follow = all(ada.run(runA.runId).log({ fromSeq: after + 1, follow: true, signal: AbortSignal.timeout(120_000) })).catch((err: unknown) => err as Error);
    await harness.drain(2000);
    harness = await startHarness();
    expect(await runA.exec('echo ada-two')).toMatchObject({ exitCode: 0, stdout: 'ada-two\n' });
    await runA.close();
    const live = await follow;
    if (live instanceof Error) throw live;
    expect(stdoutOf(live as LogEvent[])).toBe('ada-two\n');
    expect((live as LogEvent[]).at(-1)?.type).toBe('run.closed');
    // A new client of ada, after the restart: the new harness process mints its reader.
    await using ada2 = await connectAs('ada', 'agent');
    expect(stdoutOf(await all(ada2.run(runA.runId).log({ follow: false })))).toBe('ada-one\nada-two\n');

    // Through the SDK, bob's run is refused by the harness (forbidden) and audited in bob's log.
    await expect(all(ada.run(runB.runId).log({ follow: false }))).rejects.toMatchObject({ code: 'forbidden' });
    await expect(ada.run(runB.runId).result(1)).rejects.toMatchObject({ code: 'forbidden' });

    // A NATS user of ada's own (what the SDK connects as): refused by the server on every way into bob's log, and ada's too.
    await using agentUser = await rawSession('ada');
    await expectEveryReadRefused(agentUser, runB.runId);
    await expectEveryReadRefused(agentUser, runA.runId);
    // Nor the copies of run events: the audit index and proof bundles.
    await expect(agentUser.jsm.consumers.add(names.auditStream, { ack_policy: AckPolicy.None, name: 'audit-peek' })).rejects.toThrow(/permission/i);
    await expect(agentUser.jsm.consumers.add(`OBJ_${names.bundlesBucket}`, { ack_policy: AckPolicy.None, name: 'bundle-peek' })).rejects.toThrow(/permission/i);

    // The reader user the harness mints for ada's run: it reads that run, and the server refuses it bob's.
    const { answer, seed } = await askReader(agentUser, credential('ada', 'agent'), runA.runId);
    if (answer.kind !== 'user') throw new Error(`expected a reader user for an agent, got ${JSON.stringify(answer)}`);
    expect(answer.inboxPrefix).toMatch(/^_INBOX_READ_U/);
    await using reader = await connectNats({ servers: plain(), name: 'raw-reader', nkeySeed: new TextDecoder().decode(seed), jwt: answer.jwt, inboxPrefix: answer.inboxPrefix, reconnect: false });
    expect(stdoutOf(await all(readLog(reader.js, reader.jsm, runA.runId, { follow: false })))).toBe('ada-one\nada-two\n');
    await expectEveryReadRefused(reader, runB.runId);
    // The reply carries no seed: the JWT alone logs nobody in (someone else's key).
    await expect(connectNats({ servers: plain(), name: 'jwt-only', nkeySeed: new TextDecoder().decode(nkeys.createUser().getSeed()), jwt: answer.jwt, reconnect: false, timeoutMs: 3000 })).rejects.toThrow(/auth|permission/i);
    // Asking for bob's run is refused by the harness and recorded in bob's log.
    await expect(askReader(agentUser, credential('ada', 'agent'), runB.runId)).rejects.toMatchObject({ code: 'forbidden' });

    // Operators and reviewers read both runs with their own users (the harness says: shared).
    await using olga = await connectAs('olga', 'operator');
    await using rita = await connectAs('rita', 'reviewer');
    for (const who of [olga, rita]) {
      expect(stdoutOf(await all(who.run(runA.runId).log({ follow: false })))).toBe('ada-one\nada-two\n');
      expect(stdoutOf(await all(who.run(runB.runId).log({ follow: false })))).toBe('bob-secret\n');
    }
    const bobLog = await all(rita.run(runB.runId).log({ follow: false }));
    const denied = bobLog.filter((e) => e.type === 'access.denied');
    expect(denied.length).toBeGreaterThanOrEqual(3);
    expect(denied.every((e) => e.type === 'access.denied' && e.subject === subjects.api.reader && e.actor?.principal === 'ada')).toBe(true);
    await using reviewerUser = await connectNats({ servers: withCredentials(plain(), dep.roles.reviewer), name: 'raw-reviewer', reconnect: false });
    expect((await askReader(reviewerUser, credential('rita', 'reviewer'), runB.runId)).answer).toEqual({ kind: 'shared' });
    await bob.close(runB.runId);
    expect(await containersOf(RUNNER)).toEqual([]);
  }, 180_000);

  it('each agent client talks as a NATS user of its own: the shared agent user may only ask for one; no agent hears another client\'s replies or reaches a snapshot store', async () => {
    // The deployment's agent user: no API verb but `api.session`, no inbox but `_INBOX_BOOT`.
    const boot = await connect({ servers: plain(), authenticator: jwtAuthenticator(dep.roles.agent.jwt, new TextEncoder().encode(dep.roles.agent.seed)), inboxPrefix: '_INBOX_BOOT', reconnect: false });
    try {
      await expect(boot.request(subjects.api.ps, encode({ v: PROTOCOL_VERSION, all: true }), { timeout: 3000 })).rejects.toThrow(/permission|timeout/i);
      expect(await heard(boot, '_INBOX.>')).toMatch(/permissions violation/i);
    } finally {
      await boot.close();
    }

    // Two agents' own users: each hears its own replies, neither the other's nor anyone's `_INBOX.`.
    await using ada = await rawSession('ada');
    await using bob = await rawSession('bob');
    expect(ada.inboxPrefix).not.toBe(bob.inboxPrefix);
    const overheard = ['>', '_INBOX.>', `${bob.inboxPrefix}.>`].map((subject) => heard(ada.nc, subject));
    const h = natsHeaders();
    h.set('Airlock-Credential', credential('bob', 'agent'));
    const reply = await bob.nc.request(subjects.api.ps, encode({ v: PROTOCOL_VERSION, all: true }), { timeout: 10_000, headers: h });
    expect(reply.subject.startsWith(`${bob.inboxPrefix}.`)).toBe(true);
    for (const what of await Promise.all(overheard)) expect(what).toMatch(/permissions violation/i);

    // The SDK connects an agent the same way: its connection may not subscribe `_INBOX.>` either.
    await using sdk = await connectAs('ada', 'agent');
    expect(await heard(sdk.nats.nc, '_INBOX.>')).toMatch(/permissions violation/i);

    // No JetStream read or write of the snapshot stores (another run's workspace) or the log.
    for (const stream of ['OBJ_airlock_manifests', 'OBJ_airlock_blobs']) {
      await expect(ada.jsm.streams.info(stream)).rejects.toThrow(/permission/i);
      await expect(ada.jsm.consumers.add(stream, { ack_policy: AckPolicy.None, name: 'snap-peek' })).rejects.toThrow(/permission/i);
      await expect(ada.jsm.streams.getMessage(stream, { seq: 1 })).rejects.toThrow(/permission/i);
    }
    await expect(ada.js.publish('$O.airlock_blobs.C.forged', 'x', { timeout: 3000 })).rejects.toThrow(/permission|timeout|no responders/i);
  }, 120_000);

  it('./airlock --as agent log RUN prints its own run; another agent\'s run is refused (exit 77)', async () => {
    const cli = agentCli('state');
    const opened = await cli(['--json', 'open']);
    expect(opened.code, opened.stderr).toBe(0);
    const runId = (JSON.parse(opened.stdout.trim().split('\n')[0]!) as { runId: string }).runId;
    const ran = await cli(['exec', runId, '--', 'echo from-the-cli']);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toBe('from-the-cli\n');
    const log = await cli(['log', runId]);
    expect(log.code, log.stderr).toBe(0);
    expect(log.stdout).toMatch(/from-the-cli/);

    await using bob = await connectAs('bob', 'agent');
    const other = await bob.open({});
    const refused = await cli(['log', other.runId]);
    expect(refused.code, refused.stdout + refused.stderr).toBe(77);
    expect(refused.stderr).toMatch(/forbidden|belongs to bob/);
    await bob.close(other.runId);
    expect((await cli(['close', runId])).code).toBe(0);
    expect(await containersOf(RUNNER)).toEqual([]);
  }, 180_000);

  it('an agent restores, exports and forks its own runs\' snapshots through the harness; another run\'s snapshot is refused every way', async () => {
    const cli = agentCli('state-snap');
    const opened = await cli(['--json', 'open']);
    expect(opened.code, opened.stderr).toBe(0);
    const mine = (JSON.parse(opened.stdout.trim().split('\n')[0]!) as { runId: string }).runId;
    // A file larger than one answer (512 KiB), so reads continue with a cursor, and a small one.
    expect((await cli(['exec', mine, '--', 'mkdir -p d && head -c 1500000 /dev/urandom > d/big.bin && echo agent-file > small.txt && sha256sum d/big.bin > sums'])).code).toBe(0);

    const to = join(dir, 'restored');
    const restored = await cli(['restore', mine, '--step', '1', '--to', to]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(readFileSync(join(to, 'small.txt'), 'utf8')).toBe('agent-file\n');
    const sum = createHash('sha256').update(readFileSync(join(to, 'd', 'big.bin'))).digest('hex');
    expect(readFileSync(join(to, 'sums'), 'utf8')).toContain(sum);
    const tar = join(dir, 'export.tar');
    const exported = await cli(['export', mine, '--step', '1', '-o', tar]);
    expect(exported.code, exported.stderr).toBe(0);
    const listing = spawnSync('tar', ['-tf', tar], { encoding: 'utf8' });
    expect(listing.stdout.split('\n')).toEqual(expect.arrayContaining(['small.txt', 'd/big.bin', 'sums']));
    const forked = await cli(['fork', mine, '--step', '1']);
    expect(forked.code, forked.stderr).toBe(0);
    const fork = forked.stdout.trim();
    const inFork = await cli(['exec', fork, '--', 'cat small.txt']);
    expect(inFork.stdout).toBe('agent-file\n');
    // Importing into the shared store is not an agent's: refused with a way forward.
    const imported = await cli(['import', tar]);
    expect(imported.code).toBe(77);
    expect(imported.stderr).toMatch(/may not import/);

    // Bob's run and its snapshot: refused to the CLI, the SDK and a forged open.
    await using bob = await connectAs('bob', 'agent');
    const other = await bob.open({});
    await other.exec('echo bob-private > secret.txt');
    const bobSnap = await other.snapshotAt(1);
    for (const verb of [['restore', other.runId, '--step', '1', '--to', join(dir, 'nope')], ['export', other.runId, '--step', '1', '-o', join(dir, 'nope.tar')], ['fork', other.runId, '--step', '1']]) {
      const refused = await cli(verb);
      expect(refused.code, `${verb[0]}: ${refused.stdout}${refused.stderr}`).toBe(77);
    }
    await using ada = await connectAs('ada-cli', 'agent');
    const drain = async (it: AsyncIterable<Uint8Array>) => {
      for await (const piece of it) void piece;
    };
    await expect(drain(ada.run(other.runId).readSnapshot(1, 'manifest'))).rejects.toMatchObject({ code: 'forbidden' });
    // The stack file's agent credential is principal `agent`: open as it, then point at bob's snapshot.
    await using asAgent = await Airlock.connect({ servers: withCredentials(plain(), dep.roles.agent), credential: dep.roles.agent.credential! });
    await expect(asAgent.open({ fromSnapshot: bobSnap.digest })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(asAgent.open({ fromSnapshot: bobSnap.digest, fromRun: mine })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(asAgent.open({ fromSnapshot: bobSnap.digest, fromRun: other.runId })).rejects.toMatchObject({ code: 'forbidden' });
    // Its own run's snapshot, but a file that snapshot does not list (bob's file's hash): refused.
    const bobFile = createHash('sha256').update('bob-private\n').digest('hex');
    await expect(drain(asAgent.run(mine).readSnapshot(1, bobFile))).rejects.toMatchObject({ code: 'bad_request' });
    await expect(drain(asAgent.run(mine).readSnapshot(1, 'manifest'))).resolves.toBeUndefined();

    await bob.close(other.runId);
    for (const r of [mine, fork]) expect((await cli(['close', r])).code).toBe(0);
    expect(await containersOf(RUNNER)).toEqual([]);
  }, 240_000);

  it('a reader user is renewed before it expires: steps and a follow longer than its lifetime go on', async () => {
    // Readers live 3 s here (an hour by default): the server disconnects a connection whose user expired.
    await harness.drain(2000);
    harness = await startHarness({ readerTtlMs: 3000 });
    await using ada = await connectAs('ada', 'agent');
    const run = await ada.open({});
    expect(await run.exec('echo c-0')).toMatchObject({ exitCode: 0 });
    const follow = all(ada.run(run.runId).log({ follow: true, signal: AbortSignal.timeout(120_000) })).catch((err: unknown) => err as Error);
    // Each step takes 2 s: four of them outlive the first reader user twice over.
    const t0 = Date.now();
    for (let i = 1; i <= 4; i++) expect(await run.exec(`sleep 2; echo c-${i}`)).toMatchObject({ exitCode: 0, stdout: `c-${i}\n` });
    expect(Date.now() - t0).toBeGreaterThan(7000);
    await run.close();
    const live = await follow;
    if (live instanceof Error) throw live;
    expect(stdoutOf(live)).toBe('c-0\nc-1\nc-2\nc-3\nc-4\n');
    await harness.drain(2000);
    harness = await startHarness();
  }, 120_000);
});
