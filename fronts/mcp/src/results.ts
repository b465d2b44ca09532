// How tool results are built: structured bodies with a text rendering, Airlock failures as tool
// errors the model can act on, progress notifications, and waits a client may abandon.
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { AirlockError } from '@airlock/proto';

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Progress notifications while a call waits: at most one per this many ms. */
const PROGRESS_EVERY_MS = 1000;

export function structured(body: Record<string, unknown>, text: string): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: body };
}

/**
 * Runs a tool body; an Airlock failure (unknown run, no harness, bad input) becomes a tool error the
 * model can read and act on (`isError`), with its stable code.
 */
export async function guarded(fn: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    const wire: { code: string; message: string; retryable: boolean; data?: Record<string, unknown> } =
      err instanceof AirlockError ? err.toWire() : { code: 'internal', message: err instanceof Error ? err.message : String(err), retryable: true };
    // What an edit that found nothing (or too much) says about the nearest text helps the model retry.
    const detail = wire.data && (wire.code === 'edit_no_match' || wire.code === 'edit_ambiguous') ? `\n${JSON.stringify(wire.data).slice(0, 4000)}` : '';
    return { isError: true, content: [{ type: 'text', text: `error ${wire.code}${wire.retryable ? ' (retryable)' : ''}: ${wire.message}${detail}` }] };
  }
}

/** Resolves with `p`, or rejects with an AbortError when `signal` fires first (`p` goes on, unobserved). */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  p.catch(() => undefined);
  if (signal.aborted) return Promise.reject(new DOMException('the client cancelled the call; the step goes on', 'AbortError'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DOMException('the client cancelled the call; the step goes on', 'AbortError'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e: unknown) => (signal.removeEventListener('abort', onAbort), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}

/**
 * Sends `notifications/progress` about once a second while a call runs, when the client asked for them
 * (a progressToken): progress = seconds elapsed, message = what `message()` says (the last output line).
 */
export function startProgress(extra: Extra, message: () => string): { stop: () => void } {
  const token = extra._meta?.progressToken;
  if (token === undefined) return { stop: () => undefined };
  const t0 = Date.now();
  let sent = 0;
  const timer = setInterval(() => {
    const progress = Math.max(sent + 1, Math.round((Date.now() - t0) / 1000));
    sent = progress;
    const text = message();
    extra
      .sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, message: `${progress} s${text ? `: ${text}` : ''}` } })
      .catch(() => undefined);
  }, PROGRESS_EVERY_MS);
  return { stop: () => clearInterval(timer) };
}

export async function readAll<T>(it: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const x of it) all.push(x);
  return all;
}

/** A step the policy did not let run: which rule, why, and what the agent can do next. */
export interface NotAllowed {
  step: number;
  status: 'denied' | 'held';
  verdict: { decision: 'deny' | 'ask'; rule: string; reason: string };
  next: string;
  text: string;
}

/** What a `validation_denied` / `validation_ask` error says, for a result; undefined for any other error. */
export function notAllowed(runId: string, err: unknown): NotAllowed | undefined {
  if (!(err instanceof AirlockError) || (err.code !== 'validation_denied' && err.code !== 'validation_ask')) return undefined;
  const data = (err.data ?? {}) as { step?: number; rule?: string; reason?: string };
  const step = data.step ?? 0;
  const rule = data.rule ?? 'unknown';
  const reason = data.reason ?? err.message;
  const held = err.code === 'validation_ask';
  const next = held
    ? `A human operator must approve step ${step} (\`airlock approve ${runId} ${step}\`). Tell the user; once approved, make exactly the same call again and it runs once. Or do the task another way that needs no approval.`
    : `It did not run and will be denied again if retried unchanged. Do the task another way that the policy allows (rule ${rule}).`;
  return {
    step,
    status: held ? 'held' : 'denied',
    verdict: { decision: held ? 'ask' : 'deny', rule, reason },
    next,
    text: `${held ? 'HELD for approval' : 'DENIED'} by rule ${rule}: ${reason}\n${next}`,
  };
}
