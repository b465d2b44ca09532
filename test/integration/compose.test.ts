// docker-compose.yml brings up the cluster: 3 NATS nodes with R3 streams, the harness and two
// runners from the locally built images; a run works through it, survives the loss of the runner
// container holding it, and nothing is left after `down`. Needs `make compose-build` (make test does it).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Airlock } from '@airlock/client';
import { connectNats } from '@airlock/transport';
import { names } from '@airlock/proto';
import { containersOf, freePort, waitUntil } from '../fixtures.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const project = `airlock-compose-test-${process.pid}`;
let env: NodeJS.ProcessEnv;
let data: string;
let url: string;
let client: Airlock | undefined;
let runnerIds: string[] = [];
let anonymous: string;

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
  // The `credentials` service made this deployment's users; the CLI/SDK connects as `client` (its
  // operator-mode login, `JWT:SEED`, written where a URL has user:password).
  const loginFile = join(data, 'credentials', 'client', 'nats.login');
  await waitUntil('the deployment credentials', () => existsSync(loginFile), 60_000);
  url = `nats://${readFileSync(loginFile, 'utf8').trim()}@127.0.0.1:${ports[0]}`;
  anonymous = `nats://127.0.0.1:${ports[0]}`;
  // The cluster elects a JetStream leader, then the harness creates R3 streams, then runners heartbeat.
  await waitUntil(
    'the harness and two runners of the compose cluster',
    async () => {
      try {
        client ??= await Airlock.connect({ servers: url });
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
