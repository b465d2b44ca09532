import type { Msg } from '@nats-io/transport-node';
import { decode, encode, toWireError } from '@airlock/proto';
import type { LogEventInput } from '@airlock/proto';
import type { z } from 'zod';

/**
 * Where `serveRequest` records a rejected message: the run log's writer fits (`RunLogWriter` of
 * `@airlock/ledger`). An interface, so the transport does not depend on the ledger.
 */
export interface RejectionAudit {
  append(event: Extract<LogEventInput, { type: 'message.rejected' }>): Promise<unknown>;
}

/** The little of a logger that `serveRequest` needs (pino fits). */
export interface OpsLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Answers one request: parse it against its schema (the only place `unknown` becomes a typed
 * message), run the handler, reply `{ ok, result }` or a typed `{ ok: false, error }`. A malformed
 * message is never half-processed: it gets `bad_request` and a `message.rejected` audit event.
 */
export async function serveRequest<S extends z.ZodType, R>(
  msg: Msg,
  schema: S,
  what: string,
  handle: (req: z.infer<S>) => Promise<R>,
  ctx: { audit: RejectionAudit; log: OpsLog },
): Promise<void> {
  let reply: unknown;
  try {
    const req = decode(schema, msg.data, what);
    reply = { ok: true, result: await handle(req) };
  } catch (err) {
    const wire = toWireError(err);
    if (wire.code === 'bad_request') {
      ctx.log.warn({ subject: msg.subject, error: wire.message }, 'rejected a malformed message');
      await ctx.audit
        .append({ type: 'message.rejected', subject: msg.subject, code: wire.code, message: wire.message, bytes: msg.data.length })
        .catch((e: unknown) => ctx.log.error({ err: e }, 'could not record a rejected message'));
    } else if (wire.code === 'internal') {
      ctx.log.error({ err, subject: msg.subject }, 'request failed');
    }
    reply = { ok: false, error: wire };
  }
  // A reply that cannot be sent (connection closed or draining) throws: log it, never reject.
  try {
    if (msg.reply) msg.respond(encode(reply));
  } catch (err) {
    ctx.log.warn({ err, subject: msg.subject }, 'could not send the reply');
  }
}
