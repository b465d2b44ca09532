import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { AirlockError } from '@airlock/proto';
import type { ApiRetryResult, RollbackJob } from '@airlock/proto';
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
  const lines = [`rollback ${j.jobId} of run ${j.runId} to step ${j.toStep}: ${j.status.toUpperCase()} (requested by ${j.requestedBy.principal}${j.approvedBy ? `, approved by ${j.approvedBy.principal}` : ''})`];
  const { counts } = j.diff;
  lines.push(`  undoes: ${counts.added} path(s) back, ${counts.modified} changed back, ${counts.deleted} removed (workspace ${j.current.slice(0, 12)} -> ${j.target.slice(0, 12)})`);
  for (const p of j.diff.added) lines.push(`  + ${p}`);
  for (const p of j.diff.modified) lines.push(`  ~ ${p}`);
  for (const p of j.diff.deleted) lines.push(`  - ${p}`);
  if (j.status === 'planned') for (const p of j.patches ?? []) lines.push(p.patch ? p.patch.trimEnd() : `  (${p.path}: ${p.kind})`);
  if (j.status === 'planned') lines.push(`  another operator applies it: airlock rollback ${j.runId} --approve ${j.jobId}`);
  if (j.error) lines.push(`  failed: ${j.error}`);
  return lines.join('\n');
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
    .description('roll a run\'s workspace back to a step (operators), as a job: --to-step plans it and shows what it undoes; a second operator --approve-s it, which applies it to the workspace only; refused while a step runs')
    .argument('<run>', 'run id')
    .option('--to-step <n>', 'plan a rollback to the snapshot after this step (0 = as the run opened)')
    .option('--approve <job>', 'approve (and apply) a planned rollback: not the operator who planned it')
    .option('--show <job>', 'show a rollback job')
    .option('--reason <text>', 'why, for the log (with --to-step)')
    .action((runId: string, o: { toStep?: string; approve?: string; show?: string; reason?: string }) =>
      kit.withClient(async (c) => {
        const given = [o.toStep !== undefined, o.approve !== undefined, o.show !== undefined].filter(Boolean).length;
        if (given !== 1) throw new AirlockError('bad_request', 'give exactly one of --to-step N, --approve JOB, --show JOB');
        let job: RollbackJob;
        if (o.approve) job = await c.approveRollback(runId, o.approve);
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
