// The runner's side of the executor protocol against a scripted executor on a real unix socket.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExecutorChannel } from './executor.ts';

const frame = (kind: number, value: unknown) => {
  const p = Buffer.from(JSON.stringify(value));
  const h = Buffer.alloc(5);
  h[0] = kind;
  h.writeUInt32BE(p.length, 1);
  return Buffer.concat([h, p]);
};

let server: Server | undefined;
let dir = '';
afterEach(() => {
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A fake executor: says `protocol`, then answers each request line with `answer(request)`. */
async function channelTo(protocol: number, answer: (req: Record<string, unknown>, sock: Socket) => void): Promise<{ channel: ExecutorChannel; requests: Array<Record<string, unknown>> }> {
  dir = mkdtempSync(join(tmpdir(), 'airlock-exec-test-'));
  const path = join(dir, 's');
  const requests: Array<Record<string, unknown>> = [];
  server = createServer((sock) => {
    sock.write(frame(5, { pid: 1, protocol }));
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const req = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        requests.push(req);
        answer(req, sock);
      }
    });
  });
  await new Promise<void>((r) => server!.listen(path, r));
  const sock = connect(path);
  await new Promise((r) => sock.once('connect', r));
  const channel = new ExecutorChannel(sock);
  await channel.ready(2000);
  return { channel, requests };
}

async function drain(run: Awaited<ReturnType<ExecutorChannel['run']>>) {
  for await (const _ of run.output);
  return run.exit();
}

const deadline = { timeoutMs: 60_000, killAfterMs: 2000 };

describe('ExecutorChannel deadlines', () => {
  it('protocol 2: sends the deadline and passes the executor\'s timedOut through', async () => {
    const { channel, requests } = await channelTo(2, (req, sock) => sock.write(frame(3, { code: 124, timedOut: req.argv && (req.argv as string[])[2] === 'slow' })));
    expect(channel.protocol).toBe(2);
    expect(await drain(await channel.run({ argv: ['bash', '-c', 'slow'], env: {}, cwd: '/', deadline }))).toEqual({ code: 124, timedOut: true });
    // `exit 124` by itself: the executor says it did not time out, and that is what counts.
    expect(await drain(await channel.run({ argv: ['bash', '-c', 'exit 124'], env: {}, cwd: '/', deadline }))).toEqual({ code: 124, timedOut: false });
    expect(requests[0]).toMatchObject({ argv: ['bash', '-c', 'slow'], timeoutMs: 60_000, killAfterMs: 2000 });
  });

  it('protocol 2: an exit frame that does not say whether the deadline fired is an error, not a guess', async () => {
    const { channel } = await channelTo(2, (_req, sock) => sock.write(frame(3, { code: 124 })));
    await expect(drain(await channel.run({ argv: ['x'], env: {}, cwd: '/', deadline }))).rejects.toThrow(/deadline/);
  });

  it('protocol 1: wraps the command in coreutils timeout; 124 before the deadline is not a timeout', async () => {
    const { channel, requests } = await channelTo(1, (_req, sock) => sock.write(frame(3, { code: 124 })));
    expect(await drain(await channel.run({ argv: ['bash', '-c', 'exit 124'], env: {}, cwd: '/', deadline }))).toEqual({ code: 124, timedOut: false });
    expect(requests[0]?.argv).toEqual(['timeout', '-s', 'TERM', '-k', '2.000', '60.000', 'bash', '-c', 'exit 124']);
    expect(requests[0]).not.toHaveProperty('timeoutMs');
  });

  it('protocol 1: 124 once the deadline passed on a clock started before the request is a timeout', async () => {
    const { channel } = await channelTo(1, (_req, sock) => setTimeout(() => sock.write(frame(3, { code: 124 })), 80));
    expect(await drain(await channel.run({ argv: ['sleep', '9'], env: {}, cwd: '/', deadline: { timeoutMs: 50, killAfterMs: 10 } }))).toEqual({ code: 124, timedOut: true });
  });
});
