// `retry RUN --step N` starts its branch where the parent's step N started: the snapshot after step
// N-1, and also the working directory and exported variables the parent's session (keepCwd/keepEnv)
// held before step N, so a step that depends on an earlier `cd` or `export` behaves the same in the
// branch. Real stack, with a harness restart between the parent's steps and the retry.
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '@airlock/proto';
import { runEvents, useStack, eventsOfType } from '../fixtures.ts';

const harness = { auth: 'required' as const };
const stack = useStack({ harness });
/** The default workspace mount (the run is opened without one). */
const W = '/workspace';
const of = eventsOfType;

describe('retry --step N: the parent session before step N', () => {
  it('a step depending on an earlier cd and export prints the same in the branch; later changes of the parent do not leak in', async () => {
    await using bot = await stack.as('bot-1', 'agent');
    await using olga = await stack.as('olga', 'operator');
    const run = await bot.open({ keepCwd: true, keepEnv: true });
    const r = bot.run(run.runId);
    expect((await r.exec('mkdir -p src/pkg && cd src/pkg && export GREETING=hello TARGET=pkg')).exitCode).toBe(0);
    const step2 = 'pwd; echo "$GREETING $TARGET" | tee note.txt';
    const parent = await r.exec(step2);
    expect(parent.stdout).toBe(`${W}/src/pkg\nhello pkg\n`);
    // After step 2 the parent moves on: another directory, another value.
    expect((await r.exec('cd / && export GREETING=later')).exitCode).toBe(0);
    await stack.restartHarness();

    const retried = await olga.retry(run.runId, 2, { requestId: 'retry-session-0001' });
    expect(retried.result).toMatchObject({ exitCode: 0 });
    const branch = olga.run(retried.runId);
    expect((await branch.result(1)).stdout).toBe(parent.stdout);
    // The branch keeps its session like its parent: the next step starts where the retried one ended.
    expect((await branch.exec('pwd; echo "$GREETING"; cat note.txt')).stdout).toBe(`${W}/src/pkg\nhello\nhello pkg\n`);
    const branchLog = await runEvents(stack.client, retried.runId);
    expect(of(branchLog, 'run.branched')).toMatchObject([{ parentRunId: run.runId, step: 2, cwd: `${W}/src/pkg`, envNames: ['GREETING', 'TARGET'] }]);
    // Validated as it runs: the carried directory and variables are in front of the command.
    expect(of(branchLog, 'step.verdict')[0]?.cmd).toBe(`export GREETING='hello' TARGET='pkg'; cd '${W}/src/pkg' || exit 1; ${step2}`);
    // Retrying step 1 starts as the run opened: the workspace root, no variables.
    const first = await olga.retry(run.runId, 1, { requestId: 'retry-session-0002' });
    expect(first.result).toMatchObject({ exitCode: 0 });
    expect((await olga.run(first.runId).exec('pwd; echo "[$GREETING]"')).stdout).toBe(`${W}/src/pkg\n[hello]\n`);
    expect(of(await runEvents(stack.client, first.runId), 'run.branched')[0]).not.toHaveProperty('cwd');
    await olga.close(first.runId);
    await olga.close(retried.runId);
    await bot.close(run.runId);
  });
});
