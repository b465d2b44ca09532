// TLS interception for edge secrets over HTTPS. A CONNECT to a host that one of the run's edge
// secrets is for is not tunnelled: the proxy answers the sandbox's TLS itself with a leaf for that
// host signed by the run's CA (ca.ts), reads each HTTP request, puts the secret in place of its
// placeholder (secrets.ts, the same substitution as plain HTTP), and sends the request on over a new
// TLS connection that verifies the real upstream as any client would. Every other allowed host stays
// a tunnel the proxy cannot read. The response goes back through the run's redactor, so an upstream
// that echoes the secret does not hand it to the sandbox; events carry no bodies, only sizes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { getCACertificates, TLSSocket } from 'node:tls';
import { hostMatches } from '@airlock/validate';
import type { Destination } from './address.ts';
import { LeafMinter, type RunCa } from './ca.ts';
import { redactorOf, relayResponse } from './redact.ts';
import { forwardHeaders, phrase, refuse, secretFields, DENIED, type EgressEvent, type EgressProxyOptions } from './proxy.ts';
import { substituteHeaders, substitutePath, type EdgeSecret, type Substitution } from './secrets.ts';

/** What the CONNECT decided: the name asked for and where it resolved. */
interface Target {
  host: string;
  port: number;
  dest: Destination;
}

/** Each intercepted TLS connection's target, read by the request handler. */
const targets = new WeakMap<object, Target>();

/** Whether a run's edge secret is for `host` (then its HTTPS is intercepted). */
export function interceptsHost(secrets: readonly EdgeSecret[], host: string): boolean {
  return secrets.some((s) => s.hosts.some((p) => hostMatches(p, host)));
}

/** The run proxy's interception: one leaf minter and one HTTP parser for every intercepted connection. */
export class Interceptor {
  readonly #opts: EgressProxyOptions;
  readonly #minter: LeafMinter;
  readonly #http: Server;
  /** Upstream trust: the usual public roots, plus test-only CAs (runner config egressTestUpstreamCa). */
  readonly #upstreamCa: string[] | undefined;

  constructor(opts: EgressProxyOptions, ca: RunCa) {
    this.#opts = opts;
    this.#minter = new LeafMinter(ca);
    this.#upstreamCa = opts.testUpstreamCa && opts.testUpstreamCa.length > 0 ? [...getCACertificates('default'), ...opts.testUpstreamCa] : undefined;
    this.#http = createServer({ requestTimeout: 0, keepAliveTimeout: 30_000 });
    this.#http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      try {
        this.#request(req, res);
      } catch {
        res.destroy();
      }
    });
    this.#http.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      const t = targets.get(req.socket);
      this.#event({ host: t?.host ?? '?', port: t?.port ?? 0, via: 'https', method: req.method ?? '?', decision: 'denied', reason: 'protocol upgrades through an intercepted host are not supported', bytesUp: 0, bytesDown: 0, durationMs: 0 });
      socket.destroy();
    });
    this.#http.on('clientError', (_err, socket: Socket) => socket.destroy());
  }

  /** Ends the sandbox's TLS here for an allowed CONNECT whose first bytes (a ClientHello) are `first`. */
  take(client: Socket, first: Buffer, target: Target): void {
    const started = performance.now();
    client.unshift(first);
    const tls = new TLSSocket(client, { isServer: true, secureContext: this.#minter.contextFor(target.host), ALPNProtocols: ['http/1.1'] });
    targets.set(tls, target);
    let secure = false;
    tls.on('error', (err: Error) => {
      if (!secure) {
        // Most often: the client does not trust the run's CA (its trust store was replaced or ignored).
        this.#event({ host: target.host, port: target.port, via: 'https', decision: 'allowed', address: target.dest.address, reason: `the sandbox's TLS with the proxy failed: ${err.message}`, bytesUp: first.length, bytesDown: 0, durationMs: Math.round(performance.now() - started) });
      }
      tls.destroy();
    });
    tls.once('secure', () => {
      secure = true;
      this.#http.emit('connection', tls);
    });
  }

  #event(e: EgressEvent): void {
    const r = redactorOf(this.#opts.secrets());
    this.#opts.onEvent(r ? { ...e, ...(e.reason ? { reason: r.redactString(e.reason) } : {}), ...(e.path ? { path: r.redactString(e.path) } : {}) } : e);
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const target = targets.get(req.socket);
    if (!target) return void res.destroy();
    const { host, port, dest } = target;
    const method = req.method ?? 'GET';
    const raw = req.url ?? '';
    const pathname = raw.split('?')[0]!;
    const ms = () => Math.round(performance.now() - started);
    const deny = (reason: string) => {
      this.#event({ host, port, via: 'https', method, path: pathname, decision: 'denied', reason, bytesUp: 0, bytesDown: 0, durationMs: ms() });
      res.writeHead(403, phrase(reason), { 'content-type': 'text/plain', 'x-airlock-egress': 'denied', connection: 'close' });
      res.end(`${DENIED}: ${reason}\n`);
      req.resume();
    };
    if (!raw.startsWith('/')) return deny(`not an origin-form request (${JSON.stringify(raw.slice(0, 100))})`);
    const hostHeader = (req.headers.host ?? '').toLowerCase().replace(new RegExp(`:${port}$`), '');
    if (hostHeader !== host) return deny(`the Host header (${hostHeader.slice(0, 100)}) differs from the TLS name (${host})`);
    const why = refuse(this.#opts, host, port, method, pathname);
    if (why) return deny(why);

    const secrets = this.#opts.secrets();
    const sub: Substitution = { used: [], flagged: [] };
    const headers = substituteHeaders(forwardHeaders(req.headers), host, secrets, sub);
    const path = substitutePath(raw, host, secrets, sub);
    const redactor = redactorOf(secrets);
    let bytesUp = 0;
    let bytesDown = 0;
    let done = false;
    const finish = (reason?: string) => {
      if (done) return;
      done = true;
      this.#event({ host, port, via: 'https', method, path: pathname, decision: 'allowed', address: dest.address, bytesUp, bytesDown, durationMs: ms(), ...(reason ? { reason } : {}), ...secretFields(host, sub) });
    };
    const upstream = httpsRequest({ host: dest.address, port: dest.port, servername: host, method, path, headers, agent: false, ...(this.#upstreamCa ? { ca: this.#upstreamCa } : {}) });
    req.on('data', (c: Buffer) => (bytesUp += c.length));
    req.pipe(upstream);
    relayResponse(upstream, res, { host, port }, redactor, { finish, done: () => done, bytesDown: (n) => (bytesDown += n) });
  }
}
