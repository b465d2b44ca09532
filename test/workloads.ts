// The six recorded coding-agent sessions in ../shared/workloads, replayed through Airlock.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Airlock } from '@airlock/client';

export const WORKLOADS_DIR = resolve(import.meta.dirname, '..', '..', 'shared', 'workloads');

export interface WorkloadStep {
  step: number;
  cmd: string;
  observation_head: string;
  returncode: number | null;
}

export interface Workload {
  name: string;
  dir: string;
  steps: WorkloadStep[];
  /** What the agent submitted: the recorded output of the last step, after the marker line (first 500 characters). */
  submittedHead: string;
}

export function listWorkloads(): Workload[] {
  if (!existsSync(WORKLOADS_DIR)) throw new Error(`workloads not found at ${WORKLOADS_DIR} (the shared/ folder beside the repo)`);
  return readdirSync(WORKLOADS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => {
      const dir = join(WORKLOADS_DIR, d.name);
      const steps = readFileSync(join(dir, 'commands.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as WorkloadStep);
      const last = steps.at(-1)!;
      return { name: d.name, dir, steps, submittedHead: last.observation_head.replace(/^COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n/, '') };
    });
}

/** Extracts the repository at its base commit into a fresh directory and commits it, as the user would hand it in. */
export function prepareRepo(w: Workload): string {
  const dir = mkdtempSync(join(tmpdir(), `airlock-wl-${w.name}-`));
  execFileSync('tar', ['xzf', join(w.dir, 'repo.tar.gz'), '-C', dir]);
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=user', '-c', 'user.email=user@example.invalid', ...args], { cwd: dir, stdio: 'pipe' });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-qm', 'base');
  return dir;
}

/** Drops `index abc..def` lines, which depend on the exact blobs, as the workloads' README says to. */
export function normaliseDiff(diff: string): string {
  return diff
    .split('\n')
    .filter((l) => !/^index [0-9a-f]+\.\.[0-9a-f]+/.test(l))
    .join('\n');
}

export interface ReplayResult {
  /** Output of the final submit step after the marker line. */
  submitted: string;
  stepMs: number[];
  exitCodes: Array<number | null>;
}

/** Replays every command of a workload as one step each, in a run on `workspace` mounted at /testbed. */
export async function replay(client: Airlock, w: Workload, workspace: string): Promise<ReplayResult> {
  const run = await client.open({ workspace, mountPath: '/testbed' });
  const stepMs: number[] = [];
  const exitCodes: Array<number | null> = [];
  let lastOut = '';
  try {
    for (const s of w.steps) {
      const out: Buffer[] = [];
      const t0 = performance.now();
      const r = await run.exec(s.cmd, { timeoutMs: 60_000, onOutput: (_, d) => out.push(d) });
      stepMs.push(performance.now() - t0);
      exitCodes.push(r.exitCode);
      lastOut = Buffer.concat(out).toString('utf8');
    }
  } finally {
    await client.close(run.runId);
  }
  return { submitted: lastOut.replace(/^COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n/, ''), stepMs, exitCodes };
}
