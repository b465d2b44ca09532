// The operator verbs of issue 14's second half from the command line, each with --json, against the
// real stack with a harness that requires credentials, restarting it in the middle: `pause
// --interrupt`, `approve --for-run`, `reject --pause`, `retry --step`, `rollback --to-step/--approve`.
// An agent's credential is refused each (exit 77), and the refusals are in the run's log.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { issueCredential } from '@airlock/harness';
import { importPrivateKey } from '@airlock/trust';
import { runCli, runEvents, useStack, waitUntil } from '../fixtures.ts';

const harness = { auth: 'required' as const };
const stack = useStack({ harness });

type Who = 'bot-1' | 'olga' | 'oscar';
const roleOf = (who: Who) => (who === 'bot-1' ? 'agent' : 'operator');
const credential = (who: Who) => issueCredential(importPrivateKey(readFileSync(stack.keyFile, 'utf8')), { principal: who, role: roleOf(who) });
const cli = (who: Who, args: string[]) => runCli(['--nats', stack.nats.url, '--json', ...args], { env: { AIRLOCK_CREDENTIAL: credential(who) } });
const lines = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const last = async (p: ReturnType<typeof cli>) => {
  const r = await p;
  return { code: r.code, json: lines(r.stdout).at(-1) ?? {}, stderr: r.stderr };
};

describe('./airlock interrupt, scoped approvals, retry, rollback', () => {
  it('each verb with --json; an agent is refused each (77); across a harness restart', async () => {
    const opened = await last(cli('bot-1', ['open']));
    const runId = opened.json.runId as string;
    expect((await cli('bot-1', ['exec', runId, '--', "echo v1 > a; printf 'K=v\\n' > .env"])).code).toBe(0);
    expect((await cli('bot-1', ['exec', runId, '--', 'echo v2 > a'])).code).toBe(0);

    for (const args of [['pause', runId, '--interrupt'], ['retry', runId, '--step', '2'], ['rollback', runId, '--to-step', '1'], ['approve', runId, '1', '--for-run'], ['reject', runId, '1', '--pause']]) {
      const r = await last(cli('bot-1', args));
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(77);
      expect(r.json).toMatchObject({ type: 'error', code: 'forbidden' });
    }

    const retried = await last(cli('olga', ['retry', runId, '--step', '2', '--request-id', 'cli-retry-0001']));
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.json).toMatchObject({ type: 'retry', parentRunId: runId, step: 2, cmd: 'echo v2 > a', result: { exitCode: 0 } });
    const branch = retried.json.runId as string;

    const planned = await last(cli('olga', ['rollback', runId, '--to-step', '1']));
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.json).toMatchObject({ type: 'rollback', status: 'planned', toStep: 1, diff: { modified: ['a'] }, requestedBy: { principal: 'olga' } });
    const job = planned.json.jobId as string;

    await stack.restartHarness();

    expect((await last(cli('olga', ['rollback', runId, '--approve', job]))).json).toMatchObject({ type: 'error', code: 'forbidden' });
    const applied = await last(cli('oscar', ['rollback', runId, '--approve', job]));
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.json).toMatchObject({ type: 'rollback', status: 'applied', approvedBy: { principal: 'oscar' } });
    const human = await runCli(['--nats', stack.nats.url, 'rollback', runId, '--show', job], { env: { AIRLOCK_CREDENTIAL: credential('olga') } });
    expect(human.stdout).toMatch(/APPLIED \(requested by olga, approved by oscar\)/);
    const after = await cli('bot-1', ['exec', runId, '--', 'cat a']);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('v1');
    expect(after.stdout).not.toContain('v2');

    // A held request: its choices, then approved for the rest of the run.
    const held = await cli('bot-1', ['exec', runId, '--', 'cat .env']);
    expect(held.code).not.toBe(0);
    const [approval] = lines((await cli('olga', ['approvals', '--run', runId])).stdout);
    expect(approval).toMatchObject({ type: 'approval', status: 'pending', expiresAt: expect.any(String) });
    const step = approval!.step as number;
    const granted = await last(cli('olga', ['approve', runId, String(step), '--for-run']));
    expect(granted.json).toMatchObject({ type: 'approval', status: 'approved', decision: 'approve_run', grant: { prefix: 'cat' } });
    expect((await cli('bot-1', ['exec', runId, '--', 'cat .env'])).code).toBe(0);

    // Interrupt a running step from the command line.
    const running = cli('bot-1', ['exec', runId, '--', 'sleep 120']);
    await waitUntil('a step running', async () => (await last(cli('olga', ['watch', runId, '--once']))).json.stepInFlight !== undefined, 30_000);
    const paused = await last(cli('olga', ['pause', runId, '--interrupt', '--grace', '1000']));
    expect(paused.json).toMatchObject({ type: 'run.state', state: 'paused' });
    const ended = await running;
    expect(ended.code).not.toBe(0);

    const log = await runEvents(stack.client, runId);
    expect(log.filter((e) => e.type === 'access.denied').length).toBeGreaterThanOrEqual(5);
    expect(log.some((e) => e.type === 'run.retried' && e.branchRunId === branch)).toBe(true);
    expect(log.some((e) => e.type === 'run.control' && e.interrupt !== undefined)).toBe(true);
    expect((await cli('olga', ['kill', runId])).code).toBe(0);
    expect((await cli('olga', ['close', branch])).code).toBe(0);
  });
});
