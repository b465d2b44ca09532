import { describe, expect, it } from 'vitest';
import { executorFrames } from './executor.ts';

const frame = (kind: number, payload: string | Buffer) => {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const h = Buffer.alloc(5);
  h[0] = kind;
  h.writeUInt32BE(p.length, 1);
  return Buffer.concat([h, p]);
};

async function* pieces(bytes: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

async function collect(src: AsyncIterable<Buffer>) {
  const out: Array<[number, string]> = [];
  for await (const f of executorFrames(src)) out.push([f.kind, f.payload.toString()]);
  return out;
}

describe('executorFrames', () => {
  const big = 'x'.repeat(70_000);
  const wire = Buffer.concat([frame(5, '{"pid":7}'), frame(1, 'hello'), frame(2, ''), frame(1, big), frame(3, '{"code":0}')]);
  const want: Array<[number, string]> = [[5, '{"pid":7}'], [1, 'hello'], [2, ''], [1, big], [3, '{"code":0}']];

  it('frames a stream delivered in one piece, byte by byte, and in odd sizes', async () => {
    expect(await collect(pieces(wire, [wire.length]))).toEqual(want);
    expect(await collect(pieces(wire, [1]))).toEqual(want);
    expect(await collect(pieces(wire, [3, 4096, 7, 65_536]))).toEqual(want);
  });

  it('stops at a truncated frame without inventing one', async () => {
    const cut = wire.subarray(0, wire.length - 3);
    expect(await collect(pieces(cut, [1000]))).toEqual(want.slice(0, 4));
  });
});

describe('parseExecutorLabel', () => {
  it('reads a JSON argv, and no label means docker exec', async () => {
    const { parseExecutorLabel } = await import('./executor.ts');
    expect(parseExecutorLabel('img', '["python3", "-I", "/opt/airlock/executor.py"]')).toEqual(['python3', '-I', '/opt/airlock/executor.py']);
    expect(parseExecutorLabel('img', undefined)).toBeUndefined();
    expect(parseExecutorLabel('img', '')).toBeUndefined();
  });

  it('refuses a malformed label with a typed image_invalid error instead of falling back', async () => {
    const { parseExecutorLabel } = await import('./executor.ts');
    for (const raw of ['python3 /opt/airlock/executor.py', '[]', '[1, 2]', '{"argv": ["x"]}', '["ok", ""]', '"x"']) {
      expect(() => parseExecutorLabel('img', raw), raw).toThrow(expect.objectContaining({ code: 'image_invalid' }));
    }
  });
});
