// JSON-RPC as Codex's exec-server transport speaks it over stdio: one JSON object per line, no
// `"jsonrpc"` member (Codex's app-server envelope omits it), requests `{id, method, params}`,
// notifications `{method, params}`, replies `{id, result}` or `{id, error: {code, message}}`.
import { z } from 'zod';

/** JSON-RPC error codes this server answers with, and what each means to Codex. */
export const rpcErrorCodes = {
  /** A line that is not JSON. */
  parseError: -32700,
  /** Well-formed JSON that is not a request, or a request before `initialize`. Codex maps it to `InvalidInput`. */
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
  /** A path that does not exist: Codex's remote file system maps exactly this code to `NotFound`. */
  notFound: -32004,
} as const;
export type RpcErrorCode = (typeof rpcErrorCodes)[keyof typeof rpcErrorCodes];

/** A failure to answer a request, carried to Codex as a JSON-RPC error object. */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  readonly code: RpcErrorCode;

  constructor(code: RpcErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

const IdSchema = z.union([z.number(), z.string()]);
export type RpcId = z.infer<typeof IdSchema>;

/** Anything Codex may send: a request (with `id`) or a notification (without). */
export const IncomingSchema = z.object({
  id: IdSchema.optional(),
  method: z.string().min(1).max(200),
  params: z.unknown().optional(),
});
export type Incoming = z.infer<typeof IncomingSchema>;

/** What this server writes: replies and notifications. */
export type Outgoing =
  | { id: RpcId | null; result: unknown }
  | { id: RpcId | null; error: { code: number; message: string } }
  | { method: string; params: unknown };

/** Largest line accepted (a `fs/writeFile` carries the whole file in base64). */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * Splits a byte stream into lines without decoding partial UTF-8 sequences. A line longer than
 * `maxLineBytes` is dropped whole and reported as `{ tooLong: bytes }`, so one bad message never
 * desynchronises the ones after it.
 */
export class LineSplitter {
  readonly #maxLineBytes: number;
  #parts: Buffer[] = [];
  #size = 0;
  #discarding = false;

  constructor(maxLineBytes = MAX_LINE_BYTES) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** Feeds bytes; returns the complete lines they finish, in order. */
  push(chunk: Buffer): Array<string | { tooLong: number }> {
    const out: Array<string | { tooLong: number }> = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, nl === -1 ? chunk.length : nl);
      this.#append(piece);
      if (nl === -1) break;
      out.push(this.#take());
      start = nl + 1;
    }
    return out;
  }

  /** What is left when the stream ends (a last line without a newline), if anything. */
  end(): Array<string | { tooLong: number }> {
    return this.#size > 0 || this.#discarding ? [this.#take()] : [];
  }

  #append(piece: Buffer): void {
    this.#size += piece.length;
    if (this.#size > this.#maxLineBytes) {
      this.#discarding = true;
      this.#parts = [];
      return;
    }
    if (!this.#discarding && piece.length > 0) this.#parts.push(Buffer.from(piece));
  }

  #take(): string | { tooLong: number } {
    const line = this.#discarding ? { tooLong: this.#size } : Buffer.concat(this.#parts).toString('utf8').replace(/\r$/, '');
    this.#parts = [];
    this.#size = 0;
    this.#discarding = false;
    return line;
  }
}

/** A parsed line: a message, or the error reply it deserves (id null when it had none we could read). */
export type ParsedLine = { ok: true; message: Incoming } | { ok: false; reply: Outgoing };

/** Parses one line into a request/notification, or the JSON-RPC error to send back. */
export function parseLine(line: string | { tooLong: number }): ParsedLine {
  if (typeof line !== 'string') {
    return { ok: false, reply: errorReply(null, new RpcError(rpcErrorCodes.invalidRequest, `message of ${line.tooLong} bytes is over the ${MAX_LINE_BYTES}-byte limit`)) };
  }
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { ok: false, reply: errorReply(null, new RpcError(rpcErrorCodes.parseError, 'not JSON')) };
  }
  const parsed = IncomingSchema.safeParse(json);
  if (!parsed.success) {
    const id = typeof json === 'object' && json !== null && 'id' in json ? IdSchema.safeParse((json as { id: unknown }).id).data ?? null : null;
    return { ok: false, reply: errorReply(id, new RpcError(rpcErrorCodes.invalidRequest, `not a JSON-RPC request: ${z.prettifyError(parsed.error)}`)) };
  }
  return { ok: true, message: parsed.data };
}

export function resultReply(id: RpcId, result: unknown): Outgoing {
  return { id, result };
}

export function errorReply(id: RpcId | null, err: RpcError): Outgoing {
  return { id, error: { code: err.code, message: err.message } };
}

export function notification(method: string, params: unknown): Outgoing {
  return { method, params };
}

/** One line of output for a message. */
export function encodeLine(message: Outgoing): string {
  return JSON.stringify(message) + '\n';
}

/** Parses `params` with `schema`, or fails with `invalidParams` naming what is wrong. */
export function decodeParams<S extends z.ZodType>(method: string, schema: S, params: unknown): z.infer<S> {
  const parsed = schema.safeParse(params ?? {});
  if (!parsed.success) throw new RpcError(rpcErrorCodes.invalidParams, `invalid params for ${method}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
