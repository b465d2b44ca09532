// Bulk tunnels leave Node: a CONNECT tunnel that has carried HANDOFF_BYTES down is handed to
// relay.py, which splices both directions in the kernel. Measured on this 2-core host (bench/egress.ts
// and README): relaying in Node cost the proxy ~2.5x the CPU of the upstream server itself per byte
// (two copies through user space, a partial write per unix-socket buffer), the largest share of a
// tunnelled download's overhead. Small requests never reach the threshold and stay in Node (a relay
// process costs ~15 ms to start). Without a python3 >= 3.10 on the runner host, tunnels stay in Node.
import { spawn, spawnSync } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Bytes down after which a tunnel is handed to the relay (a download, not a request). */
export const HANDOFF_BYTES = 4 * 1024 * 1024;
const RELAY = fileURLToPath(new URL('./relay.py', import.meta.url));

/** The interpreter that runs the relay (absolute: a launcher shim on PATH can cost 100 ms a start), or null. */
let python: string | null | undefined;

/** Whether this host can run the relay (python3 with os.splice); checked once per process. */
export function relayAvailable(): boolean {
  if (python === undefined) {
    python = null;
    if (process.env.AIRLOCK_EGRESS_RELAY !== 'node') {
      const r = spawnSync('python3', ['-I', '-S', '-c', 'import os, sys; assert hasattr(os, "splice"); print(sys.executable)'], { encoding: 'utf8', timeout: 10_000 });
      const exe = r.status === 0 ? r.stdout.trim() : '';
      if (exe.startsWith('/')) python = exe;
    }
  }
  return python !== null;
}

/** What the relay moved after the handoff, or why it failed. */
export interface RelayResult {
  bytesUp: number;
  bytesDown: number;
  failure?: string;
}

/** Resolves once the socket holds no unwritten bytes (or has closed). */
function drained(s: Socket): Promise<void> {
  if (s.writableLength === 0 || s.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

/** The libuv handle under a net.Socket: stopping its reads is the only way to leave no byte in Node. */
interface ReadingHandle {
  reading: boolean;
  readStop(): number;
}

/**
 * Stops a socket reading from the kernel (pause() alone lets a plain socket fill its buffer), as
 * net.Socket's own pause does for sockets with `onread`: `reading` false so a later resume restarts it.
 */
function stopReading(s: Socket): boolean {
  s.pause();
  const handle = (s as unknown as { _handle?: Partial<ReadingHandle> | null })._handle;
  if (!handle || typeof handle.readStop !== 'function') return false;
  handle.reading = false;
  handle.readStop();
  return true;
}

/**
 * Moves a tunnel to the relay. The upstream must already have stopped reading (its read callback
 * returned false); the client is unpiped and stopped here, what it had read is passed on, Node's
 * queued writes drain, then the relay gets both descriptors and Node's copies are closed (a close is
 * not a shutdown: the connections stay open in the relay). `handedOff` runs just before that close.
 * null when a side ended meanwhile or cannot be stopped: the caller goes on relaying in Node.
 */
export async function relayTunnel(client: Socket, upstream: Socket, handedOff: () => void): Promise<{ done: Promise<RelayResult> } | null> {
  client.unpipe(upstream);
  if (!stopReading(client) || !stopReading(upstream)) {
    client.pipe(upstream);
    return null;
  }
  for (;;) {
    let chunk: unknown;
    while ((chunk = client.read()) !== null) upstream.write(chunk as Buffer);
    await Promise.all([drained(client), drained(upstream)]);
    if (client.readableLength === 0) break;
  }
  if (client.destroyed || upstream.destroyed || client.readableEnded || upstream.readableEnded || client.writableEnded || upstream.writableEnded) {
    client.pipe(upstream);
    return null;
  }
  const child = spawn(python!, ['-I', '-S', RELAY], { stdio: [client, upstream, 'pipe', 'pipe'] });
  handedOff();
  client.destroy();
  upstream.destroy();
  const done = new Promise<RelayResult>((resolve) => {
    let report = '';
    child.stderr?.on('data', (d: Buffer) => (report += d.toString()));
    child.on('error', (err) => resolve({ bytesUp: 0, bytesDown: 0, failure: `the tunnel relay failed: ${err.message}` }));
    child.on('close', (code, signal) => {
      const m = /bytes (\d+) (\d+)\n?$/.exec(report);
      if (m && code === 0) return resolve({ bytesUp: Number(m[1]), bytesDown: Number(m[2]) });
      resolve({ bytesUp: 0, bytesDown: 0, failure: `the tunnel relay ended (${signal ?? `exit ${code}`}): ${report.slice(-200).trim()}` });
    });
  });
  return { done };
}
