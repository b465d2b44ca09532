import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { AirlockError } from '@airlock/proto';
import type { ApiRetryResult } from '@airlock/proto';
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
}
