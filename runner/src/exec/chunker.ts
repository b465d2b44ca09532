import { AirlockError } from '@airlock/proto';
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
  /**
   * Set when `emit` failed (the run log did not store a chunk after its writer's retries): the pump
   * stopped reading there, emitted nothing more, and the caller must stop the command. Output from
   * the failed chunk on is not in the log. `log_unavailable`, with the first failure as its cause.
   */
  logLost?: AirlockError;
}

/**
 * Coalesces demultiplexed frames into bounded chunks and hands each to `emit` in order.
 * At most `window` emits are unsettled while reading goes on, so output is back-pressured end to end.
 * Counts every byte the command wrote, also beyond the kept limit.
 *
 * Never leaves a rejection unhandled: each emit's promise gets its handler when it is created, and the
 * first failure ends the pump at its next step with `logLost` (a result, not a throw: the command's
 * totals so far still matter). Errors reading `frames` are thrown.
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

  /** The first failed emit; once set nothing more is emitted or read. */
  let failure: { err: unknown } | undefined;
  // Wakes the pump when an emit fails while it waits for a quiet command's next output. A fresh
  // promise per wait, not one for the whole pump: Promise.race leaves a reaction on every promise it
  // was given, and a promise that stays pending for the whole step would keep every race, and the
  // frame each one resolved with (a view of the reader's buffer), alive until the step ends: the
  // runner's RSS grew by more than the step's output (1.6 GB for 1 GB, measured; issue 15).
  let wakeOnFailure: ((v: 'failed') => void) | undefined;
  const onFailure = () => wakeOnFailure?.('failed');
  const failed = () =>
    new Promise<'failed'>((resolve) => {
      if (failure) resolve('failed');
      else wakeOnFailure = resolve;
    });
  /** Unsettled emits, each already handled: awaiting one never throws. */
  const pending: Promise<void>[] = [];
  const flush = async () => {
    if (!buf || buf.size === 0 || failure) return;
    const { stream, parts, size } = buf;
    buf = null;
    const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    const offset = kept[stream];
    kept[stream] += data.length;
    // `emit` must keep call order itself (the run log writer serialises appends).
    pending.push(
      emit({ stream, offset, data }).then(
        () => undefined,
        (err: unknown) => {
          if (failure) return;
          failure = { err };
          onFailure();
        },
      ),
    );
    if (pending.length >= (opts.window ?? 1)) await pending.shift();
  };

  const iterator = frames[Symbol.asyncIterator]();
  while (!failure) {
    const next = iterator.next();
    // Raced below, and possibly abandoned when an emit fails: never an unhandled rejection.
    next.catch(() => undefined);
    let result: IteratorResult<Frame> | undefined;
    // While a partial chunk waits, wake up in time to send it even if the command is quiet.
    while (buf) {
      const wait = Math.max(0, buf.since + opts.flushAfterMs - Date.now());
      let timer: NodeJS.Timeout | undefined;
      const raced = await Promise.race([
        next,
        failed(),
        new Promise<'flush'>((resolve) => (timer = setTimeout(resolve, wait, 'flush'))),
      ]);
      clearTimeout(timer);
      if (raced === 'failed') break;
      if (raced !== 'flush') {
        result = raced;
        break;
      }
      await flush();
      if (failure) break;
    }
    if (failure) break;
    if (!result) {
      const raced = await Promise.race([next, failed()]);
      if (raced === 'failed') break;
      result = raced;
    }
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
    while (data.length > 0 && !failure) {
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
  const totals = { stdoutBytes: seen.stdout, stderrBytes: seen.stderr, truncated };
  if (!failure) return totals;
  // Stop reading; a `next()` still pending completes when the caller stops the command.
  iterator.return?.().catch(() => undefined);
  const { err } = failure;
  const logLost =
    err instanceof AirlockError && err.code === 'log_unavailable'
      ? err
      : new AirlockError('log_unavailable', `output could not be stored in the run log: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  return { ...totals, logLost };
}
