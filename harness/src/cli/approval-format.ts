import type { Approval } from '@airlock/proto';

/** The lines under a held request in `approvals`: when it expires and what the decision may be. */
export function approvalDetails(a: Approval): string[] {
  const lines: string[] = [];
  if (a.status === 'pending') {
    if (a.expiresAt) lines.push(`expires ${a.expiresAt} (then it is a denial)`);
    for (const c of a.choices ?? []) lines.push(`${c.decision.padEnd(12)} ${c.label}`);
  }
  if (a.grant && a.status === 'approved') lines.push(`approved for the rest of the run: rule ${a.grant.rule}, commands starting with \`${a.grant.prefix}\``);
  return lines;
}

/** What a decision means, after `approve` / `reject`. */
export function decisionMeaning(a: Approval): string {
  if (a.grant) return `: for the rest of this run, commands held by rule ${a.grant.rule} that start with \`${a.grant.prefix}\` run (simple commands only)`;
  if (a.decision === 'reject_pause') return ': the run is paused';
  return a.status === 'approved' ? ': the same command runs once on its next exec' : '';
}
