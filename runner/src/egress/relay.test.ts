// A tunnel handed from Node to the kernel relay (relay.py) mid-stream, against real sockets: every
// byte arrives once and in order in both directions across the handoff, the event counts them all,
// and a killed proxy takes its relays with it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandAllow } from '@airlock/validate';
import { createEgressProxy, type EgressEvent } from './proxy.ts';
import { HANDOFF_BYTES, relayAvailable } from './relay.ts';

const TOTAL = 12 * HANDOFF_BYTES + 12_345;
let dir: string;
let upstream: Server;
let proxy: ReturnType<typeof createEgressProxy>;
const events: EgressEvent[] = [];
/** What the upstream received from each client, hashed when the client half-closed. */
const received: string[] = [];

/** A deterministic byte stream (not one repeated byte: a reordering or a duplicated piece shows). */
function pattern(offset: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = ((offset + i) * 2_654_435_761) >>> 24;
  return b;
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'egress-relay-test-'));
  // Sends TOTAL bytes of the pattern, then keeps reading what the client sends until it ends.
  upstream = createServer((s) => {
    const got: Buffer[] = [];
    s.on('data', (c: Buffer) => got.push(c));
    s.on('end', () => {
      received.push(sha(Buffer.concat(got)));
      s.end();
    });
    s.on('error', () => undefined);
    let sent = 0;
    const pump = () => {
      while (sent < TOTAL) {
        const n = Math.min(256 * 1024, TOTAL - sent);
        const ok = s.write(pattern(sent, n));
        sent += n;
        if (!ok) return void s.once('drain', pump);
      }
    };
    pump();
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  proxy = createEgressProxy({
    rules: expandAllow([{ hosts: ['bulk.test'], ports: [80] }]),
    testResolve: { 'bulk.test': `127.0.0.1:${(upstream.address() as AddressInfo).port}` },
    onEvent: (e) => events.push(e),
    secrets: () => [],
  });
  proxy.listen(join(dir, 'p'));
  await once(proxy, 'listening');
});

afterAll(async () => {
  proxy?.close();
  upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Opens a tunnel to bulk.test:80 and returns the socket positioned after the proxy's answer. */
async function tunnel(path: string): Promise<{ s: Socket; head: string; rest: Buffer }> {
  const s = connect(path);
  await once(s, 'connect');
  s.write('CONNECT bulk.test:80 HTTP/1.1\r\nHost: bulk.test:80\r\n\r\n');
  let buf = Buffer.alloc(0);
  while (!buf.includes('\r\n\r\n')) buf = Buffer.concat([buf, (await once(s, 'data'))[0] as Buffer]);
  const end = buf.indexOf('\r\n\r\n') + 4;
  return { s, head: buf.subarray(0, end).toString(), rest: buf.subarray(end) };
}

describe('bulk tunnels through the kernel relay', () => {
  it('this host can run the relay (python3 with os.splice): otherwise the tests below would prove nothing', () => {
    expect(relayAvailable()).toBe(true);
  });

  it('a download larger than the handoff threshold arrives whole and in order; bytes sent after the handoff reach the upstream; the event counts everything', async () => {
    const { s, head, rest } = await tunnel(join(dir, 'p'));
    expect(head).toMatch(/^HTTP\/1.1 200 /);
    // The first bytes in a tunnel are its "ClientHello": anything not TLS passes as it is.
    const hello = pattern(7, 1000);
    const sent: Buffer[] = [hello];
    s.write(hello);
    const got: Buffer[] = [rest];
    let n = rest.length;
    s.on('data', (c: Buffer) => {
      got.push(c);
      n += c.length;
    });
    // Upload in pieces while the download runs, before and after the handoff point.
    for (let i = 0; i < 20; i++) {
      const piece = pattern(10_000 * (i + 1), 50_000);
      sent.push(piece);
      s.write(piece);
      await new Promise((r) => setTimeout(r, 10));
    }
    while (n < TOTAL) await once(s, 'data');
    s.end();
    await once(s, 'close');
    const down = Buffer.concat(got);
    expect(down.length).toBe(TOTAL);
    expect(sha(down)).toBe(sha(pattern(0, TOTAL)));
    await expect.poll(() => received.length, { timeout: 10_000 }).toBe(1);
    expect(received[0]).toBe(sha(Buffer.concat(sent)));
    await expect.poll(() => events.length, { timeout: 10_000 }).toBe(1);
    const up = sent.reduce((k, b) => k + b.length, 0);
    expect(events[0]).toMatchObject({ host: 'bulk.test', via: 'connect', decision: 'allowed', bytesDown: TOTAL, bytesUp: up });
    expect(events[0]!.reason).toBeUndefined();
  }, 60_000);

  it('a killed proxy process takes its relays with it (the download stops short)', async () => {
    const sockPath = join(dir, 'p2');
    const script = `
      import { createEgressProxy } from ${JSON.stringify(new URL('./proxy.ts', import.meta.url).href)};
      createEgressProxy({ rules: [{ hosts: ['bulk.test'], ports: [80] }], testResolve: { 'bulk.test': ${JSON.stringify(`127.0.0.1:${(upstream.address() as AddressInfo).port}`)} }, onEvent: () => {}, secrets: () => [] })
        .listen(${JSON.stringify(sockPath)}, () => console.log('up'));`;
    const child: ChildProcess = spawn(process.execPath, ['--conditions=airlock-source', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(child.stdout!, 'data');
    const { s, rest } = await tunnel(sockPath);
    s.write(pattern(0, 100));
    let n = rest.length;
    // Read slowly past the handoff, then kill the proxy while most of the download is still to come.
    s.pause();
    const readSome = async (limit: number) => {
      while (n < limit) {
        const c = s.read() as Buffer | null;
        if (c) n += c.length;
        else await once(s, 'readable');
      }
    };
    await readSome(HANDOFF_BYTES + 1024 * 1024);
    child.kill('SIGKILL');
    await once(child, 'exit');
    s.resume();
    s.on('data', (c: Buffer) => (n += c.length));
    await once(s, 'close');
    expect(n).toBeLessThan(TOTAL);
  }, 60_000);
});
