// The egress proxy of one run: an HTTP proxy on a unix socket that the sandbox reaches through its
// loopback forwarder (forwarder.py). It speaks the two forms clients use through HTTP_PROXY and
// HTTPS_PROXY: absolute-form requests (`GET http://host/path`, plain HTTP) and CONNECT tunnels (HTTPS
// and anything else). Each connection or request is decided against the run's allowlist on the name
// the client asked for, the name is resolved here (the sandbox has no resolver), and for a tunnel the
// TLS server name must be that same name. Every decision becomes one event (onEvent), allowed ones
// when they end, with bytes each way and duration.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse, type IncomingHttpHeaders } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { decideEgress, type EgressRule } from '@airlock/validate';
import { isIpLiteral, resolveDestination, ResolveError, type TestResolveMap } from './address.ts';
import { substituteHeaders, substitutePath, type EdgeSecret, type Substitution } from './secrets.ts';
import type { RunCa } from './ca.ts';
import { interceptsHost, Interceptor } from './intercept.ts';
import { redactorOf, relayResponse } from './redact.ts';
import { MAX_HELLO_BYTES, scanClientHello } from './sni.ts';
import { HANDOFF_BYTES, relayAvailable, relayTunnel } from './relay.ts';
import { admit, type AskUnlisted } from './unlisted.ts';

/** One connection or request as the proxy saw it (the run's log gets it as `egress.connection`). */
export interface EgressEvent {
  host: string;
  port: number;
  /** `connect`: a tunnel (bytes not seen); `http`: one plain-HTTP request; `https`: one request read by interception. */
  via: 'connect' | 'http' | 'https';
  method?: string;
  /** The request's path without its query (a query may carry tokens). */
  path?: string;
  decision: 'allowed' | 'denied';
  /** Why it was denied, or why an allowed one failed. */
  reason?: string;
  /** The address dialled. */
  address?: string;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  /** Edge secrets put into the request. */
  secrets?: string[];
  /** A placeholder went to a host its secret is not for. */
  flagged?: string;
  /** The egress hold (policy `network.unlisted: ask`) that let it through or refused it. */
  approval?: string;
}

export interface EgressProxyOptions {
  rules: readonly EgressRule[];
  /** Test configuration only: fixed destinations for test names (see address.ts). */
  testResolve: TestResolveMap;
  onEvent(e: EgressEvent): void;
  /** The run's edge secrets now (they arrive with the steps that are given them). */
  secrets(): readonly EdgeSecret[];
  /** How long a tunnel waits for the client's first bytes (its TLS ClientHello). */
  helloTimeoutMs?: number;
  /** The run's CA: HTTPS to a host an edge secret is for is intercepted with leaves it signs. */
  ca?: RunCa;
  /** Test configuration only: extra CA certificates (PEM) trusted for intercepted upstreams. */
  testUpstreamCa?: readonly string[];
  /** Policy `network.unlisted: ask`: a connection no rule names waits for this answer (unlisted.ts). */
  ask?: AskUnlisted;
}

/** Read size of a tunnel's upstream (see handleConnect). */
const TUNNEL_READ_BYTES = 512 * 1024;
/** Read buffers a tunnel keeps for reuse (more are in flight only while the client drains). */
const TUNNEL_SPARE_BUFFERS = 4;

/** Prefix of every refusal the sandbox sees, so a failing tool's message says who refused. */
export const DENIED = 'airlock egress denied';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Creates the proxy server (not yet listening). */
export function createEgressProxy(opts: EgressProxyOptions): Server {
  const server = createServer({ requestTimeout: 0, keepAliveTimeout: 30_000 });
  const interceptor = opts.ca ? new Interceptor(opts, opts.ca) : null;
  // A handler that throws (a bug, not a decision) ends that connection, never the proxy.
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handleRequest(opts, req, res).catch(() => res.destroy());
  });
  server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    handleConnect(opts, interceptor, req, socket, head).catch(() => socket.destroy());
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    const target = parseAbsolute(req);
    opts.onEvent({ host: target?.host ?? '?', port: target?.port ?? 0, via: 'http', method: req.method ?? '?', decision: 'denied', reason: 'protocol upgrades over plain HTTP are not supported; use HTTPS (CONNECT)', bytesUp: 0, bytesDown: 0, durationMs: 0 });
    socket.end(refusal('protocol upgrades over plain HTTP are not supported'));
  });
  server.on('clientError', (_err, socket: Socket) => socket.destroy());
  return server;
}

/** A reason made safe for an HTTP status line. */
export function phrase(reason: string): string {
  return `${DENIED}: ${reason}`.replace(/[^\x20-\x7e]/g, '?').slice(0, 400);
}

/** A complete 403 response for a raw socket (CONNECT and upgrade refusals). */
function refusal(reason: string): string {
  const body = `${DENIED}: ${reason}\n`;
  return `HTTP/1.1 403 ${phrase(reason)}\r\nContent-Type: text/plain\r\nX-Airlock-Egress: denied\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

function parseAbsolute(req: IncomingMessage): { host: string; port: number; url: URL } | null {
  try {
    const url = new URL(req.url ?? '');
    if (url.protocol !== 'http:') return null;
    return { host: url.hostname.toLowerCase(), port: url.port ? Number(url.port) : 80, url };
  } catch {
    return null;
  }
}

/** `host:port` of a CONNECT, with `[v6]:port` kept bracketed. */
function parseAuthority(s: string): { host: string; port: number } | null {
  const m = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(s);
  if (!m) return null;
  const port = Number(m[2]);
  return port >= 1 && port <= 65_535 ? { host: m[1]!.toLowerCase(), port } : null;
}

/** The first check of every target: names only, then the allowlist. A reason when refused. */
export function refuse(opts: EgressProxyOptions, host: string, port: number, method?: string, path?: string): string | null {
  if (isIpLiteral(host)) return `${host} is an IP address; the sandbox may reach only allowed names`;
  const d = decideEgress(opts.rules, { host, port, ...(method !== undefined ? { method, path: path ?? '/' } : {}) });
  return d.allowed ? null : d.reason;
}

async function handleRequest(opts: EgressProxyOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const target = parseAbsolute(req);
  const method = req.method ?? 'GET';
  let base: Pick<EgressEvent, 'via' | 'method' | 'bytesUp' | 'bytesDown' | 'approval'> = { via: 'http' as const, method, bytesUp: 0, bytesDown: 0 };
  const deny = (host: string, port: number, reason: string, path?: string) => {
    opts.onEvent({ ...base, host, port, ...(path ? { path } : {}), decision: 'denied', reason, durationMs: Math.round(performance.now() - started) });
    res.writeHead(403, phrase(reason), { 'content-type': 'text/plain', 'x-airlock-egress': 'denied', connection: 'close' });
    res.end(`${DENIED}: ${reason}\n`);
    req.resume();
  };
  if (!target) return deny('?', 0, `not a proxy request (${JSON.stringify((req.url ?? '').slice(0, 100))}); only http:// URLs and CONNECT`);
  const { host, port, url } = target;
  const hostHeader = (req.headers.host ?? '').toLowerCase().replace(/:80$/, '');
  const urlHost = url.host.toLowerCase().replace(/:80$/, '');
  if (hostHeader !== urlHost) return deny(host, port, `the Host header (${hostHeader.slice(0, 100)}) differs from the URL's host (${urlHost})`, url.pathname);
  const { refused: why, approval } = await admit(opts, { host, port, via: 'http', method, path: url.pathname }, () => refuse(opts, host, port, method, url.pathname));
  if (approval) base = { ...base, approval };
  if (why) return deny(host, port, why, url.pathname);
  let dest;
  try {
    dest = await resolveDestination(host, port, opts.testResolve);
  } catch (err) {
    if (!(err instanceof ResolveError)) throw err;
    return deny(host, port, err.message, url.pathname);
  }
  let bytesUp = 0;
  let bytesDown = 0;
  let done = false;
  const sub: Substitution = { used: [], flagged: [] };
  const secrets = opts.secrets();
  const headers = substituteHeaders(forwardHeaders(req.headers), host, secrets, sub);
  const path = substitutePath(`${url.pathname}${url.search}`, host, secrets, sub);
  const finish = (reason?: string) => {
    if (done) return;
    done = true;
    opts.onEvent({ ...base, host, port, path: url.pathname, decision: 'allowed', address: dest.address, bytesUp, bytesDown, durationMs: Math.round(performance.now() - started), ...(reason ? { reason } : {}), ...secretFields(host, sub) });
  };
  const upstream = httpRequest({ host: dest.address, port: dest.port, method, path, headers, agent: false });
  req.on('data', (c: Buffer) => (bytesUp += c.length));
  req.pipe(upstream);
  // The sandbox holds placeholders only: what comes back is redacted of every edge secret of the run
  // (an upstream may echo the substituted value), as intercepted HTTPS responses are.
  const redactor = redactorOf(secrets);
  relayResponse(upstream, res, { host, port }, redactor, { finish, done: () => done, bytesDown: (n) => (bytesDown += n) });
}

/** The event fields that say what substitution did. */
export function secretFields(host: string, sub: Substitution): Pick<EgressEvent, 'secrets' | 'flagged'> {
  return {
    ...(sub.used.length > 0 ? { secrets: sub.used } : {}),
    ...(sub.flagged.length > 0 ? { flagged: `the placeholder of ${sub.flagged.join(', ')} was sent to ${host}, which the secret is not for; left unsubstituted (possible exfiltration)` } : {}),
  };
}

export function forwardHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

/** Waits for the client's first bytes in a tunnel, up to a whole TLS record. null: none came in time. */
function firstBytes(socket: Socket, head: Buffer, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    let buf = head;
    const done = (v: Buffer | null) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      resolve(v);
    };
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (scanClientHello(buf).kind !== 'more' || buf.length >= MAX_HELLO_BYTES) done(buf);
    };
    const onClose = () => done(buf.length > 0 ? buf : null);
    const timer = setTimeout(() => done(buf.length > 0 ? buf : null), timeoutMs);
    if (buf.length > 0 && scanClientHello(buf).kind !== 'more') return done(buf);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.resume();
  });
}

async function handleConnect(opts: EgressProxyOptions, interceptor: Interceptor | null, req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
  const started = performance.now();
  client.on('error', () => undefined);
  const target = parseAuthority(req.url ?? '');
  const ms = () => Math.round(performance.now() - started);
  let tag: Pick<EgressEvent, 'approval'> = {};
  const deny = (host: string, port: number, reason: string, answered = false) => {
    opts.onEvent({ host, port, via: 'connect', decision: 'denied', reason, bytesUp: 0, bytesDown: 0, durationMs: ms(), ...tag });
    if (answered) client.destroy();
    else client.end(refusal(reason));
  };
  if (!target) return deny(req.url?.slice(0, 100) ?? '?', 0, 'CONNECT needs host:port');
  const { host, port } = target;
  const { refused: why, approval } = await admit(opts, { host, port, via: 'connect' }, () => refuse(opts, host, port));
  if (approval) tag = { approval };
  if (why) return deny(host, port, why);
  client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  const first = await firstBytes(client, head, opts.helloTimeoutMs ?? 30_000);
  if (first === null) return deny(host, port, 'the client sent nothing after CONNECT', true);
  const hello = scanClientHello(first);
  if (hello.kind === 'malformed') return deny(host, port, `unreadable TLS ClientHello: ${hello.reason}`, true);
  if (hello.kind === 'tls' && hello.serverName !== null && hello.serverName !== host) {
    return deny(host, port, `TLS server name ${hello.serverName} differs from the CONNECT name ${host}`, true);
  }
  let dest;
  try {
    dest = await resolveDestination(host, port, opts.testResolve);
  } catch (err) {
    if (!(err instanceof ResolveError)) throw err;
    return deny(host, port, err.message, true);
  }
  // An edge secret is for this host: read its requests (the sandbox trusts the run's CA).
  if (interceptor && hello.kind === 'tls' && interceptsHost(opts.secrets(), host)) return interceptor.take(client, first, { host, port, dest });
  let bytesUp = first.length;
  let bytesDown = 0;
  let failure: string | undefined;
  // Downloads dominate: the upstream is read into large buffers handed straight to the client (no
  // copy, ~1/8 of the reads and callbacks of the default 64 KiB), paused while the client is full.
  // A buffer is reused once its write is done: a fresh one per read kept the GC busier than the copying.
  const free: Buffer[] = [];
  const upstream = netConnect({
    host: dest.address,
    port: dest.port,
    onread: {
      buffer: () => free.pop() ?? Buffer.allocUnsafeSlow(TUNNEL_READ_BYTES),
      callback: (n: number, buf: Uint8Array) => {
        bytesDown += n;
        const done = () => {
          if (free.length < TUNNEL_SPARE_BUFFERS) free.push(buf as Buffer);
        };
        const more = client.write(buf.subarray(0, n), done);
        // A download: the rest goes through the kernel (relay.ts); reading stops here meanwhile.
        if (relay === 'idle' && bytesDown >= HANDOFF_BYTES && relayAvailable()) {
          relay = 'handing';
          toRelay().catch(() => {
            client.destroy();
            upstream.destroy();
          });
          return false;
        }
        if (more) return true;
        client.once('drain', () => relay !== 'handing' && relay !== 'relayed' && upstream.resume());
        return false;
      },
    },
  });
  upstream.on('error', (err) => {
    failure ??= `upstream ${host}:${port} failed: ${err.message}`;
    client.destroy();
  });
  client.on('error', (err) => {
    failure ??= `the client connection failed: ${err.message}`;
    upstream.destroy();
  });
  upstream.write(first);
  client.on('data', (c: Buffer) => (bytesUp += c.length));
  client.pipe(upstream);
  upstream.on('end', () => client.end());
  client.resume();
  // idle: in Node, may be handed off; handing: reads stopped, waiting on the drain; relayed: the
  // relay has it; node: the handoff was declined (a side ended meanwhile), stays in Node.
  let relay: 'idle' | 'handing' | 'relayed' | 'node' = 'idle';
  const toRelay = async () => {
    const moved = await relayTunnel(client, upstream, () => (relay = 'relayed'));
    if (moved === null) {
      relay = 'node';
      if (!client.destroyed) client.resume();
      if (!upstream.destroyed) upstream.resume();
      return;
    }
    const r = await moved.done;
    opts.onEvent({ host, port, via: 'connect', decision: 'allowed', address: dest.address, bytesUp: bytesUp + r.bytesUp, bytesDown: bytesDown + r.bytesDown, durationMs: ms(), ...((failure ?? r.failure) ? { reason: failure ?? r.failure } : {}) });
  };
  let closed = 0;
  const onClose = () => {
    if (relay === 'relayed') return; // the relay's end is the event
    if (++closed === 1) {
      // One side gone: the other gets its end once what is in flight has drained.
      if (client.destroyed) upstream.end();
      else client.end();
      return;
    }
    opts.onEvent({ host, port, via: 'connect', decision: 'allowed', address: dest.address, bytesUp, bytesDown, durationMs: ms(), ...(failure ? { reason: failure } : {}), ...tag });
  };
  client.on('close', onClose);
  upstream.on('close', onClose);
}
