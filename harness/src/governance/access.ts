import { AirlockError } from '@airlock/proto';
import type { Role } from '@airlock/proto';
import type { Caller } from './identity.ts';

/**
 * What each role may call, by API verb (the last word of the subject). A verb not listed here (a
 * handler added later: files, processes) is a step-like verb: agents, operators and admins.
 */
const ACCESS: Readonly<Record<string, readonly Role[]>> = {
  open: ['agent', 'operator', 'admin'],
  exec: ['agent', 'operator', 'admin'],
  close: ['agent', 'operator', 'admin'],
  ps: ['agent', 'operator', 'reviewer', 'admin'],
  status: ['agent', 'operator', 'reviewer', 'admin'],
  state: ['agent', 'operator', 'reviewer', 'admin'],
  approvals: ['agent', 'operator', 'reviewer', 'admin'],
  bundle: ['operator', 'reviewer', 'admin'],
  decide: ['operator', 'admin'],
  control: ['operator', 'admin'],
  retry: ['operator', 'admin'],
  rollback: ['operator', 'admin'],
  diff: ['agent', 'operator', 'reviewer', 'admin'],
  reader: ['agent', 'operator', 'reviewer', 'admin'],
  session: ['agent', 'operator', 'reviewer', 'admin'],
  snapshot: ['agent', 'operator', 'reviewer', 'admin'],
};
const STEP_LIKE: readonly Role[] = ['agent', 'operator', 'admin'];

/** The roles that may call `verb`. */
export function rolesFor(verb: string): readonly Role[] {
  return ACCESS[verb] ?? STEP_LIKE;
}

/** Throws `forbidden` unless the caller's role may call `verb`. */
export function authorize(caller: Caller, verb: string): void {
  const allowed = rolesFor(verb);
  if (!allowed.includes(caller.role)) {
    throw new AirlockError('forbidden', `${caller.principal} (${caller.role}) may not call ${verb}: only ${allowed.join(', ')}`, { data: { verb, role: caller.role } });
  }
}

/**
 * Throws `forbidden` when an agent reaches for a run that is not its own: one another principal
 * opened, or (run-scoped credential) one its credential does not name. Operators, reviewers and
 * admins see every run.
 */
export function authorizeRun(caller: Caller, runId: string, openedBy: string | undefined): void {
  if (caller.role !== 'agent') return;
  const named = caller.runs?.includes(runId) ?? false;
  const own = openedBy !== undefined && openedBy === caller.principal;
  if (caller.runs && !named && !own) throw new AirlockError('forbidden', `this credential of ${caller.principal} is limited to runs ${caller.runs.join(', ')}; run ${runId} is not one of them`, { data: { runId } });
  if (!caller.runs && !own && openedBy !== undefined) throw new AirlockError('forbidden', `run ${runId} belongs to ${openedBy}, not to ${caller.principal}`, { data: { runId } });
}

/** Nobody approves (or rejects) a step they asked for themselves. */
export function refuseSelfDecision(caller: Caller, requestedBy: string | undefined, what: string): void {
  if (requestedBy !== undefined && requestedBy === caller.principal) {
    throw new AirlockError('forbidden', `${caller.principal} asked for ${what} and may not decide it: another operator must`, { data: { rule: 'self_approval' } });
  }
}
