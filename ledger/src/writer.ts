import { createHash } from 'node:crypto';
import { JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import { GENESIS_HASH, LogEventSchema, PROTOCOL_VERSION, encode, names, subjects } from '@airlock/proto';
import type { LogEvent, LogEventInput } from '@airlock/proto';

const WRONG_LAST_SEQUENCE = 10071;

export interface RunLogWriterOptions {
  /** Which process writes (`harness`, `runner:<id>`); part of every event and of the publish id. */
  by: string;
  /** Attempts for one append when NATS does not acknowledge. Default 8 (with backoff, ~20 s). */
  maxAttempts?: number;
  /**
   * Another process usually wrote since this writer's last append (the harness between steps):
   * read the tail first instead of learning it from a refused publish. Saves a round trip.
   */
  expectOthers?: boolean;
  /** Signs each event's stored bytes; the signature travels in the `Airlock-Sig` header, so readers can check who wrote it. */
  sign?: (stored: Uint8Array) => string;
}

/**
 * Appends events to one run's log subject, in order, with no gaps and no duplicates, even when
 * several processes (harness, runner) write the same run.
 *
 * Each publish says which stream sequence it expects to follow on the subject
 * (`Nats-Expected-Last-Subject-Sequence`), so two writers can never both claim the next `seq`:
 * the loser re-reads the tail and retries. Each publish carries an id (`runId:seq:by`) so a publish
 * retried after a lost acknowledgement is dropped by JetStream's duplicate window instead of stored twice.
 * Every event names the sha256 of the previous one, which makes the log tamper-evident.
 */
export class RunLogWriter {
  readonly runId: string;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #by: string;
  readonly #maxAttempts: number;
  #seq = 0;
  #lastStreamSeq = 0;
  #prev = GENESIS_HASH;
  #synced = false;
  readonly #expectOthers: boolean;
  readonly #sign: ((stored: Uint8Array) => string) | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(js: JetStreamClient, jsm: JetStreamManager, runId: string, opts: RunLogWriterOptions) {
    this.runId = runId;
    this.#js = js;
    this.#jsm = jsm;
    this.#by = opts.by;
    this.#maxAttempts = opts.maxAttempts ?? 8;
    this.#expectOthers = opts.expectOthers ?? false;
    this.#sign = opts.sign;
  }

  /** Sequence number of the last event this writer knows of (0 = empty log). */
  get seq(): number {
    return this.#seq;
  }

  /**
   * Appends one event and resolves with it as stored. Appends from one writer are serialised, so
   * callers may fire several without awaiting each and still get them in call order.
   */
  append(input: LogEventInput): Promise<LogEvent> {
    const next = this.#queue.then(() => this.#appendNow(input));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #appendNow(input: LogEventInput): Promise<LogEvent> {
    if (!this.#synced || this.#expectOthers) await this.#resync();
    const subject = subjects.log(this.runId);
    let lastErr: unknown;
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      const event = {
        ...input,
        v: PROTOCOL_VERSION,
        runId: this.runId,
        seq: this.#seq + 1,
        ts: new Date().toISOString(),
        by: this.#by,
        prev: this.#prev,
      } as LogEvent;
      const bytes = encode(event);
      try {
        const ack = await this.#js.publish(subject, bytes, {
          msgID: `${this.runId}:${event.seq}:${this.#by}`,
          expect: { lastSubjectSequence: this.#lastStreamSeq, streamName: names.logStream },
          ...(this.#sign ? { headers: signatureHeaders(this.#sign(bytes)) } : {}),
        });
        this.#seq = event.seq;
        this.#lastStreamSeq = ack.seq;
        this.#prev = sha256Hex(bytes);
        return event;
      } catch (err) {
        lastErr = err;
        if (err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE) {
          // Someone else appended: learn the new tail and build the event again on top of it.
          await this.#resync();
          continue;
        }
        // No acknowledgement (timeout, NATS away): wait and resend. If the first publish was in fact
        // stored, the publish id makes JetStream answer "duplicate" with the original sequence.
        await sleep(Math.min(250 * 2 ** (attempt - 1), 4000));
        await this.#resync().catch(() => undefined);
      }
    }
    throw new Error(`could not append to the log of run ${this.runId} after ${this.#maxAttempts} attempts`, {
      cause: lastErr,
    });
  }

  async #resync(): Promise<void> {
    const last = await this.#jsm.streams.getMessage(names.logStream, { last_by_subj: subjects.log(this.runId) });
    if (last === null) {
      this.#seq = 0;
      this.#lastStreamSeq = 0;
      this.#prev = GENESIS_HASH;
    } else {
      const event = LogEventSchema.parse(JSON.parse(new TextDecoder().decode(last.data)));
      this.#seq = event.seq;
      this.#lastStreamSeq = last.seq;
      this.#prev = sha256Hex(last.data);
    }
    this.#synced = true;
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function signatureHeaders(sig: string): MsgHdrs {
  const h = headers();
  h.set(names.logSignatureHeader, sig);
  return h;
}
