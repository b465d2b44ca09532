// The six real agent sessions, replayed through Airlock on the default image, on a workspace the user
// (root, here) handed in: each must end with the diff the agent submitted, and the files must be the user's again.
// Loop detection is on by default and these sessions are legitimate work: not one of their 250 steps
// may be paused or warned about (a detector that fires on them is wrong). One replay proves both.
import { execFileSync } from 'node:child_process';
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEvents, useStack } from '../fixtures.ts';
import { listWorkloads, normaliseDiff, prepareRepo, replay } from '../workloads.ts';

const stack = useStack();

function ownersOf(dir: string): Set<number> {
  const owners = new Set<number>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      owners.add(lstatSync(p).uid);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return owners;
}

const workloads = listWorkloads();

describe('recorded agent sessions', () => {
  it('finds all six workloads', () => {
    expect(workloads.length).toBe(6);
  });

  for (const w of workloads) {
    it(`${w.name}: ${w.steps.length} steps end with the submitted diff, with no loop detection`, async () => {
      const repo = prepareRepo(w);
      try {
        const ownerBefore = lstatSync(repo).uid;
        const before = new Set((await stack.client.ps({ all: true })).runs.map((r) => r.runId));
        const result = await replay(stack.client, w, repo);
        expect(result.exitCodes).toHaveLength(w.steps.length);
        const run = (await stack.client.ps({ all: true })).runs.find((r) => !before.has(r.runId) && r.mountPath === '/testbed');
        expect(run).toBeDefined();
        const log = await runEvents(stack.client, run!.runId);
        expect(log.filter((e) => e.type === 'step.exited')).toHaveLength(w.steps.length);
        expect(log.filter((e) => e.type === 'run.governed')).toEqual([]);
        expect(await stack.client.runState(run!.runId)).toMatchObject({ state: 'closed', warnings: 0, used: { steps: w.steps.length } });
        const got = normaliseDiff(result.submitted);
        const want = normaliseDiff(w.submittedHead);
        expect(got.length).toBeGreaterThan(0);
        // The recorded head is the first 500 characters; where the diff is shorter it is the whole diff.
        if (w.submittedHead.length < 500) expect(got.trimEnd()).toBe(want.trimEnd());
        else expect(got.startsWith(want.slice(0, want.lastIndexOf('\n')))).toBe(true);
        // The workspace is the user's again, and the host's git sees the agent's change.
        expect(ownersOf(repo)).toEqual(new Set([ownerBefore]));
        const hostDiff = execFileSync('git', ['diff', '--cached'], { cwd: repo, encoding: 'utf8' });
        expect(normaliseDiff(hostDiff)).toBe(got);
      } finally {
        rmSync(repo, { recursive: true, force: true });
      }
    }, 600_000);
  }
});
