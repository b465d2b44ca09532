// How `./airlock audit` lists a denied egress connection beside the denied commands: the same
// columns, rule `egress.denied` (or `egress.unlisted`, ASK, for one held for an operator), and the
// connection where a verdict shows its command.
import type { LogEvent } from '@airlock/proto';

type EgressEvent = Extract<LogEvent, { type: 'egress.connection' }>;

/** Two lines in the audit table's columns (TIME, RUN, STEP, VERDICT, RULE, BY, REASON / target). */
export function egressAuditRow(e: EgressEvent): string {
  const target = e.via === 'connect' ? `CONNECT ${e.host}:${e.port}` : `${e.method ?? ''} ${e.via}://${e.host}:${e.port}${e.path ?? ''}`;
  const row = [e.ts.padEnd(24), e.runId.padEnd(26), (e.step === undefined ? '-' : String(e.step)).padStart(4), (e.decision === 'held' ? 'ASK' : 'DENY').padEnd(7), (e.decision === 'held' ? 'egress.unlisted' : 'egress.denied').padEnd(28), e.by.padEnd(14), e.reason ?? ''].join('  ');
  return `${row}\n${' '.repeat(24 + 2 + 26 + 2 + 4 + 2 + 7 + 2 + 28 + 2 + 14 + 2)}→ ${target}`;
}
