// A retry's branch starts where its parent's step N started: in the working directory and with the
// exported variables the parent's session held before step N (keepCwd / keepEnv runs), not only on
// the workspace snapshot. Both are folded from the parent's log: each `step.exited` carries the
// directory and the exports its step reported, exactly what the harness kept in the parent's record
// after it (runs/steps.ts), so the fold gives the record as it was before step N.
import type { LogEvent, RunRecord } from '@airlock/proto';
import { keptEnv } from '../processes/session.ts';
import type { RunRecords } from './records.ts';

/** The session of a run before one of its steps: where it would start, and the variables kept. */
export interface SessionBefore {
  cwd?: string;
  env: Record<string, string>;
}

/** The parent's session before step `step`, from its checked log (steps before `step` only). */
export function sessionBefore(events: readonly LogEvent[], step: number): SessionBefore {
  let cwd: string | undefined;
  let env: Record<string, string> = {};
  for (const e of events) {
    if (e.type !== 'step.exited' || e.step >= step) continue;
    if (e.result.cwd) cwd = e.result.cwd;
    if (e.result.env && Object.keys(e.result.env).length > 0) env = keptEnv(env, e.result.env);
  }
  return { ...(cwd ? { cwd } : {}), env };
}

/**
 * Writes the session into a just-opened branch's record (compare-and-set, retried), so its first
 * step (the retried one) and the next ones start as the parent's step did.
 */
export async function carrySession(records: RunRecords, runId: string, session: SessionBefore): Promise<void> {
  if (!session.cwd && Object.keys(session.env).length === 0) return;
  for (let attempt = 0; ; attempt++) {
    const { record, revision } = await records.get(runId, { fresh: attempt > 0 });
    const next: RunRecord = { ...record, ...(session.cwd ? { cwd: session.cwd } : {}), ...(Object.keys(session.env).length > 0 ? { sessionEnv: session.env } : {}) };
    try {
      await records.save(next, revision);
      return;
    } catch (err) {
      records.forget(runId);
      if (attempt >= 4) throw err;
    }
  }
}
