import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { LogEventSchema, encode, names, subjects } from '@airlock/proto';
import type { LogEvent } from '@airlock/proto';
import { ensureStream } from './stream.ts';

type VerdictEvent = Extract<LogEvent, { type: 'step.verdict' }>;
type EgressEvent = Extract<LogEvent, { type: 'egress.connection' }>;
type RollbackEvent = Extract<LogEvent, { type: 'run.rollback' }>;
/** Operators' controls on a run (pause, resume, cancel, kill, raise; a retry on a branch) and the harness's own governance pauses and warnings. */
export type ControlEntry = Extract<LogEvent, { type: 'run.control' | 'run.retried' | 'run.governed' }>;
/** What the audit index holds: verdicts, egress connections the run's proxy denied, rollback jobs' phases, and controls. */
export type AuditEntry = VerdictEvent | EgressEvent | RollbackEvent | ControlEntry;
/** The rule id controls and governance actions are listed under (and the verdict token of their index subject). */
export const CONTROL_RULE = 'control';
const CONTROL_TYPES: ReadonlySet<LogEvent['type']> = new Set(['run.control', 'run.retried', 'run.governed']);

/** True for the events `indexControl` takes. */
export function isControlEntry(e: LogEvent): e is ControlEntry {
  return CONTROL_TYPES.has(e.type);
}
/** The rule id rollback phases are listed under (and the verdict token of their index subject). */
export const ROLLBACK_RULE = 'rollback';
/** The rule id a denied egress connection is listed under. */
export const EGRESS_DENIED_RULE = 'egress.denied';
/** The rule id a held egress connection (policy `network.unlisted: ask`) is listed under. */
export const EGRESS_HELD_RULE = 'egress.unlisted';

/** Creates the audit index stream when it does not exist. */
export function ensureAuditStream(jsm: JetStreamManager, opts: { replicas?: number } = {}): Promise<void> {
  return ensureStream(jsm, names.auditStream, [subjects.auditAll], opts.replicas ?? 1);
}

/**
 * Indexes a verdict already written to its run's (hash-chained) log, under its verdict, so
 * reviewers can list denials without reading every run's output. The run log stays the record.
 */
export async function indexVerdict(js: JetStreamClient, event: VerdictEvent): Promise<void> {
  await js.publish(subjects.audit(event.verdict, event.runId), encode(event), { msgID: `${event.runId}:${event.seq}` });
}

/**
 * Indexes a denied egress connection already written to its run's log (as a `deny`, rule
 * `egress.denied`), so blocked egress is listed beside blocked commands.
 */
export async function indexEgressDenial(js: JetStreamClient, event: EgressEvent): Promise<void> {
  await js.publish(subjects.audit('deny', event.runId), encode(event), { msgID: `${event.runId}:${event.seq}` });
}

/**
 * Indexes an egress connection the harness holds for an operator (decision `held`, rule
 * `egress.unlisted`), under `ask`, as a held command's verdict is.
 */
export async function indexEgressHold(js: JetStreamClient, event: EgressEvent): Promise<void> {
  await js.publish(subjects.audit('ask', event.runId), encode(event), { msgID: `${event.runId}:${event.seq}` });
}

/**
 * Indexes one phase of a rollback job already written to its run's log (planned, approved, rejected,
 * applying, applied, failed), so reviewers see who changed a workspace beside what was blocked.
 */
export async function indexRollback(js: JetStreamClient, event: RollbackEvent): Promise<void> {
  await js.publish(subjects.audit(ROLLBACK_RULE, event.runId), encode(event), { msgID: `${event.runId}:${event.seq}` });
}

/**
 * Indexes a control already written to its run's log (who paused, resumed, cancelled, killed,
 * raised or retried it, and when the harness paused or warned on a budget or a loop), so reviewers
 * see who steered a run beside what was blocked.
 */
export async function indexControl(js: JetStreamClient, event: ControlEntry): Promise<void> {
  await js.publish(subjects.audit(CONTROL_RULE, event.runId), encode(event), { msgID: `${event.runId}:${event.seq}` });
}

export interface AuditQuery {
  verdict?: 'allow' | 'ask' | 'deny';
  runId?: string;
  rule?: string;
  /** Only verdicts at or after this time. */
  since?: Date;
}

/** Every indexed verdict matching the query, oldest first. */
export async function* readAudit(js: JetStreamClient, jsm: JetStreamManager, q: AuditQuery = {}): AsyncGenerator<VerdictEvent> {
  for await (const e of readAuditEntries(js, jsm, q)) if (e.type === 'step.verdict') yield e;
}

/** Every indexed entry (verdicts and denied egress) matching the query, oldest first. */
export async function* readAuditEntries(js: JetStreamClient, jsm: JetStreamManager, q: AuditQuery = {}): AsyncGenerator<AuditEntry> {
  const filter = subjects.audit(q.verdict ?? '*', q.runId ?? '*');
  const info = await jsm.streams.info(names.auditStream).catch(() => null);
  if (!info || info.state.messages === 0) return;
  const consumer = await js.consumers.get(names.auditStream, {
    filter_subjects: filter,
    ...(q.since ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: q.since.toISOString() } : { deliver_policy: DeliverPolicy.All }),
  });
  // Nothing matches (a filter or a start time past every verdict): consuming would wait forever.
  if ((await consumer.info(true)).num_pending === 0) return;
  const messages = await consumer.consume({ max_messages: 512 });
  try {
    for await (const m of messages) {
      const parsed = LogEventSchema.safeParse(m.json());
      if (parsed.success) {
        const e = parsed.data;
        if (e.type === 'step.verdict' && (!q.rule || e.rule === q.rule)) yield e;
        if (e.type === 'egress.connection' && (!q.rule || q.rule === (e.decision === 'held' ? EGRESS_HELD_RULE : EGRESS_DENIED_RULE))) yield e;
        if (e.type === 'run.rollback' && (!q.rule || q.rule === ROLLBACK_RULE)) yield e;
        if (isControlEntry(e) && (!q.rule || q.rule === CONTROL_RULE)) yield e;
      }
      if (m.info.pending === 0) return;
    }
  } finally {
    messages.stop();
  }
}
