// What a client's runs and processes share (internal, not exported by the package): the NATS
// handles, the harness watch, and one way to ask the harness.
import type { z } from 'zod';
import { headers as natsHeaders, type Msg } from '@nats-io/transport-node';
import { AirlockError, ApiReaderResultSchema, PROTOCOL_VERSION, decodeReply, encode, subjects } from '@airlock/proto';
import type { NatsHandles } from './connection.ts';
import type { HarnessWatch } from './harness-watch.ts';
import { LogReaders, type ReaderConnectOptions } from './readers.ts';
import { HarnessLostError, isNoResponders, isTimeout, refine } from './errors.ts';

export interface RequestOptions {
  /** Deadline of the reply, in ms. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Data for a `harness_lost` error (e.g. the step the harness was running). */
  lostData?: () => Record<string, unknown>;
}

/** Header that carries the caller's credential (the harness reads it on every request). */
export const CREDENTIAL_HEADER = 'Airlock-Credential';

export class Link {
  readonly nats: NatsHandles;
  readonly watch: HarnessWatch;
  /** The servers as given (for messages). */
  readonly where: string;
  readonly #credential: string | undefined;
  /** Where each run's log is read from (a per-run reader user for an agent in an operator-mode deployment). */
  readonly readers: LogReaders;

  constructor(nats: NatsHandles, watch: HarnessWatch, where: string, credential?: string, reach: ReaderConnectOptions = { servers: [] }) {
    this.nats = nats;
    this.watch = watch;
    this.where = where;
    this.#credential = credential;
    const ask = credential ? (runId: string, publicKey: string) => this.send(subjects.api.reader, { runId, publicKey }, ApiReaderResultSchema, 10_000) : undefined;
    this.readers = new LogReaders(nats, ask, reach);
  }

  /**
   * Sends one harness API request; the promise settles with its parsed result or the typed error
   * the reply carries, or `no_harness` / `timeout`. No harness watch: see {@link request}.
   */
  send<S extends z.ZodType>(subject: string, body: Record<string, unknown>, result: S, timeoutMs: number): Promise<z.infer<S>> {
    const h = this.#credential ? natsHeaders() : undefined;
    if (h && this.#credential) h.set(CREDENTIAL_HEADER, this.#credential);
    const sent = this.nats.nc.request(subject, encode({ v: PROTOCOL_VERSION, ...body }), { timeout: timeoutMs, ...(h ? { headers: h } : {}) }).then(
      (msg: Msg) => {
        try {
          return decodeReply(result, msg.data, `reply on ${subject}`);
        } catch (err) {
          throw refine(err);
        }
      },
      (cause: unknown) => {
        if (isNoResponders(cause)) throw new AirlockError('no_harness', `no harness answers at ${this.where}; start one with \`./airlock up\``, { cause });
        if (isTimeout(cause)) throw new AirlockError('timeout', `the harness did not answer within ${timeoutMs} ms`, { cause });
        throw cause;
      },
    );
    // Whoever stops waiting early leaves this promise behind: it must never be an unhandled rejection.
    sent.catch(() => undefined);
    return sent;
  }

  /** Waits for `work`, failing early when the harness goes silent (`harness_lost`) or `signal` aborts. */
  guard<T>(work: Promise<T>, opts: { signal?: AbortSignal | undefined; lostData?: () => Record<string, unknown> }): Promise<T> {
    return this.watch.guard(work, { signal: opts.signal, lost: (silentMs) => this.lost(silentMs, opts.lostData?.()) });
  }

  /**
   * Sends one harness API request and waits for its reply: at most `timeoutMs`, and less when the
   * harness goes silent or `signal` aborts.
   */
  request<S extends z.ZodType>(subject: string, body: Record<string, unknown>, result: S, opts: RequestOptions): Promise<z.infer<S>> {
    opts.signal?.throwIfAborted();
    return this.guard(this.send(subject, body, result, opts.timeoutMs), opts);
  }

  lost(silentMs: number, data: Record<string, unknown> = {}): HarnessLostError {
    const step = typeof data.step === 'number' ? ` during step ${data.step}${typeof data.runId === 'string' ? ` of run ${data.runId}` : ''}; its outcome will be in the run log (run.result(${data.step}))` : '';
    return new HarnessLostError(`no harness heartbeat for ${Math.round(silentMs / 100) / 10} s (the harness died, or this client lost NATS at ${this.where})${step}`, { ...data, silentMs });
  }
}
