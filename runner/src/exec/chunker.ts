import type { Frame } from '../docker/demux.ts';

export interface Chunk {
  stream: 'stdout' | 'stderr';
  /** Byte offset of this chunk within its stream of the step. */
  offset: number;
  data: Buffer;
}

export interface ChunkerOptions {
  /** Largest chunk, bytes. */
  maxChunkBytes: number;
  /** Bytes kept per stream before output is dropped (and the step marked truncated). */
  maxStreamBytes: number;
  /** A partial chunk is sent after this long, so slow output still streams live. */
  flushAfterMs: number;
  /**
   * Chunks handed to `emit` whose promise has not settled yet, at most. Reading goes on while earlier
   * chunks are being stored, up to this many (memory stays below window x maxChunkBytes). Default 1.
   */
  window?: number;
}

export interface ChunkerTotals {
  stdoutBytes: number;
  stderrBytes: number;
  truncated: boolean;
}

/**
 * Coalesces demultiplexed frames into bounded chunks and hands each to `emit` in order.
 * `emit` is awaited before more input is read, so output is back-pressured end to end.
 * Counts every byte the command wrote, also beyond the kept limit.
 */
export async function pumpChunks(
  frames: AsyncIterable<Frame>,
  opts: ChunkerOptions,
  emit: (chunk: Chunk) => Promise<void>,
): Promise<ChunkerTotals> {
  const seen = { stdout: 0, stderr: 0 };
  const kept = { stdout: 0, stderr: 0 };
  let truncated = false;
  type Pending = { stream: 'stdout' | 'stderr'; parts: Buffer[]; size: number; since: number };
  let buf = null as Pending | null;

  const flush = async () => {
    if (!buf || buf.size === 0) return;
    const { stream, parts, size } = buf;
    buf = null;
    const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    const offset = kept[stream];
    kept[stream] += data.length;
    // `emit` must keep call order itself (the run log writer serialises appends).
    const p = emit({ stream, offset, data });
    pending.push(p);
    if (pending.length >= (opts.window ?? 1)) await pending.shift();
  };
  const pending: Promise<void>[] = [];

  const iterator = frames[Symbol.asyncIterator]();
  for (;;) {
    const next = iterator.next();
    let result: IteratorResult<Frame> | undefined;
    // While a partial chunk waits, wake up in time to send it even if the command is quiet.
    while (buf) {
      const wait = Math.max(0, buf.since + opts.flushAfterMs - Date.now());
      let timer: NodeJS.Timeout | undefined;
      const raced = await Promise.race([
        next,
        new Promise<'flush'>((resolve) => (timer = setTimeout(resolve, wait, 'flush'))),
      ]);
      clearTimeout(timer);
      if (raced !== 'flush') {
        result = raced;
        break;
      }
      await flush();
    }
    result ??= await next;
    if (result.done) break;
    const frame = result.value;
    seen[frame.stream] += frame.data.length;
    let data = frame.data;
    const room = opts.maxStreamBytes - kept[frame.stream] - (buf?.stream === frame.stream ? buf.size : 0);
    if (data.length > room) {
      truncated = true;
      data = data.subarray(0, Math.max(0, room));
    }
    if (buf && buf.stream !== frame.stream) await flush();
    while (data.length > 0) {
      buf ??= { stream: frame.stream, parts: [], size: 0, since: Date.now() };
      const take = Math.min(data.length, opts.maxChunkBytes - buf.size);
      // Copy: the demuxer hands out views of its own buffers.
      buf.parts.push(Buffer.from(data.subarray(0, take)));
      buf.size += take;
      data = data.subarray(take);
      if (buf.size >= opts.maxChunkBytes) await flush();
    }
  }
  await flush();
  for (const p of pending) await p;
  return { stdoutBytes: seen.stdout, stderrBytes: seen.stderr, truncated };
}
