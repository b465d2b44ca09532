// Where a step starts: the caller's `cwd`, else (with keepCwd) where the previous step ended. The
// step's command is then validated, approved and run as `cd '<dir>' || exit 1; <command>`, so the
// validation chain resolves every relative path from the directory the command really runs in.
import { posix } from 'node:path';
import { AirlockError } from '@airlock/proto';
import type { ApiExecRequest, RunRecord } from '@airlock/proto';

/** How one step runs with respect to the session: its text and whether it reports its final cwd. */
export interface StepPlan {
  /** The text validated, signed and run. */
  cmd: string;
  /** The runner reports the step's final working directory (the run keeps it for the next step). */
  reportCwd: boolean;
  /** The directory the step starts in, if not the workspace. */
  cwd?: string;
}

/** Quotes a string for bash as one word. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The plan of a step: `req.cwd` (absolute, or relative to the workspace) wins; else with keepCwd
 * (the request's, else the run's) the run's last reported directory; else the workspace, unchanged.
 */
export function planStep(record: Pick<RunRecord, 'mountPath' | 'keepCwd' | 'cwd'>, req: Pick<ApiExecRequest, 'cmd' | 'cwd' | 'keepCwd'>): StepPlan {
  const keep = req.keepCwd ?? record.keepCwd ?? false;
  let dir: string | undefined;
  if (req.cwd !== undefined) {
    if (/[\0\n\x1e]/.test(req.cwd)) throw new AirlockError('bad_request', 'cwd has a NUL, newline or record-separator character');
    dir = posix.normalize(req.cwd.startsWith('/') ? req.cwd : `${record.mountPath}/${req.cwd}`);
  } else if (keep && record.cwd) {
    dir = record.cwd;
  }
  if (dir === undefined || dir === record.mountPath) return { cmd: req.cmd, reportCwd: keep };
  return { cmd: `cd ${shellQuote(dir)} || exit 1; ${req.cmd}`, reportCwd: keep, cwd: dir };
}
