import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { AirlockError, decodeReply, encode } from '@airlock/proto';
import { isNoResponders, isTimeout } from '@airlock/transport';
import type { z } from 'zod';

export interface AskOptions<S extends z.ZodType> {
  /** Aborts the wait (a lost runner); the abort reason is thrown. */
  signal?: AbortSignal | undefined;
  /** Sees the reply's raw `result` (what the runner signed) and the parsed one; throws to refuse it. */
  verify?: ((raw: unknown, parsed: z.infer<S>) => void) | undefined;
}

/**
 * Sends a request to a runner and parses its reply; NATS failures become typed errors (`no_runner`,
 * `timeout`), a reply that fails its schema a typed error too.
 */
export async function askRunner<S extends z.ZodType>(nc: NatsConnection, subject: string, body: unknown, result: S, timeoutMs: number, opts: AskOptions<S> = {}): Promise<z.infer<S>> {
  let msg: Msg;
  try {
    const request = nc.request(subject, encode(body), { timeout: timeoutMs });
    msg = opts.signal ? await raceAbort(request, opts.signal) : await request;
  } catch (err) {
    if (err instanceof AirlockError) throw err;
    if (isNoResponders(err)) throw new AirlockError('no_runner', `no runner answers on ${subject}`, { cause: err });
    if (isTimeout(err)) throw new AirlockError('timeout', `no reply on ${subject} within ${timeoutMs} ms`, { cause: err });
    throw err;
  }
  const parsed = decodeReply(result, msg.data, `reply on ${subject}`);
  opts.verify?.((JSON.parse(new TextDecoder().decode(msg.data)) as { result?: unknown }).result, parsed);
  return parsed;
}

/** The request's outcome, or the abort reason if the signal fires first. */
async function raceAbort<T>(request: Promise<T>, signal: AbortSignal): Promise<T> {
  // When the wait is aborted first, the request still ends later (reply or timeout): it must
  // have a listener, or its rejection goes unhandled and takes the process down.
  request.catch(() => undefined);
  let fail: (() => void) | undefined;
  try {
    return await Promise.race([
      request,
      new Promise<never>((_, reject) => {
        fail = () => reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
        if (signal.aborted) fail();
        else signal.addEventListener('abort', fail, { once: true });
      }),
    ]);
  } finally {
    if (fail) signal.removeEventListener('abort', fail);
  }
}
