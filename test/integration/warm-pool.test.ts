// The runner's warm pool (issue 15): started sandboxes claimed at open, the run's workspace bound
// onto the pooled sandbox's slot on the host. Real dockerd and nats-server.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KV } from '@nats-io/kv';
import { WarmPool } from '../../runner/src/pool.ts';
import { reapOrphans } from '../../runner/src/sweep.ts';
import type { PreparedWorkspace } from '../../runner/src/workspace.ts';
import { TestDocker, containersOf, runEvents, useStack, waitUntil } from '../fixtures.ts';

const stack = useStack({ slots: 4, runner: { poolSize: 2 } });
const silent = { info() {}, warn() {}, error() {}, debug() {} } as never;

/** Ids of this runner's idle pooled sandboxes, as the engine lists them (the pool label, no run id). */
async function pooledIds(): Promise<string[]> {
  const out = execFileSync('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=airlock.runner-id=${stack.runnerId}`, '--filter', 'label=airlock.pool=1', '--filter', 'name=airlock-pool-'], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

async function containerOf(runId: string): Promise<string> {
  const opened = (await runEvents(stack.client, runId)).find((e) => e.type === 'run.opened');
  if (!opened || opened.type !== 'run.opened') throw new Error(`run ${runId} has no run.opened`);
  return opened.containerId;
}

function inspect(id: string): { Name: string; Config: { Labels: Record<string, string>; User: string }; HostConfig: Record<string, unknown> } {
  return JSON.parse(execFileSync('docker', ['inspect', id], { encoding: 'utf8' }))[0];
}

const mountsUnder = (dir: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dir));

// The integration project runs under runc (the pool is runc only; runsc opens take the normal path,
// see pool.ts). Under another AIRLOCK_TEST_RUNTIME these fail loudly rather than skip.
describe('warm pool', () => {
  it('fills after the first open and serves the next open from the pool: workspace files visible, new files owned as a normal open', async () => {
    const first = await stack.client.open({});
    await first.exec('true');
    await stack.client.close(first.runId);
    expect(await stack.runner.warmPool!.whenFull()).toBe(true);
    const pooled = await pooledIds();
    expect(pooled).toHaveLength(2);

    // A root-owned workspace: lent to the sandbox user like a normal open, given back at close.
    const ws = mkdtempSync(join(tmpdir(), 'airlock-pool-ws-'));
    writeFileSync(join(ws, 'hello.txt'), 'from the host\n');
    const run = await stack.client.open({ workspace: ws });
    const cid = await containerOf(run.runId);
    expect(pooled).toContain(cid);
    const out = await run.exec('cat hello.txt && id -u && echo made > new.txt && pwd');
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toBe('from the host\n1000\n/workspace\n');
    expect(statSync(join(ws, 'new.txt')).uid).toBe(1000);
    expect(readFileSync(join(ws, 'new.txt'), 'utf8')).toBe('made\n');

    // As isolated as a normal open: same options, its run's name, the pool label beside the usual ones.
    const c = inspect(cid);
    expect(c.Name).toBe(`/airlock-${run.runId.toLowerCase()}-${stack.runnerId}-1`);
    expect(c.HostConfig.NetworkMode).toBe('none');
    expect(c.HostConfig.CapDrop).toEqual(['ALL']);
    expect(c.HostConfig.SecurityOpt).toEqual(['no-new-privileges']);
    expect(c.HostConfig.ReadonlyRootfs).toBe(true);
    expect(c.HostConfig.Runtime).toBe('runc');
    expect(c.Config.User).toBe('1000:1000');
    expect(c.Config.Labels['airlock.pool']).toBe('1');
    expect(c.Config.Labels['airlock.deployment']).toBeTruthy();

    // The snapshot code reads the workspace on the host: step 1's file is in its snapshot.
    const snap = await run.snapshotAt(1);
    expect(snap.files).toBeGreaterThanOrEqual(2);

    // The pool refills behind the claim.
    expect(await stack.runner.warmPool!.whenFull()).toBe(true);
    expect(await pooledIds()).not.toContain(cid);

    await stack.client.close(run.runId);
    // Given back: the owner again, the file kept, the slot unmounted and gone.
    expect(statSync(join(ws, 'new.txt')).uid).toBe(0);
    expect(readFileSync(join(ws, 'hello.txt'), 'utf8')).toBe('from the host\n');
    expect(mountsUnder(ws)).toEqual([]);
    expect(execFileSync('docker', ['ps', '-aq', '--filter', `id=${cid}`], { encoding: 'utf8' }).trim()).toBe('');
  });

  it('never hands one pooled sandbox to two runs: concurrent opens get distinct sandboxes, each its own workspace', async () => {
    expect(await stack.runner.warmPool!.whenFull()).toBe(true);
    const pooled = await pooledIds();
    // Three at once on a 4-slot runner (the fourth slot is the fork's below): two from the pool, one started.
    const runs = await Promise.all([0, 1, 2].map(() => stack.client.open({})));
    try {
      const ids = await Promise.all(runs.map((r) => containerOf(r.runId)));
      expect(new Set(ids).size).toBe(3);
      expect(ids.filter((id) => pooled.includes(id)).length).toBe(2);
      // Each run sees only its own workspace.
      const outs = await Promise.all(runs.map(async (r, i) => (await r.exec(`echo ${i} > mine && ls`)).stdout));
      for (const o of outs) expect(o).toBe('mine\n');
      const back = await Promise.all(runs.map((r) => r.exec('cat mine')));
      expect(back.map((b) => b.stdout)).toEqual(['0\n', '1\n', '2\n']);
      // A fork from the pool: the restored files are there.
      const child = await runs[0]!.fork({ step: 1 });
      try {
        expect((await child.exec('cat mine')).stdout).toBe('0\n');
      } finally {
        await stack.client.close(child.runId);
      }
    } finally {
      for (const r of runs) await stack.client.close(r.runId);
    }
    expect(await stack.runner.warmPool!.whenFull()).toBe(true);
  });

  it('a restarted runner reaps its pooled sandboxes, idle and claimed, and gives a claimed workspace back', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'airlock-pool-reap-'));
    const runnerId = `${stack.runnerId}-crashed`;
    const docker = new TestDocker();
    const pool = new WarmPool({ docker, log: silent, runnerId, stateDir, deployment: () => 'test' }, 2);
    const key = { image: 'airlock/sandbox:default', mountPath: '/workspace', runtime: 'runc' as const, env: { PATH: '/usr/bin:/bin' }, limits: { memoryBytes: 256 * 2 ** 20, pids: 128, nanoCpus: 1e9, tmpfsBytes: 64 * 2 ** 20 } };
    const ws = mkdtempSync(join(tmpdir(), 'airlock-pool-ws-'));
    mkdirSync(join(ws, 'sub'));
    writeFileSync(join(ws, 'sub', 'kept.txt'), 'kept\n');
    const workspace: PreparedWorkspace = { path: ws, user: '1000:1000', ownerBack: '0:0', owned: false };
    execFileSync('chown', ['-R', '1000:1000', ws]);
    expect(await pool.claim(key, 'R-first', workspace, { egress: false })).toBe('key');
    expect(await pool.whenFull()).toBe(true);
    const claimed = await pool.claim(key, 'R-crash', workspace, { egress: false });
    if (typeof claimed === 'string') throw new Error(`no claim: ${claimed}`);
    expect(mountsUnder(claimed.slot)).not.toEqual([]);
    // And one whose slot is its own fresh workspace, with a file the sandbox wrote.
    await waitUntil('the pool refilled', () => pool.idle === 2, 60_000);
    const fresh = await pool.claimFresh(key, 'R-fresh', { egress: false });
    if (typeof fresh === 'string') throw new Error(`no fresh claim: ${fresh}`);
    execFileSync('docker', ['exec', fresh.containerId, 'sh', '-c', 'echo x > /workspace/made']);
    expect(statSync(join(fresh.workspace.path, 'made')).uid).toBe(1000);
    await waitUntil('the pool refilled', () => pool.idle === 2, 60_000);
    expect(await containersOf(runnerId)).toHaveLength(4);

    // The runner "crashes" (no drain); its restart reaps every one of its sandboxes.
    const reaped = await reapOrphans({ runnerId, deployment: 'test', docker, log: silent, runsKv: {} as KV, runs: new Map() });
    expect(reaped).toBe(4);
    expect(await containersOf(runnerId)).toEqual([]);
    expect(mountsUnder(join(stateDir, 'pool'))).toEqual([]);
    expect(readdirSync(join(stateDir, 'pool'))).toEqual([]);
    // The claimed run's workspace: its files kept, given back to its owner.
    expect(readFileSync(join(ws, 'sub', 'kept.txt'), 'utf8')).toBe('kept\n');
    expect(statSync(join(ws, 'sub', 'kept.txt')).uid).toBe(0);
    await pool.drain();
  });

  it('runner exit removes the pooled sandboxes and unmounts their slots', async () => {
    expect(await stack.runner.warmPool!.whenFull()).toBe(true);
    expect(await pooledIds()).toHaveLength(2);
    const slotDir = join(stack.stateDir, 'runner', 'pool');
    expect(mountsUnder(slotDir).length).toBeGreaterThan(0);
    await stack.runner.drain(2000);
    expect(await containersOf(stack.runnerId)).toEqual([]);
    expect(mountsUnder(slotDir)).toEqual([]);
    expect(existsSync(slotDir) ? readdirSync(slotDir) : []).toEqual([]);
  });
});
