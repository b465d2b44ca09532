import { describe, expect, it } from 'vitest';
import { DockerodeClient, sandboxCreateOptions, type SandboxSpec } from './client.ts';

const spec: SandboxSpec = {
  name: 'airlock-x',
  image: 'airlock/sandbox:default',
  user: '1000:1000',
  workspace: '/tmp/ws',
  mountPath: '/workspace',
  env: {},
  limits: { memoryBytes: 1 << 28, pids: 100, nanoCpus: 1e9, tmpfsBytes: 1 << 24 },
  runtime: 'runc',
  labels: {},
};

describe('sandbox create options', () => {
  it('always names the runtime, so an engine whose default is another never decides it', () => {
    expect(sandboxCreateOptions(spec).HostConfig?.Runtime).toBe('runc');
    expect(sandboxCreateOptions({ ...spec, runtime: 'runsc' }).HostConfig?.Runtime).toBe('runsc');
  });

  it('under runc the pids cgroup is the process limit; under gVisor RLIMIT_NPROC is, with a larger host backstop', () => {
    const runc = sandboxCreateOptions(spec).HostConfig!;
    expect(runc.PidsLimit).toBe(100);
    expect(runc.Ulimits).toBeUndefined();
    const runsc = sandboxCreateOptions({ ...spec, runtime: 'runsc' }).HostConfig!;
    expect(runsc.Ulimits).toEqual([{ Name: 'nproc', Soft: 100, Hard: 100 }]);
    expect(runsc.PidsLimit).toBeGreaterThan(100);
  });

  it('keeps every other hardening setting under both runtimes', () => {
    for (const runtime of ['runc', 'runsc'] as const) {
      const h = sandboxCreateOptions({ ...spec, runtime }).HostConfig!;
      expect([h.NetworkMode, h.CapDrop, h.SecurityOpt, h.ReadonlyRootfs, h.Init, h.Memory]).toEqual(['none', ['ALL'], ['no-new-privileges'], true, true, 1 << 28]);
    }
  });
});

describe('steps given a secret without the in-sandbox executor', () => {
  it('are refused before anything runs: docker exec cannot isolate them from earlier steps', async () => {
    // No engine is contacted: the refusal comes first (the socket path does not exist).
    const client = new DockerodeClient({ socketPath: '/nonexistent/docker.sock', executor: false });
    const spec = { cmd: ['bash', '-c', 'true'], env: { TOKEN: 'hunter2hunter2' }, user: '1000:1000', workdir: '/workspace', isolate: true };
    await expect(client.exec('no-such-container', spec)).rejects.toMatchObject({ code: 'secret_denied', data: { reason: 'no_isolation' } });
  });
});
