import { constants as osConstants } from 'node:os';
import { AirlockError, outputBytes } from '@airlock/proto';
import type { DiffPatch, LogEvent, RunRecord, StepResult } from '@airlock/proto';

/** KEY=VALUE pairs from the command line. */
export function parseEnvPairs(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new AirlockError('bad_request', `--env wants KEY=VALUE, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/** The process exit code that stands for a step's result, shell-style (128+signal when killed). */
export function exitCodeOf(r: StepResult): number {
  if (r.exitCode !== null) return r.exitCode;
  const n = r.signal ? (osConstants.signals as Record<string, number>)[r.signal] : undefined;
  return n ? 128 + n : 125;
}

/** `principal (role)`, or `unknown caller`. */
function actorText(a: LogEvent['actor']): string {
  return a ? `${a.principal} (${a.role})` : 'unknown caller';
}

/** What a decision covers beyond the step itself. */
function decidedScope(e: Extract<LogEvent, { type: 'step.decided' }>): string {
  if (e.grant) return ` for the rest of the run (rule ${e.grant.rule}, commands starting with \`${e.grant.prefix}\`)`;
  return e.pause ? ' and the run PAUSED' : '';
}

/** A retry's link, from either side. */
function branchText(e: Extract<LogEvent, { type: 'run.retried' | 'run.branched' }>): string {
  const from = `from the snapshot after step ${e.step - 1} (${e.fromSnapshot.slice(0, 12)})`;
  if (e.type === 'run.retried') return `step ${e.step} RETRIED on branch run ${e.branchRunId} ${from}`;
  const session = [e.cwd ? `in ${e.cwd}` : '', e.envNames?.length ? `with ${e.envNames.join(', ')} exported` : ''].filter(Boolean).join(' ');
  return `BRANCH of run ${e.parentRunId}, retrying its step ${e.step} ${from}${session ? `, ${session}` : ''}`;
}

/** One human-readable line (or the raw output) per log event. */
export function formatEvent(e: LogEvent): string {
  const head = `#${e.seq} ${e.ts}`;
  switch (e.type) {
    case 'step.output':
      return outputBytes(e).toString('utf8');
    case 'run.opened':
      return `${head} run opened on runner ${e.runnerId}: image ${e.image}, workspace ${e.workspace} at ${e.mountPath} (as ${e.user})\n`;
    case 'run.closed':
      return `${head} run closed${e.termination ? ` (${e.termination.toUpperCase()})` : ''}: ${e.reason}\n`;
    case 'run.suspended':
      return `${head} run SUSPENDED (idle ${Math.round(e.idleMs / 1000)} s): sandbox on runner ${e.runnerId} removed, slot freed; the next step restores the snapshot after step ${e.afterStep} (${e.snapshot.slice(0, 12)})\n`;
    case 'step.requested':
      return `${head} step ${e.step} $ ${e.cmd}${e.cost !== undefined ? `  [cost ${e.cost}]` : ''}\n`;
    case 'step.started':
      return `${head} step ${e.step} started in ${e.containerId.slice(0, 12)}\n`;
    case 'step.exited': {
      const r = e.result;
      const oom = r.oomKilled ? ', out of memory' : '';
      const how = r.sandboxDied ? `sandbox died (${r.signal ?? 'killed'}${oom})` : r.timedOut ? `timed out (${r.signal})` : `exit ${r.exitCode}${r.signal ? ` (${r.signal}${oom})` : ''}`;
      return `${head} step ${e.step} ${how} in ${Math.round(r.durationMs)} ms, ${r.stdoutBytes} B out, ${r.stderrBytes} B err${r.truncated ? ', truncated' : ''}${r.cpuSeconds !== undefined ? `, ${r.cpuSeconds.toFixed(3)} s CPU` : ''}\n`;
    }
    case 'sandbox.started':
      return `${head} sandbox ${e.containerId.slice(0, 12)} started: ${e.reason}\n`;
    case 'sandbox.died':
      return `${head} sandbox ${e.containerId.slice(0, 12)} died${e.step ? ` in step ${e.step}` : ''}: ${e.reason}\n`;
    case 'message.rejected':
      return `${head} rejected a message on ${e.subject}: ${e.message}\n`;
    case 'step.verdict':
      return `${head} step ${e.step} ${e.verdict.toUpperCase()} by ${e.by} (${e.rule}): ${e.reason}\n`;
    case 'snapshot.created':
      return `${head} snapshot after step ${e.step}: ${e.digest.slice(0, 12)}, +${e.added} ~${e.modified} -${e.deleted} files, ${e.bytesUploaded} B uploaded in ${Math.round(e.durationMs)} ms\n`;
    case 'run.moved':
      return `${head} run MOVED from runner ${e.fromRunner} to ${e.toRunner}: ${e.reason}; workspace restored from the snapshot after step ${e.afterStep} (${e.fromSnapshot.slice(0, 12)})\n`;
    case 'runner.lost':
      return `${head} runner ${e.runnerId} LOST: ${e.reason}\n`;
    case 'step.lost':
      return `${head} step ${e.step} LOST with runner ${e.runnerId}: ${e.reason}\n`;
    case 'snapshot.failed':
      return `${head} snapshot after step ${e.step} FAILED: ${e.reason}\n`;
    case 'step.decided':
      return `${head} step ${e.step} ${e.decision.toUpperCase()} by ${e.decidedBy}${decidedScope(e)}${e.note ? `: ${e.note}` : ''}\n`;
    case 'run.control':
      return `${head} ${e.verb.toUpperCase()}${e.interrupt ? ` (interrupting step ${e.interrupt.step}: SIGINT, SIGTERM after ${e.interrupt.graceMs} ms)` : ''} by ${actorText(e.actor)}${e.budgets ? ` budgets ${JSON.stringify(e.budgets)}` : ''}${e.reason ? `: ${e.reason}` : ''} (request ${e.requestId})\n`;
    case 'run.retried':
    case 'run.branched':
      return `${head} ${branchText(e)} by ${actorText(e.actor)}\n`;
    case 'run.rollback':
      return `${head} ROLLBACK ${e.jobId} to step ${e.toStep} ${e.phase.toUpperCase()}${e.diff ? ` (+${e.diff.counts.added} ~${e.diff.counts.modified} -${e.diff.counts.deleted} paths)` : ''} requested by ${actorText(e.requestedBy)}${e.approvedBy ? `, approved by ${actorText(e.approvedBy)}` : ''}${e.rejectedBy ? `, rejected by ${actorText(e.rejectedBy)}` : ''}${e.appliedBy ? `, applied by ${actorText(e.appliedBy)}` : ''}${e.phase === 'rejected' && e.reason ? `: ${e.reason}` : ''}${e.error ? `: ${e.error}` : ''}\n`;
    case 'run.governed':
      return `${head} ${e.action === 'pause' ? 'PAUSED' : 'WARNING'} (${e.cause.kind}${e.cause.kind === 'loop' ? ` ${e.cause.detector}, steps ${e.cause.steps.join(',')}` : e.cause.kind === 'budget' ? ` ${e.cause.budget} ${e.cause.used}/${e.cause.limit}` : ''}): ${e.reason}\n`;
    case 'access.denied':
      return `${head} ACCESS DENIED on ${e.subject} to ${actorText(e.actor)}: ${e.reason}\n`;
    case 'step.file':
      return `${head} step ${e.step} file.${e.file.op} ${e.file.path}: ${e.file.ok ? `ok${e.file.size !== undefined ? `, ${e.file.size} B` : ''}` : `${e.file.code}: ${e.file.message}`}\n`;
    case 'egress.connection':
      return `${head}${e.step ? ` step ${e.step}` : ''} egress ${e.decision.toUpperCase()} ${e.via === 'http' ? `${e.method ?? ''} http://` : 'CONNECT '}${e.host}:${e.port}${e.path ?? ''}${e.decision === 'allowed' ? `, ${e.bytesUp} B up, ${e.bytesDown} B down in ${e.durationMs} ms` : ''}${e.reason ? `: ${e.reason}` : ''}${e.secrets ? ` [secrets ${e.secrets.join(', ')}]` : ''}${e.flagged ? ` FLAGGED: ${e.flagged}` : ''}${e.approval && e.decision !== 'held' ? ` [egress ${e.approval}]` : ''}\n`;
    case 'egress.decided':
      return `${head} step ${e.step} egress ${e.step}.${e.hold} to ${e.host}:${e.port} ${e.decision.toUpperCase()} by ${e.decidedBy}${e.forRun ? ' for the rest of the run' : e.pause ? ' and the run PAUSED' : ''}${e.note ? `: ${e.note}` : ''}\n`;
    case 'egress.proxy':
      return `${head} egress proxy ${e.state.toUpperCase()}${e.step ? ` in step ${e.step}` : ''}: ${e.reason}\n`;
  }
}

/** A run's status in `ps`: open (paused, cancelling or suspended when governed), or closed with its termination. */
export function runStatus(r: RunRecord): string {
  if (r.status === 'closed') return `closed:${r.termination ?? '-'}`;
  if (r.suspended) return 'suspended (idle)';
  return r.control && r.control !== 'running' ? r.control : 'open';
}

/** One file's part of a workspace diff, as `diff --patch` prints it. */
export function patchLine(p: DiffPatch): string {
  if (p.kind === 'text') return p.patch.trimEnd();
  if (p.kind === 'omitted') return `Patch omitted (the reply is full): ${p.path}; run diff again with --path ${p.path}`;
  return `Binary files differ: ${p.path}${p.kind === 'too_large' ? ' (too large for a patch)' : ''}`;
}
