// Loop detection is on by default, and the six real agent sessions in ../shared/workloads are
// legitimate work: replayed through Airlock with the default governance, not one of their 250 steps
// is paused or warned about (a detector that fires on them is wrong).
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runEvents, useStack } from '../fixtures.ts';
import { listWorkloads, prepareRepo, replay } from '../workloads.ts';

const stack = useStack();
const workloads = listWorkloads();

describe('the six real sessions under loop detection', () => {
  it('finds all six', () => expect(workloads.length).toBe(6));

  for (const w of workloads) {
    it(`${w.name}: ${w.steps.length} steps, no detection`, async () => {
      const repo = prepareRepo(w);
      try {
        const before = new Set((await stack.client.ps({ all: true })).runs.map((r) => r.runId));
        const result = await replay(stack.client, w, repo);
        expect(result.exitCodes).toHaveLength(w.steps.length);
        const run = (await stack.client.ps({ all: true })).runs.find((r) => !before.has(r.runId) && r.mountPath === '/testbed');
        expect(run).toBeDefined();
        const log = await runEvents(stack.client, run!.runId);
        expect(log.filter((e) => e.type === 'step.exited')).toHaveLength(w.steps.length);
        expect(log.filter((e) => e.type === 'run.governed')).toEqual([]);
        expect(await stack.client.runState(run!.runId)).toMatchObject({ state: 'closed', warnings: 0, used: { steps: w.steps.length } });
      } finally {
        rmSync(repo, { recursive: true, force: true });
      }
    }, 600_000);
  }
});
