// Issue 14: budgets set by the policy (not per run at open) govern every run: a run opened with no
// budgets of its own pauses when the policy's steps budget is used up, with the typed reason, across
// a harness restart; an operator's raise lets it go on. Real stack, a policy file with `governance.budgets`.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '@airlock/validate';
import { runEvents, useStack } from '../fixtures.ts';

async function policyFile(): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'airlock-budget-policy-')), 'policy.json');
  writeFileSync(file, JSON.stringify({ ...(await defaultPolicy()), governance: { budgets: { steps: 2 } } }));
  return file;
}

let harness: { auth: 'required'; policyFile: string };
const stack = useStack(async () => {
  harness = { auth: 'required', policyFile: await policyFile() };
  return { harness };
});

describe('policy budgets', () => {
  it('a run with no budgets of its own is held to the policy\'s: paused after 2 steps, across a restart, until raised', async () => {
    await using bot = await stack.as('bot-1', 'agent');
    await using olga = await stack.as('olga', 'operator');
    const run = await bot.open({});
    expect((await olga.runState(run.runId)).budgets).toMatchObject({ steps: 2 });
    await bot.run(run.runId).exec('echo 1');
    await bot.run(run.runId).exec('echo 2');
    await expect(bot.run(run.runId).exec('echo 3')).rejects.toMatchObject({ code: 'run_paused', data: { cause: { kind: 'budget', budget: 'steps', used: 2, limit: 2 } } });
    await stack.restartHarness();
    await expect(bot.run(run.runId).exec('echo 3')).rejects.toMatchObject({ code: 'run_paused' });
    await olga.raise(run.runId, { steps: 3 });
    await olga.resume(run.runId);
    expect(await bot.run(run.runId).exec('echo 3')).toMatchObject({ step: 3, exitCode: 0 });
    const governed = (await runEvents(stack.client, run.runId)).filter((e) => e.type === 'run.governed');
    expect(governed).toMatchObject([{ action: 'pause', cause: { kind: 'budget', budget: 'steps', used: 2, limit: 2 } }]);
    await bot.close(run.runId);
  });
});
