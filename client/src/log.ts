import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { LogChain, logTail, names, subjects, type LogEvent } from '@airlock/proto';
import { abortReason } from './errors.ts';

/** Options of a read of a run's log. */
export interface ReadLogOptions {
  /** First event to return, by its per-run sequence (1 = the first). Default 1. */
  fromSeq?: number;
  /**
   * Start at this JetStream stream sequence instead of the run's first event (what {@link logTail}
   * returns); the chain is then checked from the first event read.
   */
  fromStreamSeq?: number;
  /** After the events stored now, keep waiting for new ones. Default true. A `run.closed` event ends the read. */
  follow?: boolean;
  /** End the read after the first event this returns true for. */
  until?: (event: LogEvent) => boolean;
  /** Stops the read: the iterator throws the signal's reason. */
  signal?: AbortSignal;
}

/**
 * A run's events in order, through an ordered consumer (which re-creates itself after a disconnect
 * from the last sequence it delivered: no gap, no duplicate). Every event is checked against the
 * hash chain as it is read: a missing, duplicated or changed event throws `verification_failed`.
 * Without `follow` the read ends at the last event stored when it began.
 *
 * The client's own reader (the services use `@airlock/ledger`'s): the SDK must not depend on the
 * ledger package, and this one adds what a client needs (abort as an error, end at `run.closed`).
 */
export async function* readLog(js: JetStreamClient, jsm: JetStreamManager, runId: string, opts: ReadLogOptions = {}): AsyncGenerator<LogEvent> {
  const follow = opts.follow ?? true;
  const subject = subjects.log(runId);
  opts.signal?.throwIfAborted();
  const last = follow ? null : await lastOf(jsm, subject);
  if (!follow && (last === null || (opts.fromStreamSeq ?? 0) > last.seq)) return;
  const consumer = await js.consumers.get(names.logStream, {
    filter_subjects: subject,
    ...(opts.fromStreamSeq ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.fromStreamSeq } : { deliver_policy: DeliverPolicy.All }),
  });
  // Short pulls when following: after NATS comes back, a lost pull is noticed within seconds.
  const messages = await consumer.consume({ max_messages: 256, ...(follow ? { expires: 5000 } : {}) });
  const stop = () => void messages.stop();
  opts.signal?.addEventListener('abort', stop, { once: true });
  const fromSeq = opts.fromSeq ?? 1;
  const chain = new LogChain(runId, { fromStart: !opts.fromStreamSeq });
  try {
    for await (const m of messages) {
      const event = chain.next(m.data, m.seq);
      if (event.seq >= fromSeq) yield event;
      if (opts.until?.(event) || event.type === 'run.closed') return;
      if (last && m.seq >= last.seq) return;
    }
    // The consumer stopped without an end event: only an abort does that.
    if (opts.signal?.aborted) throw abortReason(opts.signal);
  } finally {
    opts.signal?.removeEventListener('abort', stop);
    messages.stop();
  }
}

export { logTail };

/**
 * The last message on a log subject, by a direct get that names the subject in the request subject
 * (`$JS.API.DIRECT.GET.<stream>.<subject>`), not in its body: NATS permissions can then allow a
 * reader one run's tail and refuse it every other run's (a per-run reader, `harness/src/natsauth`).
 */
function lastOf(jsm: JetStreamManager, subject: string): Promise<{ seq: number; data: Uint8Array } | null> {
  return jsm.direct.getMessage(names.logStream, { last_by_subj: subject });
}
