// Controlled egress, the cases egress.test.ts leaves out, with real sandboxes and loopback upstreams:
// the default policy gives a run no proxy at all (network none); an allowed name whose DNS points at
// the host's loopback is refused (plain HTTP and CONNECT); raw sockets cannot be opened; a rule's
// methods and paths hold for plain HTTP and refuse an opaque tunnel; a preset opens its registry's
// names over HTTPS only; blocked egress sits beside a blocked command in `./airlock audit`; and an
// edge secret's value is not in the run's proof bundle.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DEFAULT_POLICY_PATH } from '@airlock/validate';
import { TestStack, containersOf, errorCode, eventsOfType, runCli, runEvents } from '../fixtures.ts';

/** What reached the upstream: method, host header and path, and the X-Token header. */
const hits: { line: string; token: string }[] = [];
let server: Server;
let port: number;
let root: string;
let ws: string;
const SECRET = 'edge-bundle-secret-4d9e2b7a1c';

const PROBE = `
import os, socket, sys, urllib.request, urllib.error
case = sys.argv[1]
def show(f):
    try:
        print("OK", f())
    except urllib.error.HTTPError as e:
        print("HTTP", e.code, e.reason)
    except Exception as e:
        print("ERR", type(e).__name__, e)
def tunnel(arg):
    authority, path = arg.split("/", 1)
    s = socket.create_connection(("127.0.0.1", 3128), timeout=30)
    s.sendall(("CONNECT %s HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n" % (authority, authority)).encode())
    head = s.recv(400).decode().splitlines()[0]
    if " 200 " not in head:
        return "REFUSED " + head
    s.sendall(("GET /%s HTTP/1.1\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n" % (path, authority.split(":")[0])).encode())
    data = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
    return "TUNNEL " + (data.decode().split("\\r\\n\\r\\n", 1)[1].strip() if data else "cut after 200")
if case == "get":
    show(lambda: urllib.request.urlopen(sys.argv[2], timeout=30).read().decode().strip())
elif case == "post":
    show(lambda: urllib.request.urlopen(urllib.request.Request(sys.argv[2], data=b"x", method="POST"), timeout=30).read().decode().strip())
elif case == "token":
    show(lambda: urllib.request.urlopen(urllib.request.Request(sys.argv[2], headers={"X-Token": os.environ["API_TOKEN"]}), timeout=30).read().decode().strip())
elif case == "tunnel":
    show(lambda: tunnel(sys.argv[2]))
elif case == "direct":
    show(lambda: socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=5))
elif case == "dns":
    show(lambda: socket.getaddrinfo("pypi.org", 443))
elif case == "raw":
    for name, fam, kind, proto in (("raw4", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP), ("raw6", socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6), ("packet", socket.AF_PACKET, socket.SOCK_RAW, 0)):
        try:
            socket.socket(fam, kind, proto)
            print(name, "OPENED")
        except OSError as e:
            print(name, "ERR", e.errno)
    # An unprivileged ICMP socket, if the namespace allows one, has nowhere to send.
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
        s.sendto(b"\\x08\\x00\\xf7\\xff\\x00\\x00\\x00\\x00", ("8.8.8.8", 0))
        print("icmp SENT")
    except OSError as e:
        print("icmp ERR", e.errno)
`;

/** Pids of a run's egress proxy processes (its argv names the run). */
function proxyPids(runId: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', `egress/main.ts ${runId}`], { encoding: 'utf8' }).trim().split('\n').map(Number);
  } catch (err) {
    if ((err as { status?: number }).status === 1) return [];
    throw err;
  }
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'airlock-egress-edges-'));
  server = createServer((req, res) => {
    hits.push({ line: `${req.method ?? ''} ${req.headers.host ?? ''}${req.url ?? ''}`, token: String(req.headers['x-token'] ?? '') });
    res.end(`served ${req.url ?? ''}\n`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  ws = mkdtempSync(join(tmpdir(), 'airlock-egress-edges-ws-'));
  writeFileSync(join(ws, 'probe.py'), PROBE);
  chownSync(ws, 1000, 1000);
  chownSync(join(ws, 'probe.py'), 1000, 1000);
});

afterAll(() => {
  server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
  if (ws) rmSync(ws, { recursive: true, force: true });
});

describe('the default policy', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await TestStack.start({ runner: { egressTestResolve: { 'pypi.org': `127.0.0.1:${port}` } } });
  }, 60_000);
  afterAll(async () => {
    await stack?.[Symbol.asyncDispose]();
    expect(await containersOf(stack.runnerId)).toEqual([]);
  });

  it('is network none: no proxy, no forwarder, no proxy variables, no run CA; nothing leaves the sandbox', async () => {
    const run = await stack.client.open({ workspace: ws });
    expect(proxyPids(run.runId)).toEqual([]);
    const r = await run.exec('echo "proxy=${HTTP_PROXY:-unset} ${https_proxy:-unset} ${SSL_CERT_FILE:-unset}"; ls /opt/airlock/egress 2>&1; python3 probe.py direct 127.0.0.1 3128; python3 probe.py dns; python3 probe.py direct 10.0.0.1 80');
    expect(r.stdout.split('\n')).toEqual([
      'proxy=unset unset unset',
      "ls: cannot access '/opt/airlock/egress': No such file or directory",
      'ERR ConnectionRefusedError [Errno 111] Connection refused',
      expect.stringMatching(/^ERR gaierror \[Errno -3\] Temporary failure in name resolution/),
      'ERR OSError [Errno 101] Network is unreachable',
      '',
    ]);
    const log = await runEvents(stack.client, run.runId);
    expect(eventsOfType(log, 'egress.connection')).toEqual([]);
    expect(hits).toEqual([]);
    await stack.client.close(run.runId);
  }, 120_000);
});

describe('with the proxy', () => {
  let stack: TestStack;
  beforeAll(async () => {
    const policy = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as { network: Record<string, unknown>; secrets: unknown[]; overrides: Record<string, string> };
    policy.network.mode = 'proxy';
    policy.network.allow = [
      { hosts: ['git.test'], ports: [80] },
      { hosts: ['api.test'], ports: [80], methods: ['GET'], paths: ['/ok/'] },
      // Allowed by name; its DNS points at this host's loopback, where the upstream listens.
      { hosts: ['rebind.test'], ports: [port] },
      'pypi',
    ];
    policy.secrets = [{ name: 'API_TOKEN', hosts: ['git.test'] }];
    policy.overrides = { ...policy.overrides, 'exfil.secret_env': 'allow' };
    process.env.AIRLOCK_SECRET_API_TOKEN = SECRET;
    const policyFile = join(root, 'policy.yaml');
    writeFileSync(policyFile, stringify(policy));
    const dest = `127.0.0.1:${port}`;
    stack = await TestStack.start({
      harness: { policyFile },
      runner: { egressTestResolve: { 'git.test': dest, 'api.test': dest, 'pypi.org': dest, 'files.pythonhosted.org': dest, 'rebind.test': 'dns:localhost' } },
    });
  }, 60_000);
  afterAll(async () => {
    delete process.env.AIRLOCK_SECRET_API_TOKEN;
    await stack?.[Symbol.asyncDispose]();
    expect(await containersOf(stack.runnerId)).toEqual([]);
  });

  it('an allowed name that resolves to the host\'s loopback is refused (plain HTTP and CONNECT); raw and ICMP sockets go nowhere', async () => {
    const run = await stack.client.open({ workspace: ws });
    const before = hits.length;
    const r = await run.exec(`python3 probe.py get http://rebind.test:${port}/x; python3 probe.py tunnel rebind.test:${port}/y; python3 probe.py raw`);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^HTTP 403 airlock egress denied: rebind\.test resolves to (127\.0\.0\.1|::1)(, (127\.0\.0\.1|::1))*: an internal address, refused$/);
    // A tunnel is answered before the name is resolved (its TLS name is checked first), then cut.
    expect(lines[1]).toBe('OK TUNNEL cut after 200');
    // No CAP_NET_RAW: EPERM for raw and packet sockets; no route for an ICMP datagram.
    expect(lines.slice(2, 5)).toEqual(['raw4 ERR 1', 'raw6 ERR 1', 'packet ERR 1']);
    expect(lines[5]).toMatch(/^icmp ERR (1|13|101)$/);
    expect(hits.slice(before)).toEqual([]);
    const denied = eventsOfType(await runEvents(stack.client, run.runId), 'egress.connection').filter((e) => e.host === 'rebind.test');
    expect(denied.map((e) => [e.via, e.decision, e.bytesUp, e.bytesDown])).toEqual([['http', 'denied', 0, 0], ['connect', 'denied', 0, 0]]);
    expect(denied.every((e) => /resolves to .*: an internal address, refused$/.test(e.reason ?? ''))).toBe(true);
    await stack.client.close(run.runId);
  }, 120_000);

  it('a rule\'s methods and paths hold for plain HTTP and refuse an opaque tunnel; a preset opens its names over HTTPS only', async () => {
    const run = await stack.client.open({ workspace: ws });
    const before = hits.length;
    const r = await run.exec(
      [
        'python3 probe.py get http://api.test/ok/a',
        'python3 probe.py post http://api.test/ok/b',
        'python3 probe.py get http://api.test/other',
        'python3 probe.py tunnel api.test:80/ok/c',
        'python3 probe.py tunnel pypi.org:443/simple/',
        'python3 probe.py tunnel files.pythonhosted.org:443/packages/',
        'python3 probe.py get http://pypi.org/simple/',
        'python3 probe.py tunnel pypi.org:80/simple/',
      ].join('; '),
    );
    expect(r.stdout.split('\n')).toEqual([
      'OK served /ok/a',
      'HTTP 403 airlock egress denied: POST /ok/b on api.test is not allowed (methods or paths of the rule)',
      'HTTP 403 airlock egress denied: GET /other on api.test is not allowed (methods or paths of the rule)',
      'OK REFUSED HTTP/1.1 403 airlock egress denied: api.test:80 is allowed only for some methods or paths, which an HTTPS tunnel cannot show',
      'OK TUNNEL served /simple/',
      'OK TUNNEL served /packages/',
      'HTTP 403 airlock egress denied: pypi.org is allowed, but not on port 80',
      'OK REFUSED HTTP/1.1 403 airlock egress denied: pypi.org is allowed, but not on port 80',
      '',
    ]);
    expect(hits.slice(before).map((h) => h.line)).toEqual(['GET api.test/ok/a', 'GET pypi.org/simple/', 'GET files.pythonhosted.org/packages/']);
    await stack.client.close(run.runId);
  }, 120_000);

  it('blocked egress is beside a blocked command in ./airlock audit; the secret\'s value is in no event of the proof bundle', async () => {
    const run = await stack.client.open({ workspace: ws });
    const before = hits.length;
    const r = await run.exec('python3 probe.py token http://git.test/echo; python3 probe.py get http://evil.test/', { env: { API_TOKEN: '${secret:API_TOKEN}' } });
    expect(r.stdout).toBe("OK served /echo\nHTTP 403 airlock egress denied: evil.test is not on the run's network allowlist\n");
    expect(hits.slice(before)).toEqual([{ line: 'GET git.test/echo', token: SECRET }]);
    expect(await errorCode(run.exec('reboot'))).toBe('validation_denied');
    const cli = await runCli(['--nats', stack.nats.url, 'audit', '--run', run.runId, '--verdict', 'deny']);
    expect(cli.code).toBe(0);
    expect(cli.stderr).toBe('2 verdicts\n');
    const rows = cli.stdout.trim().split('\n');
    expect(rows.some((l) => /DENY {5}egress\.denied .*evil\.test is not on the run's network allowlist/.test(l))).toBe(true);
    expect(rows.some((l) => /DENY {5}destroy\.system /.test(l))).toBe(true);
    await stack.client.close(run.runId);
    const bundle = await stack.client.bundle(run.runId);
    expect(bundle.events).toBeGreaterThan(5);
    // Events and snapshot manifests are stored base64 in the bundle: read them as they were stored.
    const doc = JSON.parse(bundle.text) as { events: { bytes: string }[]; manifests: Record<string, string> };
    const inside = [...doc.events.map((e) => e.bytes), ...Object.values(doc.manifests)].map((b) => Buffer.from(b, 'base64').toString('utf8')).join('\n');
    expect(inside).toContain('"egress.connection"');
    expect(inside).toContain('"secrets":["API_TOKEN"]');
    expect(inside).not.toContain(SECRET);
    expect(bundle.text).not.toContain(SECRET);
  }, 120_000);
});
