// What an egress hold (policy `network.unlisted: ask`) means as an approval: its key in the
// approvals bucket, the choices it offers, what `approve_run` grants, and its decision as a log
// event. The book (book.ts) keeps them beside held commands; the desk (egress-desk.ts) holds them.
import { egressApprovalId } from '@airlock/proto';
import type { Approval, ApprovalChoice, ApprovalGrant, EgressTarget, LogEventInput } from '@airlock/proto';

/** The rule an unlisted connection is held under (and what an egress grant names). */
export const EGRESS_UNLISTED_RULE = 'egress.unlisted';

/** The approvals-bucket key of a held request: `<run>.<step>` for a command, `<run>.<step>-<hold>` for an egress hold. */
export function approvalKey(runId: string, step: number, hold?: number): string {
  return hold === undefined ? `${runId}.${step}` : `${runId}.${step}-${hold}`;
}

/** The key of a stored approval. */
export function keyOfApproval(a: Pick<Approval, 'runId' | 'step' | 'egress'>): string {
  return approvalKey(a.runId, a.step, a.egress?.hold);
}

/** How a held connection reads where a command would (`approvals`, the audit): `CONNECT host:port` or `GET http://host:port/path`. */
export function egressText(t: EgressTarget): string {
  return t.via === 'connect' ? `CONNECT ${t.host}:${t.port}` : `${t.method ?? 'GET'} ${t.via === 'https' ? 'https' : 'http'}://${t.host}:${t.port}${t.path ?? '/'}`;
}

/** `host:port`: what an `approve_run` of an egress hold lets through for the rest of the run. */
export function egressScope(t: Pick<EgressTarget, 'host' | 'port'>): string {
  return `${t.host}:${t.port}`;
}

/** The decisions an egress hold offers, each with what it means. */
export function egressChoices(t: EgressTarget): ApprovalChoice[] {
  return [
    { decision: 'approve', label: `approve once: this ${t.via === 'connect' ? 'connection' : 'request'} to ${egressScope(t)}` },
    { decision: 'approve_run', label: `approve for the rest of this run: connections to ${egressScope(t)} pass without asking` },
    { decision: 'reject', label: 'deny (the sandbox gets HTTP 403)' },
    { decision: 'reject_pause', label: 'deny and pause the run' },
  ];
}

/** The grant an `approve_run` of an egress hold stores. */
export function egressGrant(t: Pick<EgressTarget, 'host' | 'port'>): ApprovalGrant {
  return { rule: EGRESS_UNLISTED_RULE, prefix: egressScope(t) };
}

/** Whether an approval is a standing egress grant of this host and port. */
export function egressGrantCovers(a: Approval, host: string, port: number): boolean {
  return a.egress !== undefined && a.status === 'approved' && a.grant?.rule === EGRESS_UNLISTED_RULE && a.grant.prefix === egressScope({ host, port });
}

/** The run-log event of a decision on an egress hold. */
export function egressDecidedEvent(a: Approval, decision: 'approved' | 'rejected' | 'expired', decidedBy: string, extra: { note?: string | undefined; forRun?: boolean; pause?: boolean }): LogEventInput {
  const e = a.egress!;
  return {
    type: 'egress.decided',
    step: a.step,
    hold: e.hold,
    host: e.host,
    port: e.port,
    decision,
    decidedBy,
    ...(extra.note ? { note: extra.note } : {}),
    ...(extra.forRun ? { forRun: true } : {}),
    ...(extra.pause ? { pause: true } : {}),
  };
}

/** The operators' id of an egress hold (`7.1`). */
export function egressId(a: Approval): string {
  return egressApprovalId(a.step, a.egress?.hold ?? 0);
}
