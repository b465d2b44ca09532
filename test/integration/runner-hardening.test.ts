// Issue 11, point 5 (runner parts): the run_busy race, the runner's verdict event redacted, a
// malformed executor label refused, the Docker event stream resubscribed, and a workspace that could
// not be given back reported instead of lost.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError, PROTOCOL_VERSION, decode, encode, names, replySchema, subjects, StepResultSchema } from '@airlock/proto';
import { Kvm } from '@nats-io/kv';
import type { LogEvent, RunnerExecRequest } from '@airlock/proto';
import { readAudit } from '@airlock/ledger';
import { connectNats } from '@airlock/transport';
import { importPrivateKey, newJobClaims, signJob } from '@airlock/trust';
import type { DockerEvent } from '@airlock/runner';
import { TestDocker, TestStack, containersOf, runEvents } from '../fixtures.ts';

/** Ends the first Docker event stream at once (as an engine restart or a dropped socket would) and records what reaches the runner. */
class FlakyEvents extends TestDocker {
  streams = 0;
  readonly seen: DockerEvent[] = [];
  override async events(signal: AbortSignal, onEvent: (e: DockerEvent) => void, opts?: { since?: string }): Promise<void> {
    this.streams++;
    if (this.streams === 1) return;
    if (this.streams === 2) throw new Error('injected: the engine refused the events request');
    return super.events(signal, (e) => {
      this.seen.push(e);
      onEvent(e);
    }, opts);
  }
}

let docker: FlakyEvents;
let stack: TestStack;
const scratch = mkdtempSync(join(tmpdir(), 'airlock-hardening-'));
beforeAll(async () => {
  stack = await TestStack.start({
    docker: () => (docker = new FlakyEvents()),
    harness: { limits: { memoryBytes: 256 * 1024 * 1024, pids: 256, nanoCpus: 1_000_000_000, tmpfsBytes: 64 * 1024 * 1024 } },
  });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
  expect(await containersOf(stack.runnerId)).toEqual([]);
  rmSync(scratch, { recursive: true, force: true });
});

/** An exec request signed with the harness's key, straight to the runner (what the harness would send). */
function signed(runId: string, step: number, cmd: string, policyHash: string, secrets: Record<string, string> = {}): RunnerExecRequest {
  const key = importPrivateKey(readFileSync(stack.keyFile, 'utf8'));
  const token = signJob(newJobClaims({ runId, step, policyHash, cmd }), key);
  return { v: PROTOCOL_VERSION, runId, step, cmd, env: {}, timeoutMs: 10_000, policyHash, token, secrets };
}

describe('the runner', () => {
  it('gives a second concurrent request for one run a typed run_busy (over NATS)', async () => {
    const run = await stack.client.open({});
    const { policyHash } = (await stack.client.status()).harness;
    await using conn = await connectNats({ servers: stack.nats.url, name: 'two-at-once' });
    const send = (req: RunnerExecRequest) =>
      conn.nc.request(subjects.runnerExec(stack.runnerId), encode(req), { timeout: 20_000 }).then((m) => decode(replySchema(StepResultSchema), m.data));
    const replies = await Promise.all([send(signed(run.runId, 1, 'sleep 1; echo one', policyHash)), send(signed(run.runId, 2, 'echo two', policyHash))]);
    const ok = replies.filter((r) => r.ok);
    const busy = replies.filter((r) => !r.ok);
    expect(ok.length).toBe(1);
    expect(busy.map((r) => !r.ok && r.error.code)).toEqual(['run_busy']);
    const started = (await runEvents(stack.client, run.runId)).filter((e) => e.type === 'step.started');
    expect(started.length).toBe(1);
    await stack.client.close(run.runId);
  });

  it('gives run_busy to the second of two steps started in the same tick (no await between check and mark)', async () => {
    const run = await stack.client.open({});
    const { policyHash } = (await stack.client.status()).harness;
    // Both calls run up to their first await before either resumes: only marking the run busy before
    // that await (authorization used to come first) makes the second one see it.
    const both = await Promise.allSettled([
      stack.runner.execStep(signed(run.runId, 1, 'echo one', policyHash)),
      stack.runner.execStep(signed(run.runId, 2, 'echo two', policyHash)),
    ]);
    expect(both[0]!.status).toBe('fulfilled');
    expect(both[1]).toMatchObject({ status: 'rejected', reason: { code: 'run_busy' } });
    await stack.client.close(run.runId);
  });

  it('redacts the step\'s secrets from its own step.verdict event and the reviewers\' index', async () => {
    const run = await stack.client.open({});
    const { policyHash } = (await stack.client.status()).harness;
    const secret = 'hunter2-very-secret-value';
    const cmd = `echo ${secret} > x; rm -rf /`;
    const err = await stack.runner.execStep(signed(run.runId, 1, cmd, policyHash, { API_TOKEN: secret })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AirlockError);
    expect((err as AirlockError).code).toBe('validation_denied');
    expect((err as AirlockError).message).not.toContain(secret);
    const verdicts = (await runEvents(stack.client, run.runId)).filter((e): e is Extract<LogEvent, { type: 'step.verdict' }> => e.type === 'step.verdict');
    expect(verdicts.length).toBe(1);
    expect(verdicts[0]!.by).toMatch(/^runner:/);
    expect(verdicts[0]!.cmd).toContain('rm -rf /');
    expect(JSON.stringify(verdicts)).not.toContain(secret);
    await using conn = await connectNats({ servers: stack.nats.url, name: 'reviewer' });
    const indexed: unknown[] = [];
    for await (const v of readAudit(conn.js, conn.jsm, { runId: run.runId })) indexed.push(v);
    expect(indexed.length).toBe(1);
    expect(JSON.stringify(indexed)).toContain('rm -rf /');
    expect(JSON.stringify(indexed)).not.toContain(secret);
    await stack.client.close(run.runId);
  });

  it('refuses to open a run on an image whose airlock.executor label is malformed (no silent docker exec)', async () => {
    const ctx = join(scratch, 'bad-label');
    mkdirSync(ctx, { recursive: true });
    const tag = `airlock/sandbox:bad-executor-label-${process.pid}`;
    execFileSync('docker', ['build', '--quiet', '--label', 'airlock.executor=python3 /opt/airlock/executor.py', '-t', tag, '-'], {
      input: 'FROM airlock/sandbox:default\n',
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    });
    try {
      const { policyHash } = (await stack.client.status()).harness;
      const err = await stack.runner
        .openRun({ v: PROTOCOL_VERSION, runId: '01JBADLABE1000000000000000', image: tag, mountPath: '/workspace', env: {}, network: 'none', runtime: process.env.AIRLOCK_TEST_RUNTIME === 'runsc' ? 'runsc' : 'runc', limits: { memoryBytes: 256 * 1024 * 1024, pids: 64, nanoCpus: 500_000_000, tmpfsBytes: 16 * 1024 * 1024 }, policyHash })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AirlockError);
      expect((err as AirlockError).code).toBe('image_invalid');
      expect((err as AirlockError).message).toContain('airlock.executor');
      expect(stack.runner.runIds).not.toContain('01JBADLABE1000000000000000');
    } finally {
      execFileSync('docker', ['rmi', '-f', tag]);
    }
  });

  it('keeps receiving OOM and die events after the Docker event stream ended and failed', async () => {
    // The first stream ended and the second could not be opened: the runner subscribed again.
    await expect.poll(() => docker.streams, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    const c = stack.client;
    const run = await c.open({});
    const r = await run.exec('python3 -c "x = bytearray(1024 * 1024 * 1024)"');
    expect(r).toMatchObject({ oomKilled: true, exitCode: 137 });
    const [id] = (await docker.listManaged({ 'airlock.run-id': run.runId })).map((x) => x.id);
    execFileSync('docker', ['kill', id!]);
    await expect.poll(() => docker.seen.some((e) => e.action === 'die' && e.containerId === id), { timeout: 10_000 }).toBe(true);
    expect((await run.exec('echo alive')).exitCode).toBe(0);
    await c.close(run.runId);
  });

  it('reports a workspace it could not give back at close (reply and run.closed), and still closes the run', async () => {
    // A root-owned workspace is lent to the sandbox user and chowned back at close; a read-only
    // mount inside it makes the chown back fail.
    const ws = mkdtempSync(join(scratch, 'ws-'));
    const run = await stack.client.open({ workspace: ws });
    const ro = join(ws, 'ro');
    mkdirSync(ro);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro]);
    try {
      const closed = await stack.runner.closeRun({ v: PROTOCOL_VERSION, runId: run.runId, reason: 'test' });
      expect(closed).toMatchObject({ runId: run.runId, removed: true, workspaceReleased: false });
      expect(closed.releaseError).toContain(ws);
      const last = (await runEvents(stack.client, run.runId)).filter((e) => e.type === 'run.closed');
      expect(last).toMatchObject([{ type: 'run.closed', workspaceReleased: false }]);
      expect(stack.runner.runIds).not.toContain(run.runId);
    } finally {
      execFileSync('umount', [ro]);
    }
    await stack.client.close(run.runId).catch(() => undefined);
  });

  it('labels its sandboxes with the deployment id the harness recorded (not a stream timestamp)', async () => {
    await using conn = await connectNats({ servers: stack.nats.url, name: 'deployment' });
    const recorded = (await (await new Kvm(conn.nc).open(names.policiesBucket)).get(names.deploymentKey))?.string();
    expect(recorded).toMatch(/^[0-9a-f]{16}$/);
    const run = await stack.client.open({});
    const [sandbox] = await docker.listManaged({ 'airlock.run-id': run.runId });
    expect(sandbox?.labels['airlock.deployment']).toBe(recorded);
    await stack.client.close(run.runId);
  });
});
