// docker-compose.yml brings up the cluster: 3 NATS nodes with R3 streams, the harness and two
// runners from the locally built images; a run works through it, survives the loss of the runner
// container holding it, and nothing is left after `down`. Needs `make compose-build` (make test does it).
// As with `./airlock up`, the harness requires a role credential (AIRLOCK_AUTH=required): clients use
// the role files the `credentials` service signed with the harness key (credentials/roles/<role>.json).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Airlock } from '@airlock/client';
import { connectNats } from '@airlock/transport';
import { connect, jwtAuthenticator } from '@nats-io/transport-node';
import { readRoleFile, withCredentials } from '@airlock/harness';
import { ROLES, encode, names, subjects } from '@airlock/proto';
import type { Role } from '@airlock/proto';
import { containersOf, freePort, runCli, runEvents, waitUntil } from '../fixtures.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const project = `airlock-compose-test-${process.pid}`;
let env: NodeJS.ProcessEnv;
let data: string;
let url: string;
let client: Airlock | undefined;
let runnerIds: string[] = [];
let anonymous: string;
/** The first NATS node, without credentials (each client adds its own login). */
let node1: string;

const roleFile = (role: Role) => join(data, 'credentials', 'roles', `${role}.json`);

/** A client as `role`, from its role file: the role's NATS user and its harness-signed credential. */
async function connectAs(role: Role): Promise<Airlock> {
  const rc = readRoleFile(roleFile(role));
  return Airlock.connect({ servers: withCredentials(node1, rc), credential: rc.credential });
}

function compose(...args: string[]): string {
  return execFileSync('docker-compose', ['-p', project, '-f', join(ROOT, 'docker-compose.yml'), ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
}

beforeAll(async () => {
  try {
    execFileSync('docker-compose', ['version'], { stdio: 'ignore' });
    // docker-compose.yml runs AIRLOCK_SERVICES_IMAGE when set (a build of another checkout), else airlock/services:local.
    execFileSync('docker', ['image', 'inspect', process.env.AIRLOCK_SERVICES_IMAGE ?? 'airlock/services:local'], { stdio: 'ignore' });
  } catch {
    throw new Error('docker-compose or the image airlock/services:local is missing: run `make compose-build` (make test does)');
  }
  data = mkdtempSync(join(tmpdir(), 'airlock-compose-'));
  const ports = [];
  for (let i = 0; i < 6; i++) ports.push(await freePort());
  env = {
    ...process.env,
    AIRLOCK_NATS1_PORT: String(ports[0]),
    AIRLOCK_NATS2_PORT: String(ports[1]),
    AIRLOCK_NATS3_PORT: String(ports[2]),
    AIRLOCK_ROUTE1_PORT: String(ports[3]),
    AIRLOCK_ROUTE2_PORT: String(ports[4]),
    AIRLOCK_ROUTE3_PORT: String(ports[5]),
    AIRLOCK_DATA: data,
  };
  compose('up', '-d', '--scale', 'runner=2');
  // The `credentials` service made this deployment's users and, signed with the harness key, one role
  // file per role; the tests act as the operator unless they say otherwise. `url` is the legacy client
  // user (operator NATS permissions, no credential of its own).
  const loginFile = join(data, 'credentials', 'client', 'nats.login');
  await waitUntil('the deployment credentials', () => existsSync(loginFile) && ROLES.every((r) => existsSync(roleFile(r))), 60_000);
  url = `nats://${readFileSync(loginFile, 'utf8').trim()}@127.0.0.1:${ports[0]}`;
  anonymous = `nats://127.0.0.1:${ports[0]}`;
  node1 = anonymous;
  // The cluster elects a JetStream leader, then the harness creates R3 streams, then runners heartbeat.
  await waitUntil(
    'the harness and two runners of the compose cluster',
    async () => {
      try {
        client ??= await connectAs('operator');
        const st = await client.status({ timeoutMs: 2000 });
        runnerIds = st.runners.map((r) => r.runnerId);
        return runnerIds.length === 2;
      } catch {
        return false;
      }
    },
    120_000,
  );
}, 240_000);

afterAll(async () => {
  await client?.[Symbol.asyncDispose]();
  try {
    compose('down', '-v', '--timeout', '5');
  } finally {
    if (data) rmSync(data, { recursive: true, force: true });
  }
  for (const id of runnerIds) expect(await containersOf(id)).toEqual([]);
}, 120_000);

describe('docker-compose cluster', () => {
  it('requires role credentials: agents run steps, operators control runs, an agent is refused operator verbs and a caller without a credential is refused', async () => {
    // The signing key and every role file are the owner's only.
    expect(statSync(join(data, 'harness', 'key.pem')).mode & 0o777).toBe(0o600);
    for (const role of ROLES) {
      expect(statSync(roleFile(role)).mode & 0o777).toBe(0o600);
      expect(readRoleFile(roleFile(role))).toMatchObject({ role, principal: role, user: role, jwt: expect.any(String), seed: expect.stringMatching(/^SU/), credential: expect.any(String) });
    }
    await using agent = await connectAs('agent');
    const run = await agent.open({});
    const out: string[] = [];
    expect(await run.exec('echo as-agent', { onOutput: (_, d) => out.push(d.toString()) })).toMatchObject({ exitCode: 0 });
    expect(out.join('')).toBe('as-agent\n');

    // The agent's NATS user may not even publish an operator verb (it may only ask for a session)...
    const agentRc = readRoleFile(roleFile('agent'));
    const agentNats = await connect({ servers: node1, authenticator: jwtAuthenticator(agentRc.jwt, new TextEncoder().encode(agentRc.seed)), inboxPrefix: '_INBOX_BOOT', reconnect: false });
    try {
      await expect(agentNats.request(subjects.api.control, encode({}), { timeout: 5000 })).rejects.toThrow(/permission|timeout/i);
    } finally {
      await agentNats.close();
    }
    // ...and the harness refuses the agent credential on one (sent over a NATS user that may publish
    // there), and audits it in the run's log.
    await using agentOverOperatorUser = await Airlock.connect({ servers: url, credential: agentRc.credential });
    await expect(agentOverOperatorUser.pause(run.runId, { reason: 'not mine to pause' })).rejects.toMatchObject({ code: 'forbidden' });

    // The operator pauses and resumes the agent's run.
    await using operator = await connectAs('operator');
    expect((await operator.pause(run.runId, { reason: 'checking' })).state).toBe('paused');
    expect((await operator.resume(run.runId, { reason: 'fine' })).state).toBe('running');
    const events = await runEvents(operator, run.runId);
    const denied = events.filter((e) => e.type === 'access.denied');
    expect(denied).toHaveLength(1);
    expect(denied[0]).toMatchObject({ subject: subjects.api.control, actor: { principal: 'agent', role: 'agent' } });
    expect(events.filter((e) => e.type === 'run.control').map((e) => (e as { verb?: string }).verb)).toEqual(['pause', 'resume']);

    // No credential: refused (`forbidden`), over the legacy client user as over a role's NATS user.
    await using bare = await Airlock.connect({ servers: url });
    await expect(bare.status({ timeoutMs: 5000 })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(bare.open({})).rejects.toMatchObject({ code: 'forbidden' });

    // The README's host commands: the CLI with a role file's login and credential in the environment.
    const op = readRoleFile(roleFile('operator'));
    const cli = await runCli(['status', '--json'], { env: { AIRLOCK_HOME: data, AIRLOCK_NATS_URL: withCredentials(node1, op), AIRLOCK_CREDENTIAL: op.credential } });
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout.trim().split('\n').at(-1)!).runners).toHaveLength(2);
    const cliBare = await runCli(['status'], { env: { AIRLOCK_HOME: data, AIRLOCK_NATS_URL: withCredentials(node1, op) } });
    expect(cliBare.code).not.toBe(0);
    expect(cliBare.stderr).toMatch(/forbidden|no credential/);
    await agent.close(run.runId);
  }, 180_000);

  it('replicates streams 3 ways, runs steps, and moves a run when its runner container dies', async () => {
    const c = client!;
    await using nc = await connectNats({ servers: url, name: 'compose-test' });
    expect((await nc.jsm.streams.info(names.logStream)).config.num_replicas).toBe(3);
    // Nobody gets in without credentials; each runner runs as one of the generated identities, its own.
    await expect(connectNats({ servers: anonymous, name: 'anonymous', reconnect: false })).rejects.toThrow(/authorization/i);
    const identities = readdirSync(join(data, 'credentials', 'runners')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
    expect(new Set(runnerIds).size).toBe(2);
    for (const id of runnerIds) expect(identities).toContain(id);

    const run = await c.open({});
    const out: string[] = [];
    expect(await run.exec('echo kept > f; cat f', { onOutput: (_, d) => out.push(d.toString()) })).toMatchObject({ exitCode: 0 });
    expect(out.join('')).toBe('kept\n');

    // Kill the runner container that holds the run; the other runner takes it from its last snapshot.
    const holder = run.record!.runnerId;
    const other = runnerIds.find((id) => id !== holder)!;
    const containers = compose('ps', '-q', 'runner').trim().split('\n').filter(Boolean);
    const logsOf = (cid: string) => {
      const r = spawnSync('docker', ['logs', cid], { encoding: 'utf8' });
      return `${r.stdout}${r.stderr}`;
    };
    const victim = containers.find((cid) => logsOf(cid).includes(`"runnerId":"${holder}"`));
    expect(victim, `no runner container logs runner id ${holder}`).toBeDefined();
    execFileSync('docker', ['kill', victim!], { stdio: 'ignore' });
    await waitUntil('the run to move to the other runner', async () => (await c.ps()).runs.find((r) => r.runId === run.runId)?.runnerId === other, 60_000);
    const after: string[] = [];
    expect(await run.exec('cat f', { onOutput: (_, d) => after.push(d.toString()) })).toMatchObject({ exitCode: 0, step: 2 });
    expect(after.join('')).toBe('kept\n');
    await c.close(run.runId);
    // The killed runner's sandbox is swept by the survivor (its run is held elsewhere, then closed):
    // sweeps run every 15 s and leave sandboxes younger than a minute alone.
    await waitUntil('the dead runner\'s sandbox to be swept', async () => (await containersOf(holder)).length === 0, 120_000);
  }, 240_000);
});
