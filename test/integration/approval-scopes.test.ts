// Held requests with scopes and expiry (issue 14): a held request says what the decision may be;
// `approve_run` lets the same rule's simple commands with the same prefix through for the rest of the
// run; `reject_pause` denies and pauses; a request nobody decides in time expires as a denial,
// recorded in the log. The policy sets a short expiry; each test restarts the harness in the middle.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '@airlock/proto';
import { PolicyDeniedError } from '@airlock/client';
import { defaultPolicy } from '@airlock/validate';
import { useStack, runEvents, waitUntil, errorCode, eventsOfType } from '../fixtures.ts';

/** How long a held request waits here: long enough for the tests' own decisions on a loaded machine. */
const EXPIRY_MS = 8000;

async function policyFile(): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'airlock-scopes-')), 'policy.json');
  writeFileSync(file, JSON.stringify({ ...(await defaultPolicy()), governance: { approvalExpiryMs: EXPIRY_MS } }));
  return file;
}

let harness: { auth: 'required'; policyFile: string };
const stack = useStack(async () => {
  harness = { auth: 'required', policyFile: await policyFile() };
  return { harness };
});

const as = (...args: Parameters<typeof stack.as>) => stack.as(...args);
const restartHarness = () => stack.restartHarness();

const events = (runId: string) => runEvents(stack.client, runId);
const of = eventsOfType;
const code = errorCode;

describe('approval scopes', () => {
  it('a held request offers its choices; approve for the run covers the same rule and prefix, simple commands only', async () => {
    await using bot = await as('bot-1', 'agent');
    await using olga = await as('olga', 'operator');
    const run = await bot.open({});
    const r = bot.run(run.runId);
    await r.exec("printf 'K=v\\n' > .env; printf 'L=w\\n' > .env.local");
    expect(await code(r.exec('cat .env'))).toBe('validation_ask');
    const [held] = (await olga.approvals({ runId: run.runId })).approvals;
    expect(held).toMatchObject({ step: 2, status: 'pending', requestedBy: 'bot-1' });
    expect(held!.choices!.map((c) => c.decision)).toEqual(['approve', 'approve_run', 'reject', 'reject_pause']);
    expect(held!.choices![1]!.label).toContain(`rule ${held!.rule} that start with \`cat\``);
    expect(Date.parse(held!.expiresAt!) - Date.parse(held!.requestedAt)).toBe(EXPIRY_MS);
    expect(await code(bot.decide(run.runId, 2, 'approve_run', { by: 'bot-1' }))).toBe('forbidden');
    await restartHarness();
    const decided = await olga.decide(run.runId, 2, 'approve_run', { by: 'olga' });
    expect(decided).toMatchObject({ status: 'approved', decision: 'approve_run', grant: { rule: held!.rule, prefix: 'cat' }, decidedBy: 'olga' });
    // The held command, and later ones of the same rule and prefix, without asking again.
    expect(await r.exec('cat .env')).toMatchObject({ step: 3, exitCode: 0, stdout: 'K=v\n' });
    expect(await r.exec('cat .env.local')).toMatchObject({ step: 4, exitCode: 0, stdout: 'L=w\n' });
    expect(await r.exec('cat .env')).toMatchObject({ step: 5, exitCode: 0 });
    // Not a command with operators after the prefix: that is a new request.
    expect(await code(r.exec('cat .env | tr a-z A-Z'))).toBe('validation_ask');
    const log = await events(run.runId);
    expect(of(log, 'step.decided')).toMatchObject([{ step: 2, decision: 'approved', grant: { prefix: 'cat' }, actor: { principal: 'olga' } }]);
    expect(of(log, 'step.verdict').filter((v) => v.step >= 3 && v.step <= 5).every((v) => v.verdict === 'allow' && v.reason.includes('approved by olga'))).toBe(true);
    expect(of(log, 'access.denied').some((d) => d.actor?.principal === 'bot-1')).toBe(true);
    await bot.close(run.runId);
  });

  it('deny and pause: the step is refused and the run paused in the operator\'s name', async () => {
    await using bot = await as('bot-1', 'agent');
    await using olga = await as('olga', 'operator');
    const run = await bot.open({});
    const r = bot.run(run.runId);
    await r.exec("printf 'K=v\\n' > .env");
    const waiting = r.exec('cat .env', { waitForApprovalMs: 60_000 }).catch((e: unknown) => e);
    await waitUntil('step 2 held', async () => (await olga.approvals({ runId: run.runId })).approvals.length === 1);
    expect(await olga.decide(run.runId, 2, 'reject_pause', { by: 'olga', note: 'no secrets' })).toMatchObject({ status: 'rejected', decision: 'reject_pause' });
    expect(await waiting).toBeInstanceOf(PolicyDeniedError);
    await restartHarness();
    await expect(r.exec('echo next')).rejects.toMatchObject({ code: 'run_paused' });
    expect(await olga.runState(run.runId)).toMatchObject({ state: 'paused', paused: { by: { principal: 'olga' } } });
    const log = await events(run.runId);
    expect(of(log, 'step.decided')).toMatchObject([{ step: 2, decision: 'rejected', pause: true }]);
    expect(of(log, 'run.control')).toMatchObject([{ verb: 'pause', actor: { principal: 'olga', role: 'operator' } }]);
    await olga.kill(run.runId);
  });

  it('a request nobody decides expires as a denial, recorded in the log, also across a restart', async () => {
    await using bot = await as('bot-1', 'agent');
    await using olga = await as('olga', 'operator');
    const run = await bot.open({});
    const r = bot.run(run.runId);
    await r.exec("printf 'K=v\\n' > .env");
    const t0 = Date.now();
    const waiting = r.exec('cat .env', { waitForApprovalMs: 60_000 }).catch((e: unknown) => e);
    await waitUntil('step 2 held', async () => (await olga.approvals({ runId: run.runId })).approvals.length === 1);
    await restartHarness();
    const denied = await waiting;
    expect(denied).toBeInstanceOf(PolicyDeniedError);
    expect((denied as PolicyDeniedError).rule).toBe('approval.expired');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(EXPIRY_MS - 500);
    expect((await olga.approvals({ runId: run.runId, all: true })).approvals).toMatchObject([{ step: 2, status: 'expired', decidedBy: 'harness' }]);
    expect(await code(olga.decide(run.runId, 2, 'approve', { by: 'olga' }))).toBe('already_decided');
    expect(of(await events(run.runId), 'step.decided')).toMatchObject([{ step: 2, decision: 'expired', decidedBy: 'harness', by: 'harness' }]);
    // The run goes on: asking again is a new request.
    expect(await code(r.exec('cat .env'))).toBe('validation_ask');
    await bot.close(run.runId);
  });
});
