import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { LogEventSchema, encode, names, subjects } from '@airlock/proto';
import type { LogEvent } from '@airlock/proto';
import { ensureStream } from './stream.ts';

type VerdictEvent = Extract<LogEvent, { type: 'step.verdict' }>;

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

export interface AuditQuery {
  verdict?: 'allow' | 'ask' | 'deny';
  runId?: string;
  rule?: string;
  /** Only verdicts at or after this time. */
  since?: Date;
}

/** Every indexed verdict matching the query, oldest first. */
export async function* readAudit(js: JetStreamClient, jsm: JetStreamManager, q: AuditQuery = {}): AsyncGenerator<VerdictEvent> {
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
      if (parsed.success && parsed.data.type === 'step.verdict' && (!q.rule || parsed.data.rule === q.rule)) yield parsed.data;
      if (m.info.pending === 0) return;
    }
  } finally {
    messages.stop();
  }
}
