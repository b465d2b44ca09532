// The egress proxy against real sockets: a unix-socket proxy, loopback upstreams, raw clients.
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandAllow } from '@airlock/validate';
import { isInternalAddress, isIpLiteral } from './address.ts';
import { createEgressProxy, type EgressEvent } from './proxy.ts';
import { scanClientHello } from './sni.ts';

let dir: string;
let sock: string;
let proxy: ReturnType<typeof createEgressProxy>;
let web: HttpServer;
let raw: NetServer;
const rawSeen: Buffer[] = [];
/** What the plain-HTTP upstream was sent, as it answered it (the client may see it redacted). */
const webSeen: string[] = [];
const events: EgressEvent[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'egress-test-'));
  sock = join(dir, 'p');
  web = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const answer = `${req.method} ${req.url} host=${req.headers.host} body=${body} tok=${req.headers['x-token']} auth=${req.headers.authorization}`;
      webSeen.push(answer);
      // Echoes the request, in a header too (as error pages and debugging endpoints do).
      res.setHeader('x-echo', answer);
      res.end(answer);
    });
  });
  web.listen(0, '127.0.0.1');
  await once(web, 'listening');
  raw = createNetServer((s) => {
    s.on('data', (c: Buffer) => rawSeen.push(c));
    s.on('error', () => undefined);
  });
  raw.listen(0, '127.0.0.1');
  await once(raw, 'listening');
  const webPort = (web.address() as AddressInfo).port;
  const rawPort = (raw.address() as AddressInfo).port;
  proxy = createEgressProxy({
    rules: expandAllow([{ hosts: ['pypi.test', '*.files.test'], ports: [80] }, { hosts: ['tls.test'], ports: [443] }, { hosts: ['api.test'], ports: [80], methods: ['GET'], paths: ['/v1/'] }]),
    testResolve: { 'pypi.test': `127.0.0.1:${webPort}`, 'a.files.test': `127.0.0.1:${webPort}`, 'api.test': `127.0.0.1:${webPort}`, 'tls.test': `127.0.0.1:${rawPort}` },
    onEvent: (e) => events.push(e),
    secrets: () => [{ name: 'TOKEN', placeholder: 'airlock-placeholder-TOKEN-x', value: 'real-secret-value', hosts: ['pypi.test'] }],
    helloTimeoutMs: 2000,
  });
  proxy.listen(sock);
  await once(proxy, 'listening');
});

afterAll(async () => {
  proxy.close();
  web.close();
  raw.close();
  await rm(dir, { recursive: true, force: true });
});

/** Sends raw bytes to the proxy and reads until it closes (or `until` matches). */
async function exchange(text: string, until?: RegExp): Promise<string> {
  const s = connect(sock);
  await once(s, 'connect');
  s.write(text);
  let out = '';
  s.on('data', (c: Buffer) => (out += c.toString('latin1')));
  await new Promise<void>((resolve) => {
    s.on('close', () => resolve());
    s.on('data', () => {
      if (until?.test(out)) {
        s.destroy();
        resolve();
      }
    });
  });
  return out;
}

async function eventFor(pred: (e: EgressEvent) => boolean): Promise<EgressEvent> {
  for (let i = 0; i < 200; i++) {
    const e = events.find(pred);
    if (e) return e;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('no such event');
}

describe('egress proxy', () => {
  it('forwards an allowed plain-HTTP request and logs it with bytes and duration', async () => {
    const out = await exchange('POST http://pypi.test/simple/x?token=abc HTTP/1.1\r\nHost: pypi.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
    expect(out).toMatch(/^HTTP\/1.1 200/);
    expect(out).toContain('POST /simple/x?token=abc host=pypi.test body=hello');
    const e = await eventFor((x) => x.host === 'pypi.test' && x.via === 'http');
    expect(e).toMatchObject({ decision: 'allowed', port: 80, method: 'POST', path: '/simple/x', bytesUp: 5, address: '127.0.0.1' });
    expect(e.bytesDown).toBeGreaterThan(10);
  });

  it('puts an edge secret into requests to its hosts only (headers, Basic userinfo, URL) and flags the others', async () => {
    const basic = Buffer.from('git:airlock-placeholder-TOKEN-x').toString('base64');
    const mine = await exchange(`GET http://pypi.test/q?t=airlock-placeholder-TOKEN-x HTTP/1.1\r\nHost: pypi.test\r\nX-Token: airlock-placeholder-TOKEN-x\r\nAuthorization: Basic ${basic}\r\nConnection: close\r\n\r\n`);
    // The upstream got the real value...
    const sent = webSeen.find((w) => w.startsWith('GET /q?'))!;
    expect(sent).toContain('GET /q?t=real-secret-value host=pypi.test');
    expect(sent).toContain(`tok=real-secret-value auth=Basic ${Buffer.from('git:real-secret-value').toString('base64')}`);
    // ...and its echo (body and header) reaches the sandbox redacted: the sandbox never holds the secret.
    expect(mine).toMatch(/^HTTP\/1.1 200/);
    expect(mine).toContain('GET /q?t=');
    expect(mine).not.toContain('real-secret-value');
    expect(mine).toMatch(/x-echo: GET \/q\?t=(?!real)/i);
    const seen = await eventFor((x) => x.host === 'pypi.test' && x.path === '/q');
    expect(seen.secrets).toEqual(['TOKEN']);
    expect(seen.flagged).toBeUndefined();
    const other = await exchange('GET http://a.files.test/x HTTP/1.1\r\nHost: a.files.test\r\nX-Token: airlock-placeholder-TOKEN-x\r\nConnection: close\r\n\r\n');
    expect(other).toMatch(/^HTTP\/1.1 200/);
    expect(other).toContain('tok=airlock-placeholder-TOKEN-x');
    const flagged = await eventFor((x) => x.host === 'a.files.test' && x.path === '/x');
    expect(flagged.secrets).toBeUndefined();
    expect(flagged.flagged).toBe('the placeholder of TOKEN was sent to a.files.test, which the secret is not for; left unsubstituted (possible exfiltration)');
  });

  it('matches *. patterns', async () => {
    expect(await exchange('GET http://a.files.test/f HTTP/1.1\r\nHost: a.files.test\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1.1 200/);
  });

  it.each([
    ['an unlisted name', 'GET http://evil.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n', 'evil.test is not on the run\'s network allowlist'],
    ['an IP literal', 'GET http://127.0.0.1:80/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', '127.0.0.1 is an IP address'],
    ['a Host header differing from the URL', 'GET http://pypi.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n', 'the Host header (evil.test) differs'],
    ['a method the rule does not allow', 'DELETE http://api.test/v1/x HTTP/1.1\r\nHost: api.test\r\n\r\n', 'DELETE /v1/x on api.test is not allowed'],
    ['a path the rule does not allow', 'GET http://api.test/v2/x HTTP/1.1\r\nHost: api.test\r\n\r\n', 'GET /v2/x on api.test is not allowed'],
    ['an origin-form request', 'GET / HTTP/1.1\r\nHost: pypi.test\r\n\r\n', 'not a proxy request'],
  ])('refuses %s over HTTP with a 403 naming the reason', async (_what, request, reason) => {
    const out = await exchange(request, /\n$/);
    expect(out).toMatch(/^HTTP\/1.1 403 airlock egress denied: /);
    expect(out).toContain(reason);
    expect((await eventFor((x) => x.decision === 'denied' && (x.reason ?? '').includes(reason))).via).toBe('http');
  });

  it.each([
    ['an unlisted name', 'evil.test:443', "evil.test is not on the run's network allowlist"],
    ['an IPv4 literal', '127.0.0.1:443', '127.0.0.1 is an IP address'],
    ['an inet_aton number', '2130706433:443', '2130706433 is an IP address'],
    ['an IPv6 literal', '[::1]:443', '[::1] is an IP address'],
    ['an allowed name on another port', 'tls.test:8443', 'tls.test is allowed, but not on port 8443'],
    ['a rule limited to methods (opaque in a tunnel)', 'api.test:80', 'an HTTPS tunnel cannot show'],
  ])('refuses CONNECT to %s', async (_what, authority, reason) => {
    const out = await exchange(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1.1 403 airlock egress denied: /);
    expect(out).toContain(reason);
  });

  /** Opens a tunnel and starts TLS in it with this server name; resolves with what the proxy did. */
  async function tlsThrough(connectName: string, sni: string): Promise<'closed' | 'passed'> {
    const s = connect(sock);
    await once(s, 'connect');
    s.write(`CONNECT ${connectName}:443 HTTP/1.1\r\nHost: ${connectName}:443\r\n\r\n`);
    const [head] = (await once(s, 'data')) as [Buffer];
    expect(head.toString()).toMatch(/^HTTP\/1.1 200/);
    const before = rawSeen.length;
    const t = tlsConnect({ socket: s as Socket, servername: sni, rejectUnauthorized: false });
    t.on('error', () => undefined);
    const closed = await Promise.race([once(s, 'close').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1500))]);
    t.destroy();
    if (closed && rawSeen.length === before) return 'closed';
    expect(scanClientHello(Buffer.concat(rawSeen.slice(before)))).toEqual({ kind: 'tls', serverName: sni });
    return 'passed';
  }

  it('tunnels TLS whose server name is the CONNECT name, and cuts one that names another host', async () => {
    expect(await tlsThrough('tls.test', 'tls.test')).toBe('passed');
    expect(await tlsThrough('tls.test', 'evil.test')).toBe('closed');
    const e = await eventFor((x) => (x.reason ?? '').includes('TLS server name evil.test differs from the CONNECT name tls.test'));
    expect(e).toMatchObject({ decision: 'denied', via: 'connect', host: 'tls.test' });
  });
});

describe('addresses', () => {
  it.each(['127.0.0.1', '10.1.2.3', '169.254.169.254', '192.168.0.1', '172.20.0.1', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '0.0.0.0'])('%s is internal', (a) => expect(isInternalAddress(a)).toBe(true));
  it.each(['151.101.0.223', '2a04:4e42::223'])('%s is public', (a) => expect(isInternalAddress(a)).toBe(false));
  it.each(['1.2.3.4', '[::1]', '::1', '0x7f.1', '127.1', '2130706433'])('%s is an IP literal', (h) => expect(isIpLiteral(h)).toBe(true));
  it.each(['pypi.org', '1.example.com', 'a1.b2'])('%s is a name', (h) => expect(isIpLiteral(h)).toBe(false));
});
