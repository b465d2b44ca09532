// The SDK on a deployment with a NATS user per role: the client user may hear the harness's
// heartbeats (or every wait longer than `harnessLostMs` would fail with harness_lost), and may not
// publish them (or it could keep a dead harness's callers waiting).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, jwtAuthenticator } from '@nats-io/transport-node';
import { Airlock } from '@airlock/client';
import { HarnessHeartbeatSchema, decode, subjects } from '@airlock/proto';
import { connectNats } from '@airlock/transport';
import { HarnessConfigSchema, HarnessService, ensureDeployment, withCredentials, type Deployment } from '@airlock/harness';
import { freePort, silent, waitUntil } from '../fixtures.ts';

let port = 0;
let server: ChildProcess;
let dir: string;
let dep: Deployment;
const url = (role: 'harness' | 'client') => withCredentials(`nats://127.0.0.1:${port}`, dep[role]);

beforeAll(async () => {
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'airlock-sdk-auth-'));
  dep = await ensureDeployment(join(dir, 'creds'), [`sdk-auth-${process.pid}`]);
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

describe('the SDK with per-role NATS users', () => {
  it('hears the harness heartbeat as the client user, cannot forge one, and a long wait lives on it', async () => {
    const hc = await connectNats({ servers: url('harness'), name: 'sdk-auth-harness' });
    // No runner: an open waits the harness's openTimeoutMs, far longer than the client's harnessLostMs.
    const harness = await HarnessService.start(HarnessConfigSchema.parse({ natsUrl: url('harness'), keyFile: join(dir, 'key.pem'), secretsDir: join(dir, 'secrets'), runnersFile: dep.runnersFile, openTimeoutMs: 4000 }), hc, silent);
    try {
      await using airlock = await Airlock.connect({ servers: url('client'), harnessLostMs: 1500 });
      const t0 = Date.now();
      await expect(airlock.open()).rejects.toMatchObject({ code: 'no_runner' });
      expect(Date.now() - t0).toBeGreaterThan(3000);

      // As the client user: a heartbeat arrives, and publishing one is refused by the server.
      const nc = await connect({ servers: `nats://127.0.0.1:${port}`, authenticator: jwtAuthenticator(dep.client.jwt, new TextEncoder().encode(dep.client.seed)) });
      const errors: string[] = [];
      void (async () => {
        for await (const s of nc.status()) if (s.type === 'error' || 'error' in s) errors.push(String((s as { error?: unknown }).error ?? JSON.stringify(s)));
      })().catch(() => undefined);
      const heard = new Promise<unknown>((resolve) => nc.subscribe(subjects.harnessHeartbeat, { max: 1, callback: (_e, m) => resolve(decode(HarnessHeartbeatSchema, m.data)) }));
      expect(await heard).toMatchObject({ v: 1, intervalMs: 1000 });
      nc.publish(subjects.harnessHeartbeat, new TextEncoder().encode('{}'));
      await nc.flush();
      await waitUntil('the permission error', () => errors.some((e) => /permission/i.test(e)), 5000);
      await nc.close();
    } finally {
      await harness.drain(2000);
      await hc.drain();
    }
  });
});
