/** A piece of output from a multiplexed Docker stream. */
export interface Frame {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/**
 * Splits Docker's multiplexed attach stream (8-byte header: stream type, 3 zero bytes, big-endian
 * length; then the payload) into frames. Pull-based: the producer is paused while the consumer
 * awaits, so a huge output never piles up in memory.
 */
export async function* demux(source: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<Frame> {
  let pending: Buffer = Buffer.alloc(0);
  let current: { stream: 'stdout' | 'stderr'; remaining: number } | null = null;
  for await (const piece of source) {
    pending = pending.length === 0 ? Buffer.from(piece) : Buffer.concat([pending, piece]);
    while (pending.length > 0) {
      if (current === null) {
        if (pending.length < 8) break;
        const type = pending[0];
        const length = pending.readUInt32BE(4);
        current = { stream: type === 2 ? 'stderr' : 'stdout', remaining: length };
        pending = pending.subarray(8);
        if (length === 0) {
          current = null;
          continue;
        }
      }
      const take = Math.min(current.remaining, pending.length);
      if (take === 0) break;
      yield { stream: current.stream, data: pending.subarray(0, take) };
      current.remaining -= take;
      pending = pending.subarray(take);
      if (current.remaining === 0) current = null;
    }
  }
}
