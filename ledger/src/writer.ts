import { JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import { AirlockError, GENESIS_HASH, LogEventSchema, PROTOCOL_VERSION, encode, names, sha256Hex, subjects } from '@airlock/proto';
import type { LogEvent, LogEventInput } from '@airlock/proto';

const WRONG_LAST_SEQUENCE = 10071;
/**
 * Largest stored event, bytes: the log stream takes messages up to 1 MiB (`ensureLogStream`), and the
 * signature header rides along. An output chunk whose text would be larger once JSON-escaped (output
 * full of control characters) is stored as base64 `data` instead, at most 4/3 of its bytes.
 */
export const MAX_EVENT_BYTES = 1024 * 1024 - 16 * 1024;

export interface RunLogWriterOptions {
  /** Which process writes (`harness`, `runner:<id>`); part of every event and of the publish id. */
  by: string;
  /** Publishes of one append that may go unacknowledged before it fails. Default 8. */
  maxAttempts?: number;
  /**
   * Gives up on one append after this long without an acknowledgement, whatever the attempts left
   * (each publish waits at most what is left of it). Default 60000: a NATS node restart fits in it.
   */
  giveUpAfterMs?: number;
  /** First wait after a publish without acknowledgement; it doubles per failure, up to 16x. Default 250. */
  retryDelayMs?: number;
  /**
   * Another process usually wrote since this writer's last append (the harness between steps):
   * read the tail first instead of learning it from a refused publish. Saves a round trip.
   */
  expectOthers?: boolean;
  /**
   * Signs each event's stored bytes; the signature travels in the `Airlock-Sig` header, so readers can
   * check who wrote it. `storedSha256` is the writer's sha256 (hex) of those bytes, so a signer that
   * signs their hash need not hash them again.
   */
  sign?: (stored: Uint8Array, storedSha256: string) => string;
}

/** Options of one append. */
export interface AppendOptions {
  /** Refuse the append (with `log_unavailable`, nothing written) if this aborts before it is sent. */
  signal?: AbortSignal;
}

/** One event as it is (or may have been) published: once sent, its bytes never change. */
interface Attempt {
  event: LogEvent;
  bytes: Uint8Array;
  hash: string;
  msgId: string;
  /** Stream sequence of the subject's last message this event was built on (the publish expects it). */
  after: number;
  /** The writer's signature over `bytes` (made once: a resend carries the very same header). */
  sig: string | undefined;
}

/**
 * Appends events to one run's log subject, in order, with no gaps and no duplicates, even when
 * several processes (harness, runner) write the same run and acknowledgements get lost.
 *
 * - Each publish says which stream sequence it expects to follow on the subject
 *   (`Nats-Expected-Last-Subject-Sequence`), so two writers can never both claim the next `seq`:
 *   the loser re-reads the tail and builds its event again on top of it.
 * - An event whose publish got no acknowledgement is "in doubt": it may be stored. Until that is
 *   settled it is only ever resent byte for byte. It is settled by reading the subject's first
 *   message after the sequence it was built on: the event itself (adopted as stored, never written
 *   again), another writer's (ours can never land there now: build anew on the new tail), or nothing
 *   yet (resend it unchanged).
 * - The publish id is `runId:seq:by:<content hash>`: JetStream's duplicate window can only ever merge
 *   a resend with the very same bytes, never answer "duplicate" for a different event.
 * - Every event names the sha256 of the previous one, which makes the log tamper-evident.
 */
export class RunLogWriter {
  readonly runId: string;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #by: string;
  readonly #maxAttempts: number;
  readonly #giveUpAfterMs: number;
  readonly #retryDelayMs: number;
  #seq = 0;
  #lastStreamSeq = 0;
  #prev = GENESIS_HASH;
  #synced = false;
  readonly #expectOthers: boolean;
  readonly #sign: ((stored: Uint8Array, storedSha256: string) => string) | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(js: JetStreamClient, jsm: JetStreamManager, runId: string, opts: RunLogWriterOptions) {
    this.runId = runId;
    this.#js = js;
    this.#jsm = jsm;
    this.#by = opts.by;
    this.#maxAttempts = opts.maxAttempts ?? 8;
    this.#giveUpAfterMs = opts.giveUpAfterMs ?? 60_000;
    this.#retryDelayMs = opts.retryDelayMs ?? 250;
    this.#expectOthers = opts.expectOthers ?? false;
    this.#sign = opts.sign;
  }

  /** Sequence number of the last event this writer knows of (0 = empty log). */
  get seq(): number {
    return this.#seq;
  }

  /**
   * Appends one event and resolves with it as stored. Appends from one writer are serialised, so
   * callers may fire several without awaiting each and still get them in call order. Rejects with
   * an {@link AirlockError} `log_unavailable` when NATS did not acknowledge within the writer's budget.
   */
  append(input: LogEventInput, opts: AppendOptions = {}): Promise<LogEvent> {
    return this.#enqueue(() => {
      if (opts.signal?.aborted) throw refused(this.runId, opts.signal.reason);
      return this.#appendNow(input);
    });
  }

  /**
   * Appends that stand or fall together (the output chunks of one step): once one of them fails, the
   * later ones are refused (`log_unavailable`) without being written, so the log holds a prefix of
   * the sequence and never a hole in the middle of it. Other appends of this writer are not affected.
   */
  sequence(): { append(input: LogEventInput): Promise<LogEvent> } {
    let failed: unknown;
    return {
      append: (input) =>
        this.#enqueue(async () => {
          if (failed !== undefined) throw refused(this.runId, failed);
          try {
            return await this.#appendNow(input);
          } catch (err) {
            failed = err;
            throw err;
          }
        }),
    };
  }

  /**
   * Resolves once JetStream answers for this run's log again (its tail could be read), trying with
   * backoff: a caller that had to give up on an append waits here before it writes what must not be
   * lost (a step's end). Rejects with `log_unavailable` after `timeoutMs`, or when `signal` aborts.
   */
  waitWritable(opts: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
    return this.#enqueue(async () => {
      const deadline = Date.now() + opts.timeoutMs;
      let lastErr: unknown;
      for (let attempt = 0; Date.now() < deadline && !opts.signal?.aborted; attempt++) {
        try {
          await this.#resync();
          return;
        } catch (err) {
          lastErr = err;
          await sleep(Math.min(this.#retryDelayMs * 2 ** Math.min(attempt, 4), Math.max(0, deadline - Date.now())));
        }
      }
      throw new AirlockError('log_unavailable', `the log of run ${this.runId} is still unavailable after ${opts.timeoutMs} ms (${errText(lastErr ?? opts.signal?.reason)})`, {
        cause: lastErr ?? opts.signal?.reason,
        data: { runId: this.runId },
      });
    });
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(task);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #appendNow(input: LogEventInput): Promise<LogEvent> {
    const subject = subjects.log(this.runId);
    const deadline = Date.now() + this.#giveUpAfterMs;
    /** Sent at least once, with no acknowledgement: it may be stored. */
    let inDoubt: Attempt | null = null;
    /** The last send of `inDoubt` was refused for its expected sequence. */
    let refused = false;
    let lastErr: unknown;
    // Publishes without an acknowledgement count against `maxAttempts`; losing a race to another
    // writer does not (someone made progress), only the deadline bounds those.
    let failures = 0;
    let conflicts = 0;
    while (failures < this.#maxAttempts && Date.now() < deadline) {
      let sending: Attempt | null = null;
      let resend = false;
      try {
        if (inDoubt) {
          // Settle the unacknowledged publish before anything else is written for this input.
          const landed = await this.#firstAfter(inDoubt.after);
          if (landed && sameBytes(landed.data, inDoubt.bytes)) {
            this.#adopt(inDoubt, landed.seq);
            return inDoubt.event;
          }
          if (landed || refused) {
            // Another event holds the place ours expected (or the tail moved): ours can never be
            // stored there now. Build it anew on the current tail.
            inDoubt = null;
            this.#synced = false;
          }
        }
        if (!inDoubt && (!this.#synced || this.#expectOthers)) await this.#resync();
        refused = false;
        resend = inDoubt !== null;
        sending = inDoubt ?? this.#build(input);
        inDoubt = sending;
        const ack = await this.#js.publish(subject, sending.bytes, {
          msgID: sending.msgId,
          expect: { lastSubjectSequence: sending.after, streamName: names.logStream },
          timeout: Math.max(1000, Math.min(10_000, deadline - Date.now())),
          ...(sending.sig ? { headers: signatureHeaders(sending.sig) } : {}),
        });
        // A duplicate ack names the stored copy of these very bytes (the id carries their hash).
        this.#adopt(sending, ack.seq);
        return sending.event;
      } catch (err) {
        lastErr = err;
        if (err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE && sending !== null) {
          // Someone else appended. This send stored nothing; only an earlier send of the same bytes
          // may have (the duplicate check runs first, but settle it anyway at the top of the loop).
          if (resend) refused = true;
          else inDoubt = null;
          this.#synced = false;
          // Two writers that keep colliding step apart a little (random, so one of them wins).
          if (++conflicts > 1) await sleep(Math.random() * Math.min(5 * conflicts, 50));
          continue;
        }
        // No acknowledgement (timeout, NATS away): the event may be stored. Wait, then settle it.
        failures++;
        await sleep(Math.min(this.#retryDelayMs * 2 ** Math.min(failures - 1, 4), Math.max(0, deadline - Date.now())));
      }
    }
    throw new AirlockError(
      'log_unavailable',
      `could not append to the log of run ${this.runId} within ${this.#giveUpAfterMs} ms (${failures} publishes without acknowledgement, ${conflicts} lost races; last: ${errText(lastErr)})`,
      { cause: lastErr, data: { runId: this.runId } },
    );
  }

  #build(input: LogEventInput): Attempt {
    let event = {
      ...input,
      v: PROTOCOL_VERSION,
      runId: this.runId,
      seq: this.#seq + 1,
      ts: new Date().toISOString(),
      by: this.#by,
      prev: this.#prev,
    } as LogEvent;
    let bytes = encode(event);
    if (bytes.length > MAX_EVENT_BYTES && event.type === 'step.output' && event.text !== undefined) {
      const { text, ...rest } = event;
      event = { ...rest, data: Buffer.from(text, 'utf8').toString('base64') };
      bytes = encode(event);
    }
    const hash = sha256Hex(bytes);
    return { event, bytes, hash, msgId: `${this.runId}:${event.seq}:${this.#by}:${hash.slice(0, 32)}`, after: this.#lastStreamSeq, sig: this.#sign?.(bytes, hash) };
  }

  #adopt(a: Attempt, streamSeq: number): void {
    this.#seq = a.event.seq;
    this.#lastStreamSeq = streamSeq;
    this.#prev = a.hash;
    this.#synced = true;
  }

  /** The first message on this run's subject stored after stream sequence `after`, or null. */
  async #firstAfter(after: number): Promise<{ seq: number; data: Uint8Array } | null> {
    // MSG.GET takes `next_by_subj` (first message on the subject at or after `seq`); the client's
    // type for the non-direct API omits it.
    const query = { seq: after + 1, next_by_subj: subjects.log(this.runId) } as unknown as { seq: number };
    const m = await this.#jsm.streams.getMessage(names.logStream, query);
    return m === null ? null : { seq: m.seq, data: m.data };
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

function refused(runId: string, cause: unknown): AirlockError {
  return new AirlockError('log_unavailable', `append to the log of run ${runId} refused: ${errText(cause)}`, { cause, data: { runId } });
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function signatureHeaders(sig: string): MsgHdrs {
  const h = headers();
  h.set(names.logSignatureHeader, sig);
  return h;
}
