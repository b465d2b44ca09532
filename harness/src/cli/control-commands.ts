import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { AirlockError } from '@airlock/proto';
import type { ApiRetryResult, LogEvent, RollbackJob } from '@airlock/proto';
import type { CliKit } from './governance-commands.ts';

/** A step number flag: a whole number >= 1. */
function stepFlag(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new AirlockError('bad_request', `${flag} wants a step number (a whole number >= 1), got ${JSON.stringify(v)}`);
  return n;
}

/** A retry's outcome for people. */
export function formatRetry(r: ApiRetryResult): string {
  const lines = [`retried step ${r.step} of ${r.parentRunId} on branch run ${r.runId} (workspace: the snapshot after step ${r.step - 1}, ${r.fromSnapshot.slice(0, 12)})`, `  $ ${r.cmd}`];
  if (r.result) lines.push(`  exit ${r.result.exitCode ?? '-'}${r.result.signal ? ` (${r.result.signal})` : ''} in ${Math.round(r.result.durationMs)} ms`);
  else if (r.refused) lines.push(`  refused (${r.refused.code}): ${r.refused.message}`);
  else lines.push('  (the same request was answered before: see the branch\'s log)');
  return lines.join('\n');
}

/** A rollback job for people: what it undoes, and who did what. */
export function formatRollback(j: RollbackJob): string {
  const who = [`requested by ${j.requestedBy.principal}`, j.approvedBy ? `approved by ${j.approvedBy.principal}` : '', j.rejectedBy ? `rejected by ${j.rejectedBy.principal}` : '', j.appliedBy ? `applied by ${j.appliedBy.principal}` : ''].filter(Boolean).join(', ');
  const lines = [`rollback ${j.jobId} of run ${j.runId} to step ${j.toStep}: ${j.status.toUpperCase()} (${who})`];
  const { counts } = j.diff;
  lines.push(`  undoes: ${counts.added} path(s) back, ${counts.modified} changed back, ${counts.deleted} removed (workspace ${j.current.slice(0, 12)} -> ${j.target.slice(0, 12)})`);
  for (const p of j.diff.added) lines.push(`  + ${p}`);
  for (const p of j.diff.modified) lines.push(`  ~ ${p}`);
  for (const p of j.diff.deleted) lines.push(`  - ${p}`);
  if (j.status === 'planned') for (const p of j.patches ?? []) lines.push(p.patch ? p.patch.trimEnd() : `  (${p.path}: ${p.kind})`);
  if (j.status === 'planned') lines.push(`  another operator decides: airlock rollback ${j.runId} --approve ${j.jobId} [--no-apply]  |  --reject ${j.jobId}`);
  if (j.status === 'approved') lines.push(`  apply it: airlock rollback ${j.runId} --apply ${j.jobId}`);
  if (j.status === 'rejected') lines.push('  rejected: the workspace was not changed');
  if (j.error) lines.push(`  failed: ${j.error}`);
  return lines.join('\n');
}

/** One phase of a rollback job as an `audit` row (rule `rollback`, the phase as its verdict). */
export function rollbackAuditRow(e: Extract<LogEvent, { type: 'run.rollback' }>): string {
  const who = [`requested by ${e.requestedBy.principal}`, e.approvedBy ? `approved by ${e.approvedBy.principal}` : '', e.rejectedBy ? `rejected by ${e.rejectedBy.principal}` : '', e.appliedBy ? `applied by ${e.appliedBy.principal}` : ''].filter(Boolean).join(', ');
  const row = [e.ts.padEnd(24), e.runId.padEnd(26), '   -', e.phase.toUpperCase().padEnd(7), 'rollback'.padEnd(28), (e.actor?.principal ?? e.by).padEnd(14), `${e.jobId} to step ${e.toStep}: ${who}${e.error ? `: ${e.error}` : ''}`];
  return row.join('  ');
}

/** An audit row of a control: an operator's verb, a retry on a branch, or the harness pausing or warning on a budget or loop. */
export function controlAuditRow(e: Extract<LogEvent, { type: 'run.control' | 'run.retried' | 'run.governed' }>): string {
  const by = e.actor?.principal ?? e.by;
  const [what, detail] =
    e.type === 'run.control'
      ? [e.verb.toUpperCase(), [e.interrupt ? `interrupting step ${e.interrupt.step}` : '', e.budgets ? `budgets ${JSON.stringify(e.budgets)}` : '', e.reason ?? ''].filter(Boolean).join('; ')]
      : e.type === 'run.retried'
        ? ['RETRY', `step ${e.step} on branch ${e.branchRunId}${e.reason ? `: ${e.reason}` : ''}`]
        : [e.action.toUpperCase(), `${e.cause.kind}: ${e.reason}`];
  return [e.ts.padEnd(24), e.runId.padEnd(26), '   -', what.padEnd(7), 'control'.padEnd(28), by.padEnd(14), detail].join('  ');
}

/** `retry` and `rollback`: operators re-run a step on a branch, or roll a workspace back (two people). */
export function addControlCommands(program: Command, kit: CliKit): void {
  program
    .command('retry')
    .description("retry a step on a new branch run from the snapshot before it (operators); the command is validated again; parent and branch name each other in their logs")
    .argument('<run>', 'run id')
    .requiredOption('--step <n>', 'the step to retry')
    .option('--reason <text>', 'why, for the log')
    .option('--request-id <id>', 'idempotency key: the same request again answers with the same branch')
    .action((runId: string, o: { step: string; reason?: string; requestId?: string }) =>
      kit.withClient(async (c) => {
        const r = await c.retry(runId, stepFlag(o.step, '--step'), { requestId: o.requestId ?? randomUUID(), ...(o.reason ? { reason: o.reason } : {}) });
        kit.out(kit.asJson() ? JSON.stringify({ type: 'retry', ...r }) : formatRetry(r));
      }),
    );
  program
    .command('rollback')
    .description('roll a run\'s workspace back to a step (operators), as a job of stored steps: --to-step plans it and shows what it undoes; a second operator --approve-s it (which applies it, unless --no-apply) or --reject-s it (nothing changes); --apply applies an approved job; refused while a step runs')
    .argument('<run>', 'run id')
    .option('--to-step <n>', 'plan a rollback to the snapshot after this step (0 = as the run opened)')
    .option('--approve <job>', 'approve a planned rollback (not the operator who planned it); applies it at once unless --no-apply')
    .option('--no-apply', 'with --approve: only approve; apply later with --apply')
    .option('--reject <job>', 'reject a planned rollback (not the operator who planned it): the workspace is left as it is')
    .option('--apply <job>', 'apply an approved rollback to the workspace')
    .option('--show <job>', 'show a rollback job')
    .option('--reason <text>', 'why, for the log (with --to-step or --reject)')
    .action((runId: string, o: { toStep?: string; approve?: string; apply?: string | boolean; reject?: string; show?: string; reason?: string }) =>
      kit.withClient(async (c) => {
        // --apply JOB gives the job id; --no-apply gives false; neither leaves it undefined.
        const applyJob = typeof o.apply === 'string' ? o.apply : undefined;
        const given = [o.toStep !== undefined, o.approve !== undefined, o.reject !== undefined, applyJob !== undefined, o.show !== undefined].filter(Boolean).length;
        if (given !== 1) throw new AirlockError('bad_request', 'give exactly one of --to-step N, --approve JOB, --reject JOB, --apply JOB, --show JOB');
        let job: RollbackJob;
        if (o.approve) job = await c.approveRollback(runId, o.approve, { apply: o.apply !== false });
        else if (o.reject) job = await c.rejectRollback(runId, o.reject, o.reason ? { reason: o.reason } : {});
        else if (applyJob) job = await c.applyRollback(runId, applyJob);
        else if (o.show) job = await c.rollbackJob(runId, o.show);
        else {
          const n = Number(o.toStep);
          if (!Number.isInteger(n) || n < 0) throw new AirlockError('bad_request', `--to-step wants a step number >= 0, got ${JSON.stringify(o.toStep)}`);
          job = await c.planRollback(runId, n, o.reason ? { reason: o.reason } : {});
        }
        kit.out(kit.asJson() ? JSON.stringify({ type: 'rollback', ...job }) : formatRollback(job));
      }),
    );
}
