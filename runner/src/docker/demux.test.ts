import { describe, expect, it } from 'vitest';
import { demux, type Frame } from './demux.ts';

function frame(type: 1 | 2, payload: string): Buffer {
  const body = Buffer.from(payload);
  const head = Buffer.alloc(8);
  head[0] = type;
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

async function collect(pieces: Buffer[]): Promise<Frame[]> {
  const out: Frame[] = [];
  async function* src() {
    yield* pieces;
  }
  for await (const f of demux(src())) out.push(f);
  return out;
}

describe('demux', () => {
  it('splits stdout and stderr frames', async () => {
    const frames = await collect([Buffer.concat([frame(1, 'out'), frame(2, 'err'), frame(1, '!')])]);
    expect(frames.map((f) => [f.stream, f.data.toString()])).toEqual([['stdout', 'out'], ['stderr', 'err'], ['stdout', '!']]);
  });

  it('reassembles headers and payloads split at every byte boundary', async () => {
    const whole = Buffer.concat([frame(1, 'hello world'), frame(2, 'oops'), frame(1, '')]);
    for (let cut = 1; cut < whole.length; cut++) {
      const frames = await collect([whole.subarray(0, cut), whole.subarray(cut)]);
      const out = frames.filter((f) => f.stream === 'stdout').map((f) => f.data.toString()).join('');
      const err = frames.filter((f) => f.stream === 'stderr').map((f) => f.data.toString()).join('');
      expect([out, err]).toEqual(['hello world', 'oops']);
    }
  });
});
