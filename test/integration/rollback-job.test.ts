// Rollback as its own permissioned job (issue 14): the request (plan), a second operator's approve
// or reject, a separate apply and its result are each a stored event, shown by `log`, the signed
// bundle and `audit`; a rejected job changes nothing. Against the real stack (dockerd, nats-server),
// with a harness that requires credentials and restarts between the phases.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '@airlock/proto';
import { issueCredential } from '@airlock/harness';
import { readAuditEntries } from '@airlock/ledger';
import { importPrivateKey } from '@airlock/trust';
import { errorCode, runCli, runEvents, useStack, eventsOfType } from '../fixtures.ts';

const harness = { auth: 'required' as const };
const stack = useStack({ harness });

const restartHarness = () => stack.restartHarness();
const of = eventsOfType;
const phases = (log: LogEvent[], jobId: string) => of(log, 'run.rollback').filter((e) => e.jobId === jobId).map((e) => [e.phase, e.actor?.principal]);
const credential = (principal: string, role: 'operator' | 'reviewer') => issueCredential(importPrivateKey(readFileSync(stack.keyFile, 'utf8')), { principal, role });
const cli = (principal: string, role: 'operator' | 'reviewer', args: string[]) => runCli(['--nats', stack.nats.url, ...args], { env: { AIRLOCK_CREDENTIAL: credential(principal, role) } });

describe('rollback job: request, approve/reject, apply, result', () => {
  it('a rejected job changes nothing; an approved one is applied separately; every phase is in log, bundle and audit, across restarts', async () => {
    await using bot = await stack.as('bot-1', 'agent');
    await using olga = await stack.as('olga', 'operator');
    await using oscar = await stack.as('oscar', 'operator');
    await using rita = await stack.as('rita', 'reviewer');
    const run = await bot.open({});
    const r = bot.run(run.runId);
    await r.exec('echo v1 > a');
    await r.exec('echo v2 > a; echo new > b');

    // Rejected: by a second operator only; the workspace and its snapshot stay as they were.
    const first = await olga.planRollback(run.runId, 1, { reason: 'try it' });
    expect(await errorCode(olga.rejectRollback(run.runId, first.jobId))).toBe('forbidden');
    expect(await errorCode(olga.applyRollback(run.runId, first.jobId))).toBe('invalid_state');
    const rejected = await oscar.rejectRollback(run.runId, first.jobId, { reason: 'b is wanted' });
    expect(rejected).toMatchObject({ status: 'rejected', requestedBy: { principal: 'olga' }, rejectedBy: { principal: 'oscar' } });
    await restartHarness();
    expect(await errorCode(oscar.approveRollback(run.runId, first.jobId))).toBe('already_decided');
    expect(await errorCode(olga.applyRollback(run.runId, first.jobId))).toBe('already_decided');
    expect(await errorCode(oscar.rejectRollback(run.runId, first.jobId))).toBe('already_decided');
    const unchanged = await r.exec('cat a b');
    expect(unchanged.stdout).toBe('v2\nnew\n');
    const snaps = of(await runEvents(stack.client, run.runId), 'snapshot.created');
    expect(snaps.at(-1)?.digest).toBe(first.current);

    // Approved without applying: still nothing changes; then applied as its own step, by an operator.
    const second = await olga.planRollback(run.runId, 1);
    expect(second.jobId).not.toBe(first.jobId);
    const approved = await oscar.approveRollback(run.runId, second.jobId, { apply: false });
    expect(approved).toMatchObject({ status: 'approved', approvedBy: { principal: 'oscar' } });
    expect((await r.exec('cat a')).stdout).toBe('v2\n');
    expect(await errorCode(bot.applyRollback(run.runId, second.jobId))).toBe('forbidden');
    await restartHarness();
    expect((await rita.rollbackJob(run.runId, second.jobId).catch((e: unknown) => e))).toMatchObject({ code: 'forbidden' });
    const applied = await olga.applyRollback(run.runId, second.jobId);
    expect(applied).toMatchObject({ status: 'applied', requestedBy: { principal: 'olga' }, approvedBy: { principal: 'oscar' }, appliedBy: { principal: 'olga' }, snapshot: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(await errorCode(olga.applyRollback(run.runId, second.jobId))).toBe('already_decided');
    expect((await r.exec('cat a; ls')).stdout).toBe('v1\na\n');

    // The run's log: each phase with its actor.
    const log = await runEvents(stack.client, run.runId);
    expect(phases(log, first.jobId)).toEqual([['planned', 'olga'], ['rejected', 'oscar']]);
    expect(phases(log, second.jobId)).toEqual([['planned', 'olga'], ['approved', 'oscar'], ['applying', 'olga'], ['applied', 'olga']]);
    expect(of(log, 'run.rollback').find((e) => e.phase === 'rejected')).toMatchObject({ rejectedBy: { principal: 'oscar' }, reason: 'b is wanted' });

    // `log` (people's view) shows them.
    const human = await cli('olga', 'operator', ['log', run.runId]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`ROLLBACK ${first.jobId} to step 1 REJECTED .*rejected by oscar`));
    expect(human.stdout).toMatch(new RegExp(`ROLLBACK ${second.jobId} to step 1 APPLYING .*approved by oscar.*applied by olga`));
    expect(human.stdout).toMatch(new RegExp(`ROLLBACK ${second.jobId} to step 1 APPLIED`));

    // The signed bundle holds the same events.
    const bundle = JSON.parse((await rita.bundle(run.runId)).text) as { events: Array<{ bytes: string }> };
    const bundled = bundle.events.map((e) => JSON.parse(Buffer.from(e.bytes, 'base64').toString('utf8')) as LogEvent);
    expect(phases(bundled, first.jobId)).toEqual(phases(log, first.jobId));
    expect(phases(bundled, second.jobId)).toEqual(phases(log, second.jobId));

    // `audit` lists every phase under rule `rollback`, in order.
    const audited: string[] = [];
    for await (const e of readAuditEntries(stack.client.nats.js, stack.client.nats.jsm, { runId: run.runId, rule: 'rollback' })) if (e.type === 'run.rollback') audited.push(`${e.jobId}:${e.phase}`);
    expect(audited).toEqual([`${first.jobId}:planned`, `${first.jobId}:rejected`, `${second.jobId}:planned`, `${second.jobId}:approved`, `${second.jobId}:applying`, `${second.jobId}:applied`]);
    const auditCli = await cli('rita', 'reviewer', ['audit', '--run', run.runId, '--rule', 'rollback']);
    expect(auditCli.code).toBe(0);
    expect(auditCli.stdout).toMatch(new RegExp(`REJECTED\\s+rollback\\s+oscar\\s+${first.jobId} to step 1: requested by olga, rejected by oscar`));
    expect(auditCli.stdout).toMatch(new RegExp(`APPLIED\\s+rollback\\s+olga\\s+${second.jobId} to step 1: requested by olga, approved by oscar, applied by olga`));
    await bot.close(run.runId);
  });

  it('the CLI: --reject, --approve --no-apply, then --apply', async () => {
    await using bot = await stack.as('bot-2', 'agent');
    const run = await bot.open({});
    await bot.run(run.runId).exec('echo one > f');
    await bot.run(run.runId).exec('echo two > f');
    const json = async (who: string, args: string[]) => {
      const out = await cli(who, 'operator', ['--json', 'rollback', run.runId, ...args]);
      return { code: out.code, job: JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown> };
    };
    const plan = await json('olga', ['--to-step', '1']);
    const jobId = plan.job.jobId as string;
    expect((await json('oscar', ['--reject', jobId, '--reason', 'no'])).job).toMatchObject({ status: 'rejected', rejectedBy: { principal: 'oscar' } });
    expect((await bot.run(run.runId).exec('cat f')).stdout).toBe('two\n');
    const again = (await json('olga', ['--to-step', '1'])).job.jobId as string;
    expect((await json('oscar', ['--approve', again, '--no-apply'])).job).toMatchObject({ status: 'approved' });
    expect((await bot.run(run.runId).exec('cat f')).stdout).toBe('two\n');
    const human = await cli('oscar', 'operator', ['rollback', run.runId, '--show', again]);
    expect(human.stdout).toContain(`apply it: airlock rollback ${run.runId} --apply ${again}`);
    expect((await json('oscar', ['--apply', again])).job).toMatchObject({ status: 'applied', appliedBy: { principal: 'oscar' } });
    expect((await bot.run(run.runId).exec('cat f')).stdout).toBe('one\n');
    expect((await json('oscar', ['--apply', again, '--reject', again])).job).toMatchObject({ type: 'error', code: 'bad_request' });
    await bot.close(run.runId);
  });
});
