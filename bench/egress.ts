// Egress: a 200 MB download by python's http.client inside a real sandbox, through the run's
// forwarder and egress proxy, against the same client on the host fetching from the same loopback
// server directly; plus the latency of one small request on a fresh connection each time. Two
// families, each against its own direct reference:
//   HTTPS (what registries serve): a CONNECT tunnel carrying TLS end to end (`tunnelTls`), and an
//     intercepted host (an edge secret is for it: the proxy ends TLS with the run CA and opens its own
//     to the upstream, `intercept`), vs HTTPS direct.
//   Plain HTTP: raw bytes in a CONNECT tunnel (`tunnel`, the proxy's worst case: nothing else costs)
//     and the plain-HTTP proxy (`proxy`, absolute-form through the run's redactor), vs HTTP direct.
// Each tunnel mode is measured twice side by side: as shipped (a tunnel past 4 MiB is handed to the
// kernel relay, relay.ts) and with every tunnel kept in Node (`...Node`, AIRLOCK_EGRESS_RELAY=node
// for that run's proxy), in the same rounds. Interleaved rounds, medians.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { DEFAULT_POLICY_PATH } from '@airlock/validate';
import { TestStack } from '../test/fixtures.ts';

const CLIENT = `
import http.client, ssl, sys, time
mode, host, port, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
def tls(cafile):
    # cafile None: the default context, i.e. the run's bundle (SSL_CERT_FILE) in the sandbox.
    return ssl.create_default_context(cafile=cafile)
def conn():
    if mode == "tunnel":
        c = http.client.HTTPConnection("127.0.0.1", 3128, timeout=120)
        c.set_tunnel(host, port)
        return c, path
    if mode == "proxy":
        return http.client.HTTPConnection("127.0.0.1", 3128, timeout=120), "http://%s:%d%s" % (host, port, path)
    if mode in ("tunnel-tls", "intercept"):
        c = http.client.HTTPSConnection("127.0.0.1", 3128, timeout=120, context=tls("upstream-ca.pem" if mode == "tunnel-tls" else None))
        c.set_tunnel(host, port)
        return c, path
    if mode == "direct-tls":
        return http.client.HTTPSConnection(host, port, timeout=120, context=tls(sys.argv[6])), path
    return http.client.HTTPConnection(host, port, timeout=120), path
times, total = [], 0
for _ in range(n):
    t0 = time.perf_counter()
    c, p = conn()
    c.request("GET", p)
    r = c.getresponse()
    while True:
        b = r.read(1 << 20)
        if not b:
            break
        total += len(b)
    c.close()
    times.append(time.perf_counter() - t0)
times.sort()
print("%d %.6f %.6f" % (total, sum(times), times[len(times) // 2]))
`;

const execFileAsync = promisify(execFile);
const BIG = 200 * 1024 * 1024;

export interface EgressBenchResult {
  megabytes: number;
  rounds: number;
  /** MB/s, median of rounds; each ratio is against the direct download of its own family (HTTPS or HTTP). */
  throughput: {
    directTls: number;
    tunnelTls: number;
    tunnelTlsNode: number;
    intercept: number;
    tunnelTlsOverDirect: number;
    tunnelTlsNodeOverDirect: number;
    interceptOverDirect: number;
    direct: number;
    tunnel: number;
    tunnelNode: number;
    proxy: number;
    tunnelOverDirect: number;
    tunnelNodeOverDirect: number;
    proxyOverDirect: number;
    /** The same two through a proxy whose redactor walks every byte (AIRLOCK_EGRESS_REDACT=automaton), same rounds. */
    interceptAutomaton: number;
    interceptAutomatonOverDirect: number;
    proxyAutomaton: number;
    proxyAutomatonOverDirect: number;
  };
  /** The load average when the bench started and ended (a shared 2-core machine). */
  load: { start: number[]; end: number[] };
  /** One small GET on a fresh connection (TCP, CONNECT and TLS handshakes included), median ms. */
  requestMs: {
    directTls: number;
    tunnelTls: number;
    intercept: number;
    addedTunnelTls: number;
    addedIntercept: number;
    direct: number;
    tunnel: number;
    proxy: number;
    addedTunnel: number;
    addedProxy: number;
  };
}

/** A CA and a server certificate for the bench's HTTPS names and 127.0.0.1 (openssl). */
function makePki(dir: string): { caPem: string; key: string; cert: string } {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=airlock egress bench CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=big-tls.test');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:big-tls.test,DNS:big-sec.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '2', '-extfile', 'ext.cnf');
  return { caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'), key: readFileSync(join(dir, 'srv.key'), 'utf8'), cert: readFileSync(join(dir, 'srv.pem'), 'utf8') };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

export async function runEgressBench(opts: { rounds?: number; requests?: number } = {}): Promise<EgressBenchResult> {
  const rounds = opts.rounds ?? 3;
  const requests = opts.requests ?? 30;
  const loadStart = loadavg();
  const piece = Buffer.alloc(1024 * 1024, 0x61);
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-length': String(BIG) });
      let left = BIG / piece.length;
      const pump = () => {
        while (left > 0) {
          left--;
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        res.end();
      };
      return pump();
    }
    res.end('ok\n');
  };
  const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-egress-'));
  const pki = makePki(dir);
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const tlsServer = createTlsServer({ key: pki.key, cert: pki.cert }, handler);
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
  const tlsPort = (tlsServer.address() as AddressInfo).port;
  const ws = join(dir, 'ws');
  execFileSync('mkdir', [ws]);
  writeFileSync(join(ws, 'client.py'), CLIENT);
  writeFileSync(join(ws, 'upstream-ca.pem'), pki.caPem);
  for (const f of ['', 'client.py', 'upstream-ca.pem']) chownSync(join(ws, f), 1000, 1000);
  const policy = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as { network: Record<string, unknown>; secrets: unknown[] };
  policy.network.mode = 'proxy';
  policy.network.allow = [
    { hosts: ['big.test'], ports: [80] },
    { hosts: ['big-tls.test', 'big-sec.test'], ports: [443] },
  ];
  // An edge secret for big-sec.test: the proxy intercepts that host (and only that one).
  policy.secrets = [{ name: 'BENCH_TOKEN', hosts: ['big-sec.test'] }];
  writeFileSync(join(dir, 'policy.yaml'), stringify(policy));
  process.env.AIRLOCK_SECRET_BENCH_TOKEN = 'bench-edge-secret-0123456789';
  try {
    const tlsDest = `127.0.0.1:${tlsPort}`;
    await using stack = await TestStack.start({
      harness: { policyFile: join(dir, 'policy.yaml') },
      runner: { egressTestResolve: { 'big.test': `127.0.0.1:${port}`, 'big-tls.test': tlsDest, 'big-sec.test': tlsDest }, egressTestUpstreamCa: [pki.caPem] },
    });
    const run = await stack.client.open({ workspace: ws });
    // The same sandbox setup, its proxy started with every tunnel kept in Node (the code before the relay).
    process.env.AIRLOCK_EGRESS_RELAY = 'node';
    const nodeRun = await stack.client.open({ workspace: ws }).finally(() => delete process.env.AIRLOCK_EGRESS_RELAY);
    // And one whose proxy redacts with the automaton alone (the redactor before its substring search).
    process.env.AIRLOCK_EGRESS_REDACT = 'automaton';
    const autoRun = await stack.client.open({ workspace: ws }).finally(() => delete process.env.AIRLOCK_EGRESS_REDACT);
    const target = { tunnel: 'big.test 80', proxy: 'big.test 80', 'tunnel-tls': 'big-tls.test 443', intercept: 'big-sec.test 443' } as const;
    const inSandbox = async (mode: keyof typeof target, path: string, n: number, r = run) =>
      parseOut((await r.exec(`python3 client.py ${mode} ${target[mode]} ${path} ${n}`, { timeoutMs: 300_000, env: { BENCH_TOKEN: '${secret:BENCH_TOKEN}' } })).stdout);
    // Async: the servers are in this process, a synchronous child would starve them.
    const onHost = async (tls: boolean, path: string, n: number) =>
      parseOut((await execFileAsync('python3', [join(ws, 'client.py'), tls ? 'direct-tls' : 'direct', '127.0.0.1', String(tls ? tlsPort : port), path, String(n), join(ws, 'upstream-ca.pem')], { encoding: 'utf8' })).stdout);
    const keys = ['directTls', 'tunnelTls', 'tunnelTlsNode', 'intercept', 'interceptAutomaton', 'direct', 'tunnel', 'tunnelNode', 'proxy', 'proxyAutomaton'] as const;
    const mbps = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<(typeof keys)[number], number[]>;
    const ms = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<(typeof keys)[number], number[]>;
    const measure: Record<(typeof keys)[number], (path: string, n: number) => Promise<ReturnType<typeof parseOut>>> = {
      directTls: (p, n) => onHost(true, p, n),
      tunnelTls: (p, n) => inSandbox('tunnel-tls', p, n),
      tunnelTlsNode: (p, n) => inSandbox('tunnel-tls', p, n, nodeRun),
      intercept: (p, n) => inSandbox('intercept', p, n),
      interceptAutomaton: (p, n) => inSandbox('intercept', p, n, autoRun),
      direct: (p, n) => onHost(false, p, n),
      tunnel: (p, n) => inSandbox('tunnel', p, n),
      tunnelNode: (p, n) => inSandbox('tunnel', p, n, nodeRun),
      proxy: (p, n) => inSandbox('proxy', p, n),
      proxyAutomaton: (p, n) => inSandbox('proxy', p, n, autoRun),
    };
    for (let i = 0; i < rounds; i++) {
      for (const k of keys) mbps[k].push(BIG / 2 ** 20 / (await measure[k]('/big', 1)).seconds);
      // Small requests never reach the relay: the Node-only proxy would measure the same path twice.
      for (const k of keys) if (!k.endsWith('Node') && !k.endsWith('Automaton')) ms[k].push((await measure[k]('/small', requests)).medianS * 1000);
    }
    await stack.client.close(run.runId);
    await stack.client.close(nodeRun.runId);
    await stack.client.close(autoRun.runId);
    const t = Object.fromEntries(keys.map((k) => [k, median(mbps[k])])) as Record<(typeof keys)[number], number>;
    const l = Object.fromEntries(keys.filter((k) => !k.endsWith('Node') && !k.endsWith('Automaton')).map((k) => [k, median(ms[k])])) as Record<(typeof keys)[number], number>;
    return {
      megabytes: BIG / 2 ** 20,
      rounds,
      throughput: {
        directTls: round(t.directTls),
        tunnelTls: round(t.tunnelTls),
        tunnelTlsNode: round(t.tunnelTlsNode),
        intercept: round(t.intercept),
        tunnelTlsOverDirect: round(t.tunnelTls / t.directTls, 2),
        tunnelTlsNodeOverDirect: round(t.tunnelTlsNode / t.directTls, 2),
        interceptOverDirect: round(t.intercept / t.directTls, 2),
        interceptAutomaton: round(t.interceptAutomaton),
        interceptAutomatonOverDirect: round(t.interceptAutomaton / t.directTls, 2),
        direct: round(t.direct),
        tunnel: round(t.tunnel),
        tunnelNode: round(t.tunnelNode),
        proxy: round(t.proxy),
        tunnelOverDirect: round(t.tunnel / t.direct, 2),
        tunnelNodeOverDirect: round(t.tunnelNode / t.direct, 2),
        proxyOverDirect: round(t.proxy / t.direct, 2),
        proxyAutomaton: round(t.proxyAutomaton),
        proxyAutomatonOverDirect: round(t.proxyAutomaton / t.direct, 2),
      },
      requestMs: {
        directTls: round(l.directTls, 2),
        tunnelTls: round(l.tunnelTls, 2),
        intercept: round(l.intercept, 2),
        addedTunnelTls: round(l.tunnelTls - l.directTls, 2),
        addedIntercept: round(l.intercept - l.directTls, 2),
        direct: round(l.direct, 2),
        tunnel: round(l.tunnel, 2),
        proxy: round(l.proxy, 2),
        addedTunnel: round(l.tunnel - l.direct, 2),
        addedProxy: round(l.proxy - l.direct, 2),
      },
      load: { start: loadStart.map((x) => round(x, 2)), end: loadavg().map((x) => round(x, 2)) },
    };
  } finally {
    delete process.env.AIRLOCK_SECRET_BENCH_TOKEN;
    server.close();
    tlsServer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseOut(out: string): { bytes: number; seconds: number; medianS: number } {
  const [bytes, seconds, medianS] = out.trim().split(' ').map(Number);
  if (!Number.isFinite(bytes) || !Number.isFinite(seconds) || !Number.isFinite(medianS)) throw new Error(`the bench client failed: ${out.slice(0, 300)}`);
  return { bytes: bytes!, seconds: seconds!, medianS: medianS! };
}
