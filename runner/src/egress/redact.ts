// What comes back to the sandbox from an upstream the proxy reads (plain HTTP, or HTTPS it
// intercepts) goes through the run's redactor of edge-secret values: an upstream that echoes a
// substituted secret (an error page quoting the request, a headers echo) must not hand the real
// value to the sandbox, which only ever holds the placeholder.
import type { ClientRequest, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { Redactor } from '@airlock/trust';
import type { EdgeSecret } from './secrets.ts';
import { forwardHeaders } from './proxy.ts';

/**
 * A redactor of the run's edge-secret values, or null when the run has none (nothing to redact).
 * AIRLOCK_EGRESS_REDACT=automaton (read by the proxy process at start; for the egress bench's side
 * by side) turns off the redactor's substring search; the output is the same.
 */
export function redactorOf(secrets: readonly EdgeSecret[]): Redactor | null {
  return secrets.length === 0 ? null : new Redactor(Object.fromEntries(secrets.map((s) => [s.name, s.value])), { search: SEARCH });
}

const SEARCH = process.env.AIRLOCK_EGRESS_REDACT !== 'automaton';

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

/** How one proxied request ends, as the caller's event records it. */
export interface RelayEnd {
  /** Called once at the end, with why an allowed request failed (none when it completed). */
  finish(reason?: string): void;
  /** Whether `finish` was already called. */
  done(): boolean;
  /** Counts the upstream's response bytes (before redaction). */
  bytesDown(n: number): void;
}

/**
 * Relays an upstream's response to the sandbox's request (plain HTTP and intercepted HTTPS alike):
 * status, headers and body through the run's redactor (chunked, since redaction may change the
 * length), a 502 naming the upstream when it fails before answering, and the upstream dropped when
 * the client goes away.
 */
export function relayResponse(upstream: ClientRequest, res: ServerResponse, target: { host: string; port: number }, redactor: Redactor | null, end: RelayEnd): void {
  const { host, port } = target;
  upstream.on('response', (up) => {
    const out = forwardHeaders(up.headers);
    if (redactor) delete out['content-length'];
    res.writeHead(up.statusCode ?? 502, redactor ? redactor.redactString(up.statusMessage ?? '') : up.statusMessage, redactor ? redactHeaders(out, redactor) : out);
    up.on('data', (c: Buffer) => end.bytesDown(c.length));
    (redactor ? up.pipe(redactingStream(redactor)) : up).pipe(res);
    up.on('end', () => end.finish());
    up.on('error', (err) => {
      end.finish(`upstream failed mid-response: ${err.message}`);
      res.destroy();
    });
  });
  upstream.on('error', (err) => {
    end.finish(`upstream ${host}:${port} failed: ${err.message}`);
    if (!res.headersSent) {
      res.writeHead(502, `airlock egress: upstream ${host}:${port} failed`, { 'content-type': 'text/plain', connection: 'close' });
      res.end(`airlock egress: upstream ${host}:${port} failed: ${redactor ? redactor.redactString(err.message) : err.message}\n`);
    } else res.destroy();
  });
  res.on('close', () => {
    if (!end.done()) {
      upstream.destroy();
      end.finish('the client went away');
    }
  });
}
