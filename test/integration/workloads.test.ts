// The six real agent sessions, replayed through Airlock on the default image, on a workspace the user
// (root, here) handed in: each must end with the diff the agent submitted, and the files must be the user's again.
import { execFileSync } from 'node:child_process';
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useStack } from '../fixtures.ts';
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
    it(`${w.name}: ${w.steps.length} steps end with the submitted diff`, async () => {
      const repo = prepareRepo(w);
      try {
        const ownerBefore = lstatSync(repo).uid;
        const result = await replay(stack.client, w, repo);
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
