// The sandbox settings a policy asks for are the ones it gets: `runtime: runsc` runs the run under
// gVisor (and a runner without it refuses the run instead of using runc), and `workspace` is where the
// workspace appears. Real harness, runner, NATS and dockerd (with gVisor registered by `make setup`).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultPolicy } from '@airlock/validate';
import { AirlockError } from '@airlock/proto';
import { TestDocker, TestStack, containersOf, runEvents, useStack } from '../fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'airlock-runtime-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A policy file: the shipped default with `changes`. */
async function policyFile(name: string, changes: Record<string, unknown>): Promise<string> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ ...(await defaultPolicy()), ...changes }));
  return file;
}

function collect() {
  let out = '';
  return { onOutput: (_: 'stdout' | 'stderr', d: Buffer) => (out += d.toString()), text: () => out };
}

/** A runner whose engine has no runtime by the name gVisor's is asked for: a runner without gVisor. */
class DockerWithoutRunsc extends TestDocker {
  override startSandbox(spec: Parameters<TestDocker['startSandbox']>[0]): Promise<string> {
    return super.startSandbox(spec.runtime === 'runsc' ? { ...spec, runtime: 'airlock-no-such-runtime' as typeof spec.runtime } : spec);
  }
}

describe('runtime: runsc', () => {
  const stack = useStack(async () => ({ harness: { policyFile: await policyFile('runsc', { runtime: 'runsc' }) }, policyRuntime: true }));

  it('runs the run under gVisor, says so in run.opened, and the engine confirms it', async () => {
    const c = stack.client;
    const run = await c.open({});
    try {
      const io = collect();
      const result = await run.exec('dmesg | head -n 2; cat /proc/version; python3 -c "import os; print(\'pidfd\', hasattr(os, \'pidfd_open\'))"', { onOutput: io.onOutput });
      expect(result.exitCode).toBe(0);
      expect(io.text()).toMatch(/Starting gVisor/);
      const opened = (await runEvents(c, run.runId)).find((e) => e.type === 'run.opened');
      expect(opened).toMatchObject({ type: 'run.opened', runtime: 'runsc' });
      const [id] = await containersOf(stack.runnerId);
      expect(execFileSync('docker', ['inspect', '-f', '{{.HostConfig.Runtime}}', id!], { encoding: 'utf8' }).trim()).toBe('runsc');
    } finally {
      await c.close(run.runId);
    }
  });

  it('opens sandboxes back to back under gVisor, each executor reached on the first try of its open', async () => {
    // gVisor widens the window between an executor's socket appearing and it listening; every open
    // of a burst must still connect (a refused connection once failed one open in 24).
    const c = stack.client;
    for (let i = 0; i < 6; i++) {
      const run = await c.open({});
      try {
        expect((await run.exec('true')).exitCode).toBe(0);
      } finally {
        await c.close(run.runId);
      }
    }
  });

  it('refuses an open request whose runtime is not the pinned policy\'s (runc asked, runsc pinned)', async () => {
    const policyHash = (await stack.client.status()).harness.policyHash;
    const req = { v: 1, runId: '01ARZ3NDEKTSV4RRFFQ69G5FB1', image: 'airlock/sandbox:default', mountPath: '/workspace', env: {}, limits: { memoryBytes: 256 << 20, pids: 64, nanoCpus: 1e9, tmpfsBytes: 16 << 20 }, runtime: 'runc', network: 'none', policyHash } as const;
    await expect(stack.runner.openRun(req)).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/runtime runc .* says runsc/) });
    expect(await containersOf(stack.runnerId)).toEqual([]);
  });
});

describe('a runner whose engine lacks the runtime', () => {
  it('refuses the run with runtime_unavailable naming it, starts no sandbox and leaves no workspace', async () => {
    const file = await policyFile('runsc-missing', { runtime: 'runsc' });
    await using stack = await TestStack.start({ harness: { policyFile: file }, policyRuntime: true, docker: () => new DockerWithoutRunsc() });
    const err = await stack.client.open({}).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AirlockError);
    expect(err).toMatchObject({ code: 'runtime_unavailable', retryable: false });
    expect((err as Error).message).toMatch(/sandbox runtime "airlock-no-such-runtime".*does not have \(it has .*runc/);
    expect(await containersOf(stack.runnerId)).toEqual([]);
    expect((await stack.client.ps({ all: true })).runs).toEqual([]);
    expect(readdirSync(join(stack.stateDir, 'runner', 'workspaces'), { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
  });
});

describe('workspace', () => {
  const stack = useStack(async () => ({ harness: { policyFile: await policyFile('src', { workspace: '/src' }) } }));

  it('is where the policy puts it when the open request names no mount path', async () => {
    const c = stack.client;
    const run = await c.open({});
    try {
      expect(run.record!.mountPath).toBe('/src');
      const io = collect();
      expect((await run.exec('pwd; touch made-here && ls /src', { onOutput: io.onOutput })).exitCode).toBe(0);
      expect(io.text()).toBe('/src\nmade-here\n');
    } finally {
      await c.close(run.runId);
    }
  });
});
