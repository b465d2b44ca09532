import { AirlockError, egressApprovalId } from '@airlock/proto';
import type { Approval } from '@airlock/proto';

/** The lines under a held request in `approvals`: when it expires and what the decision may be. */
export function approvalDetails(a: Approval): string[] {
  const lines: string[] = [];
  if (a.status === 'pending') {
    if (a.expiresAt) lines.push(`expires ${a.expiresAt} (then it is a denial)`);
    for (const c of a.choices ?? []) lines.push(`${c.decision.padEnd(12)} ${c.label}`);
  }
  if (a.egress && a.grant && a.status === 'approved') lines.push(`approved for the rest of the run: connections to ${a.grant.prefix}`);
  else if (a.grant && a.status === 'approved') lines.push(`approved for the rest of the run: rule ${a.grant.rule}, commands starting with \`${a.grant.prefix}\``);
  return lines;
}

/** What a decision means, after `approve` / `reject`. */
export function decisionMeaning(a: Approval): string {
  if (a.egress) return egressMeaning(a);
  if (a.grant) return `: for the rest of this run, commands held by rule ${a.grant.rule} that start with \`${a.grant.prefix}\` run (simple commands only)`;
  if (a.decision === 'reject_pause') return ': the run is paused';
  return a.status === 'approved' ? ': the same command runs once on its next exec' : '';
}

/** What a decision on an egress hold means. */
function egressMeaning(a: Approval): string {
  if (a.grant) return `: the held connection goes through, and later connections of this run to ${a.grant.prefix} pass without asking`;
  if (a.decision === 'reject_pause') return ': the connection is refused (HTTP 403) and the run is paused';
  return a.status === 'approved' ? ': the held connection goes through (once)' : ': the connection is refused (HTTP 403)';
}

/** What `approvals` shows in its STEP column: the step, or an egress hold's id (`7.1`). */
export function heldId(a: Approval): string {
  return a.egress ? egressApprovalId(a.step, a.egress.hold) : String(a.step);
}

/** A held request as operators name it: a step number (`7`), or an egress hold (`7.1`: step 7, its first held connection). */
export function parseHeldId(v: string): { step: number; hold?: number } {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(v.trim());
  const step = m ? Number(m[1]) : NaN;
  const hold = m?.[2] !== undefined ? Number(m[2]) : undefined;
  if (!m || !Number.isSafeInteger(step) || (hold !== undefined && (!Number.isSafeInteger(hold) || hold < 1))) {
    throw new AirlockError('bad_request', `a held request is a step number (7) or an egress hold (7.1), got ${JSON.stringify(v)}`);
  }
  return hold === undefined ? { step } : { step, hold };
}
