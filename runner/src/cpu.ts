// CPU time of a run's sandbox, from its cgroup, for the run's `cpuSeconds` budget (issue 14).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LiveRun } from './live-run.ts';

/**
 * Where a container's CPU counter lives, per cgroup layout: v2 (`cpu.stat`, `usage_usec`) under the
 * systemd or cgroupfs driver, v1 (`cpuacct.usage`, ns). The first that exists for a container is kept.
 */
const LAYOUTS: ReadonlyArray<{ path: (id: string) => string; unit: 'stat_usec' | 'ns' }> = [
  { path: (id) => join('system.slice', `docker-${id}.scope`, 'cpu.stat'), unit: 'stat_usec' },
  { path: (id) => join('docker', id, 'cpu.stat'), unit: 'stat_usec' },
  { path: (id) => join('cpuacct', 'docker', id, 'cpuacct.usage'), unit: 'ns' },
  { path: (id) => join('cpu,cpuacct', 'docker', id, 'cpuacct.usage'), unit: 'ns' },
  { path: (id) => join('cpuacct', 'system.slice', `docker-${id}.scope`, 'cpuacct.usage'), unit: 'ns' },
];

let found: (typeof LAYOUTS)[number] | undefined;

/** The container's CPU usage so far in µs, from its cgroup; undefined when no layout has it (gone, or cgroups not visible here). */
export async function cgroupCpuUsec(containerId: string, root = process.env.AIRLOCK_CGROUP_ROOT ?? '/sys/fs/cgroup'): Promise<number | undefined> {
  for (const layout of found ? [found, ...LAYOUTS.filter((l) => l !== found)] : LAYOUTS) {
    const text = await readFile(join(root, layout.path(containerId)), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const usec = parseCpu(text, layout.unit);
    if (usec === undefined) continue;
    found = layout;
    return usec;
  }
  return undefined;
}

/** µs from a `cpu.stat` (its `usage_usec` line) or a `cpuacct.usage` (ns). */
export function parseCpu(text: string, unit: 'stat_usec' | 'ns'): number | undefined {
  if (unit === 'ns') {
    const ns = Number(text.trim());
    return Number.isFinite(ns) && ns >= 0 ? ns / 1000 : undefined;
  }
  const m = /^usage_usec (\d+)$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * Reads a container's CPU counter from its cgroup, else from the engine's stats (a runner in a
 * container of its own may not see the host's cgroups).
 */
export function cpuReader(engine: { cpuUsageUsec?(containerId: string): Promise<number | undefined> }): (containerId: string) => Promise<number | undefined> {
  return async (id) => (await cgroupCpuUsec(id)) ?? (await engine.cpuUsageUsec?.(id));
}

/**
 * CPU seconds the run's sandbox used since the previous reading (after its previous step, or since it
 * started: a fresh sandbox's counter starts at 0), background processes included. Undefined when the
 * counter cannot be read (the sandbox died with the step: its cgroup is gone).
 */
export async function cpuSinceLast(run: LiveRun, containerId: string, read: (id: string) => Promise<number | undefined> = cgroupCpuUsec): Promise<number | undefined> {
  const now = await read(containerId);
  if (now === undefined) return undefined;
  const before = run.cpu?.containerId === containerId ? run.cpu.usec : 0;
  run.cpu = { containerId, usec: now };
  return Math.max(0, now - before) / 1e6;
}
