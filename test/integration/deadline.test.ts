// Whether a step's deadline fired is reported by the party that enforces it (the in-sandbox
// executor, or coreutils `timeout` read against a clock started before the exec), never guessed from
// a runner clock that starts late. Issue 11, point 1: a fresh machine got `exitCode: 124, timedOut: false`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecHandle, ExecSpec } from '@airlock/runner';
import { TestDocker, TestStack, containersOf } from '../fixtures.ts';

/** A Docker client whose exec hands the step over late, as a slow log append or a busy host would. */
class LateDocker extends TestDocker {
  override async exec(containerId: string, spec: ExecSpec): Promise<ExecHandle> {
    const handle = await super.exec(containerId, spec);
    await new Promise((r) => setTimeout(r, 700));
    return handle;
  }
}

for (const mode of ['executor', 'docker exec'] as const) {
  describe(`step deadlines through the ${mode}`, () => {
    let stack: TestStack;
    beforeAll(async () => {
      stack = await TestStack.start({ docker: () => new LateDocker({ executor: mode === 'executor' }) });
    });
    afterAll(async () => {
      await stack?.[Symbol.asyncDispose]();
      expect(await containersOf(stack.runnerId)).toEqual([]);
    });

    it('reports timedOut when the deadline fired, however late the runner started its own clock', async () => {
      const c = stack.client;
      const run = await c.open({});
      for (const cmd of ['sleep 5', 'sleep 30 & sleep 30', "trap '' TERM; sleep 30"]) {
        const r = await run.exec(cmd, { timeoutMs: 1000 });
        expect(r, cmd).toMatchObject({ timedOut: true, sandboxDied: false });
        expect([124, 137], cmd).toContain(r.exitCode);
        // The runner's own clock started ≥ 700 ms late: it measured less than the deadline.
        expect(r.durationMs, cmd).toBeLessThan(cmd.startsWith('trap') ? 2700 : 1000);
      }
      const ignoresTerm = await run.exec("trap '' TERM; sleep 30", { timeoutMs: 1000 });
      expect(ignoresTerm).toMatchObject({ timedOut: true, exitCode: 137, signal: 'SIGKILL' });
      await c.close(run.runId);
    });

    it('does not report timedOut for a command that exits 124 or 137 by itself', async () => {
      const c = stack.client;
      const run = await c.open({});
      expect(await run.exec('exit 124', { timeoutMs: 1000 })).toMatchObject({ exitCode: 124, timedOut: false, signal: null });
      expect(await run.exec('exit 137', { timeoutMs: 1000 })).toMatchObject({ exitCode: 137, timedOut: false });
      expect(await run.exec('sleep 0.2; exit 124', { timeoutMs: 1000 })).toMatchObject({ exitCode: 124, timedOut: false });
      expect(await run.exec('true', { timeoutMs: 1000 })).toMatchObject({ exitCode: 0, timedOut: false });
      await c.close(run.runId);
    });
  });
}
