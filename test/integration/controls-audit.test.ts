// Issue 14: every control is "a stored event … that shows in `log`, `bundle` and `audit`". Verdicts,
// denied egress and rollbacks were indexed for reviewers; here the operators' verbs (pause, resume,
// raise, cancel), a retry, and the harness's own budget pause are listed by `./airlock audit --rule
// control` with who did what, against the real stack, across a harness restart.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readAuditEntries, type AuditEntry } from '@airlock/ledger';
import { issueCredential } from '@airlock/harness';
import { importPrivateKey } from '@airlock/trust';
import { runCli, useStack } from '../fixtures.ts';

const harness = { auth: 'required' as const };
const stack = useStack({ harness });

async function audit(runId: string, rule?: string): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of readAuditEntries(stack.client.nats.js, stack.client.nats.jsm, { runId, ...(rule ? { rule } : {}) })) out.push(e);
  return out;
}

describe('controls in the audit index', () => {
  it('pause, raise, resume, a budget pause, a retry and cancel are listed with their actors; verdicts stay under their rules', async () => {
    await using bot = await stack.as('bot-1', 'agent');
    await using olga = await stack.as('olga', 'operator');
    const run = await bot.open({ budgets: { steps: 2 } });
    await bot.run(run.runId).exec('echo one');
    await olga.pause(run.runId, { reason: 'look first' });
    await olga.resume(run.runId);
    await bot.run(run.runId).exec('echo two');
    // The third step finds the steps budget used up: the harness pauses the run itself.
    await expect(bot.run(run.runId).exec('echo three')).rejects.toMatchObject({ code: 'run_paused' });
    await stack.restartHarness();
    await olga.raise(run.runId, { steps: 5 }, { reason: 'more room' });
    await olga.resume(run.runId);
    const retried = await olga.retry(run.runId, 1, { reason: 'again' });
    await olga.cancel(run.runId, { reason: 'done' });
    await bot.close(retried.runId).catch(() => undefined);

    const controls = await audit(run.runId, 'control');
    const rows = controls.map((e) =>
      e.type === 'run.control' ? `${e.verb}:${e.actor?.principal}` : e.type === 'run.retried' ? `retry:${e.actor?.principal}:${e.branchRunId}` : e.type === 'run.governed' ? `governed:${e.action}:${e.cause.kind}` : e.type,
    );
    expect(rows).toEqual(['pause:olga', 'resume:olga', 'governed:pause:budget', 'raise:olga', 'resume:olga', `retry:olga:${retried.runId}`, 'cancel:olga']);
    // Each is the event the run's log holds (same seq), not a second account of it.
    await using rita = await stack.as('rita', 'reviewer');
    const log = (await rita.bundle(run.runId)).events;
    expect(log).toBeGreaterThanOrEqual(Math.max(...controls.map((e) => e.seq)));
    // The rule filter keeps verdicts and controls apart.
    const all = await audit(run.runId);
    expect(all.filter((e) => e.type === 'step.verdict').length).toBeGreaterThan(0);
    expect((await audit(run.runId, 'rollback')).length).toBe(0);

    // The reviewer's view from the command line: one row per control, naming the actor.
    const key = importPrivateKey(readFileSync(stack.keyFile, 'utf8'));
    const cli = await runCli(['--nats', stack.nats.url, 'audit', '--run', run.runId, '--rule', 'control'], { env: { AIRLOCK_CREDENTIAL: issueCredential(key, { principal: 'rita', role: 'reviewer' }) } });
    expect(cli.code, cli.stderr).toBe(0);
    const lines = cli.stdout.trim().split('\n').slice(1);
    expect(lines).toHaveLength(7);
    expect(lines[0]).toMatch(/PAUSE\s+control\s+olga\s+look first/);
    expect(lines[2]).toMatch(/PAUSE\s+control\s+harness\s+budget:/);
    expect(lines[5]).toContain(`RETRY    control`);
    expect(lines[5]).toContain(retried.runId);
  });
});
