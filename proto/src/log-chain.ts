import { sha256Hex } from './canonical.ts';
import { AirlockError } from './errors.ts';
import { GENESIS_HASH, LogEventSchema, type LogEvent } from './messages/log.ts';
import { names, subjects } from './subjects.ts';

/**
 * The hash chain of one run's log, checked event by event as a reader reads it: each event must
 * carry the next `seq` and the sha256 of the exact bytes of the event before it. Read from the start,
 * the first event is known (seq 1 on the genesis hash); read from a stream position, the first event
 * is taken as it is and the chain is checked from there. Every reader of a run log (the SDK's, the
 * services') checks through this one class, so they cannot disagree on what a broken log is.
 */
export class LogChain {
  readonly runId: string;
  #expected: number;
  #prev: string;

  constructor(runId: string, opts: { fromStart: boolean }) {
    this.runId = runId;
    this.#expected = opts.fromStart ? 1 : 0;
    this.#prev = opts.fromStart ? GENESIS_HASH : '';
  }

  /** Parses one stored event and checks it follows the last one; throws `verification_failed` naming the place. */
  next(bytes: Uint8Array, streamSeq?: number): LogEvent {
    const event = LogEventSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
    const where = streamSeq === undefined ? {} : { streamSeq };
    if (this.#expected !== 0 && event.seq !== this.#expected) {
      throw new AirlockError('verification_failed', `log of run ${this.runId} is broken: expected event ${this.#expected}, got ${event.seq} (${event.seq < this.#expected ? 'duplicate' : 'gap'})`, {
        data: { runId: this.runId, expected: this.#expected, got: event.seq, ...where },
      });
    }
    if (this.#prev !== '' && event.prev !== this.#prev) {
      throw new AirlockError('verification_failed', `log of run ${this.runId} is broken: event ${event.seq} does not name the hash of the event before it (changed or inserted event)`, {
        data: { runId: this.runId, seq: event.seq, ...where },
      });
    }
    this.#expected = event.seq + 1;
    this.#prev = sha256Hex(bytes);
    return event;
  }
}

/**
 * What {@link logTail} needs of a JetStream manager (any client's `jsm` has it): a direct get that
 * names the run's subject in the request subject, so NATS permissions can allow a reader one run's
 * tail and refuse it every other run's (`harness/src/natsauth/run-readers.ts`).
 */
export interface LastMessageReader {
  direct: { getMessage(stream: string, query: { last_by_subj: string }): Promise<{ seq: number; data: Uint8Array } | null> };
}

/** Where a run's log ends now: its last event's per-run and stream sequences (0, 0 when empty). */
export async function logTail(jsm: LastMessageReader, runId: string): Promise<{ seq: number; streamSeq: number }> {
  const last = await jsm.direct.getMessage(names.logStream, { last_by_subj: subjects.log(runId) });
  if (last === null) return { seq: 0, streamSeq: 0 };
  const event = LogEventSchema.parse(JSON.parse(new TextDecoder().decode(last.data)));
  return { seq: event.seq, streamSeq: last.seq };
}
