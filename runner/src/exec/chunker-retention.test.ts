import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { Frame } from '../docker/demux.ts';
import { pumpChunks } from './chunker.ts';

setFlagsFromString('--expose-gc');
/** A full garbage collection (the flag above makes `gc` a global of new contexts). */
const gc = runInNewContext('gc') as () => void;

describe('pumpChunks memory', () => {
  // The runner's RSS grew by 1.6 GB while one step wrote 1 GB (issue 15's ledger row): every
  // Promise.race of a frame against a promise pending for the whole pump left a reaction on that
  // promise, which kept the race, and with it the frame and the reader's buffer it is a view of.
  it('keeps no frame it has passed on: the frames read earlier in a step are collectable while the step still runs', async () => {
    const size = 64 * 1024;
    const frames = 300;
    const refs: WeakRef<ArrayBuffer>[] = [];
    async function* source(): AsyncGenerator<Frame> {
      for (let i = 0; i < frames; i++) {
        // A fresh buffer each time (not from Node's pool), as a socket read gives.
        const data = Buffer.alloc(size, i % 256);
        refs.push(new WeakRef(data.buffer as ArrayBuffer));
        yield { stream: 'stdout', data };
        // Let the pump wait for output, as it does for a real stream.
        await new Promise((r) => setImmediate(r));
      }
    }
    let alive: number | undefined;
    let emitted = 0;
    const totals = await pumpChunks(source(), { maxChunkBytes: size, maxStreamBytes: 1 << 30, flushAfterMs: 20, window: 8 }, async () => {
      emitted++;
      if (emitted === 250) {
        // A macrotask later, so the WeakRefs of earlier frames are no longer held for the current job.
        await new Promise((r) => setTimeout(r, 0));
        gc();
        alive = refs.slice(0, 200).filter((r) => r.deref() !== undefined).length;
      }
    });
    expect(totals.stdoutBytes).toBe(frames * size);
    expect(emitted).toBe(frames);
    // Before the fix all 200 were alive; a handful may be in flight (the window) or not yet swept.
    expect(alive).toBeDefined();
    expect(alive!).toBeLessThan(20);
  });
});
