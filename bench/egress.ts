// Egress: a 200 MB download by python's http.client inside a real sandbox, through the run's
// forwarder and egress proxy (CONNECT tunnel, and plain-HTTP absolute-form), against the same client on
// the host fetching from the same loopback server directly; plus the latency of one small request on
// a fresh connection each time, through the proxy vs direct. Interleaved rounds, medians.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { DEFAULT_POLICY_PATH } from '@airlock/validate';
import { TestStack } from '../test/fixtures.ts';

const CLIENT = `
import http.client, sys, time
mode, host, port, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
def conn():
    if mode == "tunnel":
        c = http.client.HTTPConnection("127.0.0.1", 3128, timeout=120)
        c.set_tunnel(host, port)
        return c, path
    if mode == "proxy":
        return http.client.HTTPConnection("127.0.0.1", 3128, timeout=120), "http://%s:%d%s" % (host, port, path)
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
  /** MB/s, median of rounds. */
  throughput: { direct: number; tunnel: number; proxy: number; tunnelOverDirect: number; proxyOverDirect: number };
  /** One small GET on a fresh connection, median ms. */
  requestMs: { direct: number; tunnel: number; proxy: number; addedTunnel: number; addedProxy: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

export async function runEgressBench(opts: { rounds?: number; requests?: number } = {}): Promise<EgressBenchResult> {
  const rounds = opts.rounds ?? 3;
  const requests = opts.requests ?? 100;
  const piece = Buffer.alloc(1024 * 1024, 0x61);
  const server = createServer((req, res) => {
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
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-egress-'));
  const ws = join(dir, 'ws');
  execFileSync('mkdir', [ws]);
  writeFileSync(join(ws, 'client.py'), CLIENT);
  chownSync(ws, 1000, 1000);
  chownSync(join(ws, 'client.py'), 1000, 1000);
  const policy = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as { network: Record<string, unknown> };
  policy.network.mode = 'proxy';
  policy.network.allow = [{ hosts: ['big.test'], ports: [80] }];
  writeFileSync(join(dir, 'policy.yaml'), stringify(policy));
  try {
    await using stack = await TestStack.start({ harness: { policyFile: join(dir, 'policy.yaml') }, runner: { egressTestResolve: { 'big.test': `127.0.0.1:${port}` } } });
    const run = await stack.client.open({ workspace: ws });
    const inSandbox = async (mode: string, path: string, n: number) => parseOut((await run.exec(`python3 client.py ${mode} big.test 80 ${path} ${n}`, { timeoutMs: 300_000 })).stdout);
    // Async: the server is in this process, a synchronous child would starve it.
    const onHost = async (path: string, n: number) => parseOut((await execFileAsync('python3', [join(ws, 'client.py'), 'direct', '127.0.0.1', String(port), path, String(n)], { encoding: 'utf8' })).stdout);
    const mbps = { direct: [] as number[], tunnel: [] as number[], proxy: [] as number[] };
    const ms = { direct: [] as number[], tunnel: [] as number[], proxy: [] as number[] };
    for (let i = 0; i < rounds; i++) {
      mbps.direct.push(BIG / 2 ** 20 / (await onHost('/big', 1)).seconds);
      mbps.tunnel.push(BIG / 2 ** 20 / (await inSandbox('tunnel', '/big', 1)).seconds);
      mbps.proxy.push(BIG / 2 ** 20 / (await inSandbox('proxy', '/big', 1)).seconds);
      ms.direct.push((await onHost('/small', requests)).medianS * 1000);
      ms.tunnel.push((await inSandbox('tunnel', '/small', requests)).medianS * 1000);
      ms.proxy.push((await inSandbox('proxy', '/small', requests)).medianS * 1000);
    }
    await stack.client.close(run.runId);
    const t = { direct: median(mbps.direct), tunnel: median(mbps.tunnel), proxy: median(mbps.proxy) };
    const l = { direct: median(ms.direct), tunnel: median(ms.tunnel), proxy: median(ms.proxy) };
    return {
      megabytes: BIG / 2 ** 20,
      rounds,
      throughput: { direct: round(t.direct), tunnel: round(t.tunnel), proxy: round(t.proxy), tunnelOverDirect: round(t.tunnel / t.direct, 2), proxyOverDirect: round(t.proxy / t.direct, 2) },
      requestMs: { direct: round(l.direct, 2), tunnel: round(l.tunnel, 2), proxy: round(l.proxy, 2), addedTunnel: round(l.tunnel - l.direct, 2), addedProxy: round(l.proxy - l.direct, 2) },
    };
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseOut(out: string): { bytes: number; seconds: number; medianS: number } {
  const [bytes, seconds, medianS] = out.trim().split(' ').map(Number);
  if (!Number.isFinite(bytes) || !Number.isFinite(seconds) || !Number.isFinite(medianS)) throw new Error(`the bench client failed: ${out.slice(0, 300)}`);
  return { bytes: bytes!, seconds: seconds!, medianS: medianS! };
}
