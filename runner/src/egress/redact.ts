// What comes back to the sandbox from an upstream the proxy reads (plain HTTP, or HTTPS it
// intercepts) goes through the run's redactor of edge-secret values: an upstream that echoes a
// substituted secret (an error page quoting the request, a headers echo) must not hand the real
// value to the sandbox, which only ever holds the placeholder.
import { Transform } from 'node:stream';
import { Redactor } from '@airlock/trust';
import type { EdgeSecret } from './secrets.ts';

/** A redactor of the run's edge-secret values, or null when the run has none (nothing to redact). */
export function redactorOf(secrets: readonly EdgeSecret[]): Redactor | null {
  return secrets.length === 0 ? null : new Redactor(Object.fromEntries(secrets.map((s) => [s.name, s.value])));
}

/** Response headers with every secret value replaced. */
export function redactHeaders(h: Record<string, string | string[]>, r: Redactor): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) out[k] = Array.isArray(v) ? v.map((x) => r.redactString(x)) : r.redactString(v);
  return out;
}

/** A response body through the redactor (a secret split across chunks is still caught). */
export function redactingStream(r: Redactor): Transform {
  const s = r.stream();
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      cb(null, s.push(chunk));
    },
    flush(cb) {
      cb(null, s.flush());
    },
  });
}
