import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroupCpuUsec, cpuReader, cpuSinceLast, parseCpu } from './cpu.ts';
import type { LiveRun } from './live-run.ts';

describe('sandbox CPU time', () => {
  it('reads usage_usec from a cgroup v2 cpu.stat and ns from a v1 cpuacct.usage', () => {
    expect(parseCpu('usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n', 'stat_usec')).toBe(1_500_000);
    expect(parseCpu('user_usec 1\n', 'stat_usec')).toBeUndefined();
    expect(parseCpu('2500000000\n', 'ns')).toBe(2_500_000);
    expect(parseCpu('garbage', 'ns')).toBeUndefined();
  });

  it('finds the container under either layout, and nothing for an unknown one', async () => {
    const root = mkdtempSync(join(tmpdir(), 'airlock-cgroup-'));
    mkdirSync(join(root, 'system.slice', 'docker-aaa.scope'), { recursive: true });
    writeFileSync(join(root, 'system.slice', 'docker-aaa.scope', 'cpu.stat'), 'usage_usec 42\n');
    mkdirSync(join(root, 'cpuacct', 'docker', 'bbb'), { recursive: true });
    writeFileSync(join(root, 'cpuacct', 'docker', 'bbb', 'cpuacct.usage'), '7000\n');
    expect(await cgroupCpuUsec('aaa', root)).toBe(42);
    expect(await cgroupCpuUsec('bbb', root)).toBe(7);
    expect(await cgroupCpuUsec('ccc', root)).toBeUndefined();
  });

  it('a step counts what the sandbox used since the last reading; a new sandbox starts from zero', async () => {
    const run = {} as LiveRun;
    const readings: Record<string, number[]> = { c1: [1_000_000, 3_500_000], c2: [200_000] };
    const read = (id: string) => Promise.resolve(readings[id]!.shift());
    expect(await cpuSinceLast(run, 'c1', read)).toBe(1);
    expect(await cpuSinceLast(run, 'c1', read)).toBe(2.5);
    expect(await cpuSinceLast(run, 'c2', read)).toBe(0.2);
    expect(await cpuSinceLast(run, 'c2', read)).toBeUndefined();
  });

  it('falls back to the engine when the cgroup is not visible', async () => {
    const before = process.env.AIRLOCK_CGROUP_ROOT;
    process.env.AIRLOCK_CGROUP_ROOT = mkdtempSync(join(tmpdir(), 'airlock-no-cgroup-'));
    try {
      const asked: string[] = [];
      const read = cpuReader({ cpuUsageUsec: (id) => (asked.push(id), Promise.resolve(9)) });
      expect(await read('zzz')).toBe(9);
      expect(asked).toEqual(['zzz']);
      expect(await cpuReader({})('zzz')).toBeUndefined();
    } finally {
      if (before === undefined) delete process.env.AIRLOCK_CGROUP_ROOT;
      else process.env.AIRLOCK_CGROUP_ROOT = before;
    }
  });
});
