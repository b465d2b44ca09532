import type { z } from 'zod';
import { AirlockError, type WireError } from './errors.ts';
import { replySchema } from './messages/common.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Serialises a message for the wire. */
export function encode(message: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

/**
 * Parses bytes from the wire against a schema: the one place where `unknown` becomes a typed message.
 * Throws `AirlockError('bad_request')` naming the first problems, never a half-parsed value.
 */
export function decode<S extends z.ZodType>(schema: S, bytes: Uint8Array, what = 'message'): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new AirlockError('bad_request', `${what} is not valid UTF-8 JSON`, { cause });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new AirlockError('bad_request', `${what} does not match its schema: ${issues.join('; ')}`, {
      data: { issues },
    });
  }
  return parsed.data;
}

/**
 * Parses a reply (`{ ok, result }` or `{ ok: false, error }`) and returns its result, or throws the
 * error it carries as an `AirlockError` with the same code. A reply that fails its schema is `bad_request`.
 */
export function decodeReply<S extends z.ZodType>(result: S, bytes: Uint8Array, what = 'reply'): z.infer<S> {
  const reply = decode(replySchema(result), bytes, what) as { ok: true; result: z.infer<S> } | { ok: false; error: WireError };
  if (!reply.ok) throw AirlockError.fromWire(reply.error);
  return reply.result;
}
