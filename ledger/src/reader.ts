import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { LogChain, logTail, names, subjects } from '@airlock/proto';
import type { LogEvent } from '@airlock/proto';

export interface ReadLogOptions {
  /** First per-run sequence to return (1 = from the start). */
  fromSeq?: number;
  /** Start reading at this stream sequence instead of the run's first event (see `logTail`). */
  fromStreamSeq?: number;
  /** Keep waiting for new events after the current end. */
  follow?: boolean;
  /** Stop following once this event is read (e.g. `run.closed`). */
  until?: (event: LogEvent) => boolean;
  signal?: AbortSignal;
}

/**
 * Reads one run's events in order through an ordered consumer, which re-creates itself after a
 * disconnect from the last sequence it delivered, so a follower sees no gap and no duplicate.
 * Without `follow` it ends at the last event stored when the read began.
 *
 * Checks the chain as it reads: each event must carry the next `seq` and the sha256 of the event
 * before it (a read from the start must begin at `seq` 1 on the genesis hash). A gap, a duplicate or
 * a changed event throws an {@link AirlockError} `verification_failed` naming the place.
 */
export async function* readRunLog(
  js: JetStreamClient,
  jsm: JetStreamManager,
  runId: string,
  opts: ReadLogOptions = {},
): AsyncGenerator<LogEvent> {
  const subject = subjects.log(runId);
  // Without --follow the read ends at the tail as it is now; a follower needs no tail.
  const last = opts.follow ? null : await jsm.streams.getMessage(names.logStream, { last_by_subj: subject });
  if (!opts.follow && (last === null || (opts.fromStreamSeq ?? 0) > last.seq)) return;
  const endStreamSeq = last?.seq ?? 0;

  const consumer = await js.consumers.get(names.logStream, {
    // One subject as a string: nats-server 2.9 knows `filter_subject` only.
    filter_subjects: subject,
    ...(opts.fromStreamSeq
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.fromStreamSeq }
      : { deliver_policy: DeliverPolicy.All }),
  });
  // Short pulls for a follower: after NATS comes back, a lost pull is noticed by its missing
  // heartbeats (half of `expires`) and the ordered consumer resumes, within seconds, not half a minute.
  const messages = await consumer.consume({ max_messages: 256, ...(opts.follow ? { expires: 5000 } : {}) });
  const stop = () => void messages.stop();
  opts.signal?.addEventListener('abort', stop, { once: true });
  const fromSeq = opts.fromSeq ?? 1;
  const chain = new LogChain(runId, { fromStart: !opts.fromStreamSeq });
  try {
    if (opts.signal?.aborted) return;
    for await (const m of messages) {
      const event = chain.next(m.data, m.seq);
      if (event.seq >= fromSeq) yield event;
      if (opts.until?.(event)) return;
      if (!opts.follow && m.seq >= endStreamSeq) return;
    }
  } finally {
    opts.signal?.removeEventListener('abort', stop);
    // stop(), not close(): close() waits for a drain that never comes if iteration never began.
    messages.stop();
  }
}

export { logTail };

/** A run's events as the exact bytes stored (what the hash chain covers), in order. */
export async function readRunLogRaw(js: JetStreamClient, jsm: JetStreamManager, runId: string): Promise<Uint8Array[]> {
  const subject = subjects.log(runId);
  const last = await jsm.streams.getMessage(names.logStream, { last_by_subj: subject });
  if (last === null) return [];
  const consumer = await js.consumers.get(names.logStream, { filter_subjects: subject, deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 256 });
  const out: Uint8Array[] = [];
  try {
    for await (const m of messages) {
      out.push(new Uint8Array(m.data));
      if (m.seq >= last.seq) break;
    }
  } finally {
    messages.stop();
  }
  return out;
}
