import { describe, expect, it } from 'vitest';
import type { Frame } from '../docker/demux.ts';
import { pumpChunks, type Chunk } from './chunker.ts';

async function* frames(list: Frame[], delayMs = 0) {
  for (const f of list) {
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    yield f;
  }
}

const f = (stream: 'stdout' | 'stderr', s: string | Buffer): Frame => ({ stream, data: Buffer.isBuffer(s) ? s : Buffer.from(s) });

describe('pumpChunks', () => {
  it('coalesces small frames, keeps streams apart, and numbers offsets per stream', async () => {
    const got: Chunk[] = [];
    const totals = await pumpChunks(frames([f('stdout', 'a'), f('stdout', 'b'), f('stderr', 'E'), f('stdout', 'c')]), { maxChunkBytes: 1024, maxStreamBytes: 1e9, flushAfterMs: 1000 }, async (c) => {
      got.push(c);
    });
    expect(got.map((c) => [c.stream, c.offset, c.data.toString()])).toEqual([['stdout', 0, 'ab'], ['stderr', 0, 'E'], ['stdout', 2, 'c']]);
    expect(totals).toEqual({ stdoutBytes: 3, stderrBytes: 1, truncated: false });
  });

  it('never emits a chunk larger than the bound', async () => {
    const big = Buffer.alloc(10_000, 7);
    const got: Chunk[] = [];
    await pumpChunks(frames([f('stdout', big), f('stdout', big)]), { maxChunkBytes: 4096, maxStreamBytes: 1e9, flushAfterMs: 1000 }, async (c) => {
      got.push(c);
    });
    expect(Math.max(...got.map((c) => c.data.length))).toBeLessThanOrEqual(4096);
    expect(Buffer.concat(got.map((c) => c.data))).toEqual(Buffer.concat([big, big]));
  });

  it('flushes a partial chunk when the command goes quiet', async () => {
    const times: number[] = [];
    const t0 = Date.now();
    async function* slow() {
      yield f('stdout', 'first');
      await new Promise((r) => setTimeout(r, 300));
      yield f('stdout', 'second');
    }
    await pumpChunks(slow(), { maxChunkBytes: 1024, maxStreamBytes: 1e9, flushAfterMs: 20 }, async () => {
      times.push(Date.now() - t0);
    });
    expect(times.length).toBe(2);
    expect(times[0]).toBeLessThan(200);
  });

  it('truncates beyond the per-stream limit but counts every byte', async () => {
    const got: Chunk[] = [];
    const totals = await pumpChunks(frames([f('stdout', '12345'), f('stdout', '67890'), f('stderr', 'ok')]), { maxChunkBytes: 1024, maxStreamBytes: 7, flushAfterMs: 1000 }, async (c) => {
      got.push(c);
    });
    expect(got.filter((c) => c.stream === 'stdout').map((c) => c.data.toString()).join('')).toBe('1234567');
    expect(totals).toEqual({ stdoutBytes: 10, stderrBytes: 2, truncated: true });
  });

  it('handles a failed emit at once, emits nothing after it, stops reading and reports logLost (no unhandled rejection)', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    let closed = false;
    let produced = 0;
    async function* endless() {
      try {
        for (;;) {
          await new Promise((r) => setTimeout(r, 5));
          produced++;
          yield f('stdout', Buffer.alloc(16, 1));
        }
      } finally {
        closed = true;
      }
    }
    let calls = 0;
    let failedAt = -1;
    try {
      const totals = await pumpChunks(endless(), { maxChunkBytes: 16, maxStreamBytes: 1e9, flushAfterMs: 1000, window: 8 }, async (c) => {
        const n = ++calls;
        if (failedAt >= 0) throw new Error(`emit called for offset ${c.offset} after the failure`);
        // The second chunk fails while the pump is reading on (it is not the one being awaited).
        if (n === 2) {
          await new Promise((r) => setTimeout(r, 2));
          failedAt = n;
          throw new Error('JetStream did not acknowledge');
        }
        await new Promise((r) => setTimeout(r, 60));
      });
      expect(totals.logLost?.code).toBe('log_unavailable');
      expect((totals.logLost?.cause as Error).message).toBe('JetStream did not acknowledge');
      expect(calls).toBeGreaterThanOrEqual(2);
      // It stopped reading: the source is closed and produces nothing more.
      for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
      expect(closed).toBe(true);
      const after = produced;
      await new Promise((r) => setTimeout(r, 50));
      expect(produced).toBe(after);
      // Let any stray rejection surface before looking.
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('keeps the log failure it was given when it is already typed', async () => {
    const { AirlockError } = await import('@airlock/proto');
    const lost = new AirlockError('log_unavailable', 'no ack');
    const totals = await pumpChunks(frames([f('stdout', 'a'), f('stdout', 'b')]), { maxChunkBytes: 1, maxStreamBytes: 1e9, flushAfterMs: 1000 }, async () => {
      throw lost;
    });
    expect(totals.logLost).toBe(lost);
    expect(totals.stdoutBytes).toBe(1);
  });

  it('stops waiting for a quiet command as soon as an emit fails', async () => {
    async function* quiet() {
      yield f('stdout', 'some output');
      // The command goes quiet for a long time.
      await new Promise((r) => setTimeout(r, 5000));
      yield f('stdout', 'late');
    }
    const t0 = Date.now();
    const totals = await pumpChunks(quiet(), { maxChunkBytes: 1024, maxStreamBytes: 1e9, flushAfterMs: 10, window: 8 }, async () => {
      await new Promise((r) => setTimeout(r, 50));
      throw new Error('no ack');
    });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(totals.logLost?.code).toBe('log_unavailable');
    expect(totals.stdoutBytes).toBe('some output'.length);
  });
});
