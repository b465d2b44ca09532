// Separate NATS users per role: with deploy/nats-auth.conf a runner's credentials cannot publish the
// harness API, policies or run records, nor listen to the API; the whole stack still works with them.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { connectNats, splitCredentials, type NatsHandles } from '@airlock/transport';
import { DockerodeClient, RunnerService } from '@airlock/runner';
import { AirlockClient, HarnessConfigSchema, HarnessService } from '@airlock/harness';
import { containersOf, freePort, silent, waitUntil } from '../fixtures.ts';
import { createConnection } from 'node:net';

const CONF = resolve(import.meta.dirname, '..', '..', 'deploy', 'nats-auth.conf');
const pw = { harness: 'h-' + Math.random().toString(36).slice(2), runner: 'r-' + Math.random().toString(36).slice(2), client: 'c-' + Math.random().toString(36).slice(2) };
let port = 0;
let server: ChildProcess;
let dir: string;
const url = (user: keyof typeof pw) => `nats://${user}:${pw[user]}@127.0.0.1:${port}`;
const runnerId = `auth-${process.pid}`;

beforeAll(async () => {
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'airlock-auth-'));
  server = spawn('nats-server', ['-c', CONF, '-js', '-sd', join(dir, 'js'), '-a', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
    env: { PATH: process.env.PATH, AIRLOCK_NATS_HARNESS_PASSWORD: pw.harness, AIRLOCK_NATS_RUNNER_PASSWORD: pw.runner, AIRLOCK_NATS_CLIENT_PASSWORD: pw.client },
  });
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

/** Resolves with the permissions error the server sends for a forbidden publish or subscribe. */
async function refused(user: keyof typeof pw, act: (nc: Awaited<ReturnType<typeof connect>>) => void): Promise<string> {
  const nc = await connect(splitCredentials(url(user)));
  const errors: string[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'error' || s.type === 'ldm' || 'error' in s) errors.push(String((s as { error?: unknown }).error ?? JSON.stringify(s)));
  })();
  act(nc);
  await nc.flush().catch((e: unknown) => errors.push(String(e)));
  await new Promise((r) => setTimeout(r, 300));
  await nc.close();
  return errors.join(' | ');
}

describe('NATS users by role', () => {
  it('a runner credential is refused the harness API, policies, run records and approvals', async () => {
    expect(await refused('runner', (nc) => nc.publish('airlock.v1.api.exec', new Uint8Array(2)))).toMatch(/permissions violation/i);
    expect(await refused('runner', (nc) => nc.publish('$KV.airlock_policies.x', new Uint8Array(2)))).toMatch(/permissions violation/i);
    expect(await refused('runner', (nc) => nc.publish('$KV.airlock_runs.x', new Uint8Array(2)))).toMatch(/permissions violation/i);
    expect(await refused('runner', (nc) => nc.publish('airlock.v1.approvals.x', new Uint8Array(2)))).toMatch(/permissions violation/i);
    expect(await refused('runner', (nc) => nc.subscribe('airlock.v1.api.>'))).toMatch(/permissions violation/i);
    // What a runner must do is allowed.
    expect(await refused('runner', (nc) => nc.publish('airlock.v1.heartbeat', new Uint8Array(2)))).toBe('');
    // A client cannot pose as a runner.
    expect(await refused('client', (nc) => nc.subscribe('airlock.v1.runner.>'))).toMatch(/permissions violation/i);
    await expect(connect(splitCredentials(`nats://runner:wrong@127.0.0.1:${port}`))).rejects.toThrow(/authorization/i);
  });

  it('the stack runs a step with each role on its own credentials', async () => {
    const hc: NatsHandles = await connectNats({ servers: url('harness'), name: 'auth-harness' });
    const rc: NatsHandles = await connectNats({ servers: url('runner'), name: 'auth-runner' });
    const harness = await HarnessService.start(HarnessConfigSchema.parse({ natsUrl: url('harness'), keyFile: join(dir, 'key.pem'), secretsDir: join(dir, 'secrets') }), hc, silent);
    const runner = await RunnerService.start(
      { natsUrl: url('runner'), runnerId, slots: 2, stateDir: join(dir, 'runner'), dockerSocket: '/var/run/docker.sock', maxOutputBytes: 1 << 30, heartbeatMs: 500, replicas: 1, harnessKey: join(dir, 'key.pem.pub'), executor: 'auto', logLevel: 'silent' },
      rc,
      new DockerodeClient(),
      silent,
    );
    try {
      await using client = await AirlockClient.connect({ natsUrl: url('client') });
      const run = await client.open({});
      const out: Buffer[] = [];
      const r = await client.exec(run.runId, 'echo authorised', { onOutput: (_, d) => out.push(d) });
      expect(r.exitCode).toBe(0);
      expect(Buffer.concat(out).toString()).toBe('authorised\n');
      expect((await client.snapshots(run.runId)).length).toBe(2);
      await client.close(run.runId);
    } finally {
      await runner.drain(2000);
      await harness.drain(2000);
      await rc.drain();
      await hc.drain();
    }
    expect(await containersOf(runnerId)).toEqual([]);
  });
});
