// Sandboxes die, time out, run out of memory; messages arrive malformed. The services keep serving.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, names, subjects, decode, replySchema, RunnerOpenResultSchema } from '@airlock/proto';
import type { LogEvent } from '@airlock/proto';
import { readRunLog } from '@airlock/ledger';
import { connectNats } from '@airlock/transport';
import { DockerodeClient, RunnerService } from '@airlock/runner';
import { TestDocker, TestStack, containersOf, silent, testRuntime, testSession, waitUntil } from '../fixtures.ts';
import { z } from 'zod';

let stack: TestStack;
beforeAll(async () => {
  // Small memory so the OOM case is quick.
  stack = await TestStack.start({ harness: { limits: { memoryBytes: 256 * 1024 * 1024, pids: 256, nanoCpus: 1_000_000_000, tmpfsBytes: 64 * 1024 * 1024 } } });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
  expect(await containersOf(stack.runnerId)).toEqual([]);
});

const sandboxOf = async (runId: string) => {
  const list = await new DockerodeClient().listManaged({ 'airlock.run-id': runId });
  return list.map((c) => c.id);
};

describe('sandbox death is a step result', () => {
  it('a sandbox killed mid-step yields sandboxDied; the next step gets a fresh sandbox on the same workspace', async () => {
    const c = stack.client;
    const run = await c.open({});
    await run.exec('echo survived > state.txt');
    const [first] = await sandboxOf(run.runId);
    const pending = run.exec('echo started; sleep 60');
    await waitUntil('the step to start', async () => {
      for await (const e of run.log({ follow: false })) if (e.type === 'step.output' && e.step === 2) return true;
      return false;
    });
    execFileSync('docker', ['kill', first!]);
    const died = await pending;
    expect(died).toMatchObject({ step: 2, sandboxDied: true, exitCode: null, signal: 'SIGKILL' });
    expect(died.durationMs).toBeLessThan(30_000);

    const out: string[] = [];
    const next = await run.exec('cat state.txt', { onOutput: (_, d) => out.push(d.toString()) });
    expect(next).toMatchObject({ step: 3, exitCode: 0, sandboxDied: false });
    expect(out.join('')).toBe('survived\n');
    const [second] = await sandboxOf(run.runId);
    expect(second).not.toBe(first);

    const types: string[] = [];
    for await (const e of run.log({ follow: false })) types.push(e.type);
    expect(types).toContain('sandbox.died');
    expect(types).toContain('sandbox.started');
    await c.close(run.runId);
  });

  it('a sandbox killed between steps is replaced before the next step runs', async () => {
    const c = stack.client;
    const run = await c.open({});
    await run.exec('echo x > f');
    execFileSync('docker', ['kill', (await sandboxOf(run.runId))[0]!]);
    const r = await run.exec('cat f');
    expect(r).toMatchObject({ exitCode: 0, sandboxDied: false });
    await c.close(run.runId);
  });

  it('kills a step at its timeout and keeps the sandbox for the next step', async () => {
    const c = stack.client;
    const run = await c.open({});
    const t0 = Date.now();
    const r = await run.exec('sleep 30 & sleep 30; echo never', { timeoutMs: 1000 });
    expect(r).toMatchObject({ timedOut: true, exitCode: 124, sandboxDied: false });
    expect(Date.now() - t0).toBeLessThan(15_000);
    // The whole process group went, background children too.
    const out: string[] = [];
    await run.exec('ps -eo args | grep -c "^sleep 30$" || true', { onOutput: (_, d) => out.push(d.toString()) });
    expect(out.join('').trim()).toBe('0');
    await c.close(run.runId);
  });

  it('flags a command killed for memory as oomKilled', async () => {
    const c = stack.client;
    const run = await c.open({});
    const r = await run.exec('python3 -c "x = bytearray(1024 * 1024 * 1024)"');
    expect(r).toMatchObject({ oomKilled: true, exitCode: 137 });
    expect((await run.exec('echo alive')).exitCode).toBe(0);
    await c.close(run.runId);
  });
});

describe('malformed messages', () => {
  it('get typed error replies and an audit event, and the services keep serving', async () => {
    await using conn = await connectNats({ servers: stack.nats.url, name: 'hostile' });
    const ask = async (subject: string, body: Uint8Array) => {
      const m = await conn.nc.request(subject, body, { timeout: 5000 });
      return decode(replySchema(z.unknown()), m.data);
    };
    const cases: Array<[string, Uint8Array]> = [
      [subjects.api.exec, new TextEncoder().encode('not json')],
      [subjects.api.open, encode({ v: 1, workspace: 'relative/path' })],
      [subjects.api.exec, encode({ v: 99, runId: 'x', cmd: 'true' })],
      [subjects.runnerOpen, encode({ v: 1, runId: '../../etc', image: 'x' })],
      [subjects.runnerExec(stack.runnerId), new Uint8Array([0xff, 0xfe, 0x00])],
      [subjects.runnerClose(stack.runnerId), encode([])],
    ];
    for (const [subject, body] of cases) {
      const reply = await ask(subject, body);
      expect(reply.ok).toBe(false);
      if (!reply.ok) {
        expect(reply.error.code).toBe('bad_request');
        expect(reply.error.retryable).toBe(false);
      }
    }
    // An unknown run is a typed error too.
    const unknown = await ask(subjects.api.exec, encode({ v: 1, runId: '01ARZ3NDEKTSV4RRFFQ69G5FAV', cmd: 'true' }));
    expect(unknown.ok === false && unknown.error.code).toBe('unknown_run');

    const audit: LogEvent[] = [];
    for await (const e of readRunLog(conn.js, conn.jsm, 'system')) audit.push(e);
    const rejected = audit.filter((e) => e.type === 'message.rejected');
    expect(rejected.length).toBeGreaterThanOrEqual(cases.length);
    expect(new Set(rejected.map((e) => (e.type === 'message.rejected' ? e.subject : '')))).toEqual(new Set(cases.map(([s]) => s)));

    const run = await stack.client.open({});
    expect((await run.exec('echo still serving')).exitCode).toBe(0);
    await stack.client.close(run.runId);
  });
});

describe('runner lifecycle', () => {
  it('refuses runs beyond its slots with a typed, retryable error', async () => {
    const conn = await connectNats({ servers: stack.nats.url, name: 'slots' });
    const cfg = { ...stack.runnerConfig(1), runnerId: `${stack.runnerId}-one` };
    const one = await RunnerService.start(cfg, conn, new TestDocker(), silent);
    try {
      const policyHash = (await stack.client.status()).harness.policyHash;
      const base = { v: 1, image: 'airlock/sandbox:default', mountPath: '/workspace', env: {}, limits: { memoryBytes: 256 << 20, pids: 64, nanoCpus: 1e9, tmpfsBytes: 16 << 20 }, runtime: testRuntime(), network: 'none', policyHash } as const;
      const first = await one.openRun({ ...base, runId: '01ARZ3NDEKTSV4RRFFQ69G5FA1' });
      expect(first.runnerId).toBe(cfg.runnerId);
      await expect(one.openRun({ ...base, runId: '01ARZ3NDEKTSV4RRFFQ69G5FA2' })).rejects.toMatchObject({ code: 'capacity_exhausted', retryable: true });
      await one.closeRun({ v: 1, runId: first.runId, reason: 'test' });
    } finally {
      await one.drain(1000);
      await conn.drain();
    }
    expect(await containersOf(cfg.runnerId)).toEqual([]);
  });

  it('reaps sandboxes labelled as its own that no run owns when it starts', async () => {
    const orphanRunner = `${stack.runnerId}-reap`;
    const id = execFileSync('docker', ['run', '-d', '--init', '--network', 'none', '-l', 'airlock.managed=1', '-l', `airlock.test=${testSession()}`, '-l', `airlock.runner-id=${orphanRunner}`, '-l', 'airlock.run-id=01ARZ3NDEKTSV4RRFFQ69G5FA3', 'airlock/sandbox:default', 'sleep', 'infinity'], { encoding: 'utf8' }).trim();
    expect(await containersOf(orphanRunner)).toEqual([id]);
    const conn = await connectNats({ servers: stack.nats.url, name: 'reaper' });
    const svc = await RunnerService.start({ ...stack.runnerConfig(1), runnerId: orphanRunner }, conn, new TestDocker(), silent);
    await svc.drain(1000);
    await conn.drain();
    expect(await containersOf(orphanRunner)).toEqual([]);
  });

  it('an open request with no runner connected fails with no_runner, not a hang', async () => {
    const conn = await connectNats({ servers: stack.nats.url, name: 'probe' });
    await stack.runner.drain(2000);
    try {
      await expect(stack.client.open({})).rejects.toMatchObject({ code: 'no_runner' });
    } finally {
      await stack.startRunner(4);
      await conn.drain();
    }
    const run = await stack.client.open({});
    await stack.client.close(run.runId);
  });
});

// Silence "unused" for names kept for readability of the cases above.
void names;
void RunnerOpenResultSchema;
