// Where a step starts: the caller's `cwd`, else (with keepCwd) where the previous step ended. The
// step's command is then validated, approved and run as `cd '<dir>' || exit 1; <command>`, so the
// validation chain resolves every relative path from the directory the command really runs in.
import { posix } from 'node:path';
import { AirlockError, MAX_SESSION_ENV_BYTES, MAX_SESSION_VARS } from '@airlock/proto';
import type { ApiExecRequest, RunRecord } from '@airlock/proto';

/** How one step runs with respect to the session: its text and whether it reports its final cwd. */
export interface StepPlan {
  /** The text validated, signed and run. */
  cmd: string;
  /** The runner reports the step's final working directory (the run keeps it for the next step). */
  reportCwd: boolean;
  /** The runner reports what the step exported (the run keeps it for the next step). */
  reportEnv: boolean;
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
export function planStep(record: Pick<RunRecord, 'mountPath' | 'keepCwd' | 'cwd' | 'keepEnv' | 'sessionEnv'>, req: Pick<ApiExecRequest, 'cmd' | 'cwd' | 'keepCwd' | 'keepEnv'>): StepPlan {
  const keep = req.keepCwd ?? record.keepCwd ?? false;
  const keepEnv = req.keepEnv ?? record.keepEnv ?? false;
  // Kept variables go in front as `export`s: the validation chain judges them like any assignment.
  const vars = keepEnv ? Object.entries(record.sessionEnv ?? {}) : [];
  const exports = vars.length > 0 ? `export ${vars.map(([k, v]) => `${k}=${shellQuote(v)}`).join(' ')}; ` : '';
  let dir: string | undefined;
  if (req.cwd !== undefined) {
    if (/[\0\n\x1e]/.test(req.cwd)) throw new AirlockError('bad_request', 'cwd has a NUL, newline or record-separator character');
    dir = posix.normalize(req.cwd.startsWith('/') ? req.cwd : `${record.mountPath}/${req.cwd}`);
  } else if (keep && record.cwd) {
    dir = record.cwd;
  }
  if (dir === undefined || dir === record.mountPath) return { cmd: exports + req.cmd, reportCwd: keep, reportEnv: keepEnv };
  return { cmd: `${exports}cd ${shellQuote(dir)} || exit 1; ${req.cmd}`, reportCwd: keep, reportEnv: keepEnv, cwd: dir };
}

/**
 * The variables a run keeps after a step exported `changed`: the earlier ones with these on top,
 * within {@link MAX_SESSION_VARS} and {@link MAX_SESSION_ENV_BYTES} (what does not fit is not kept).
 */
export function keptEnv(before: Record<string, string> | undefined, changed: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  let bytes = 0;
  for (const [k, v] of Object.entries({ ...before, ...changed })) {
    const size = k.length + Buffer.byteLength(v) + 2;
    if (Object.keys(out).length >= MAX_SESSION_VARS || bytes + size > MAX_SESSION_ENV_BYTES || /[\0]/.test(v)) continue;
    out[k] = v;
    bytes += size;
  }
  return out;
}
