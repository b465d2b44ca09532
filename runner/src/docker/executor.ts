// The runner's side of the in-sandbox executor (sandbox-images/default/executor.py): one unix-socket
// connection per sandbox, made before any step runs (the executor then unlinks its socket, so nothing
// else can connect), carrying steps as JSON lines and their output as typed frames. Replaces a
// `docker exec` per step (~150 ms of engine CPU each, measured).
import { connect, type Socket } from 'node:net';
import { AirlockError } from '@airlock/proto';
import type { Frame } from './demux.ts';
import { timeoutFired, underTimeout, type Deadline } from '../exec/deadline.ts';

const FRAME = { stdout: 1, stderr: 2, exit: 3, error: 4, ready: 5 } as const;
const HEADER = 5;

export interface ExecutorFrame {
  kind: number;
  payload: Buffer;
}

/**
 * Splits the executor's byte stream into frames (1-byte kind, 4-byte big-endian length, payload).
 * Pull-based like `demux`: nothing is read ahead of the consumer.
 */
export async function* executorFrames(bytes: AsyncIterable<Buffer>): AsyncGenerator<ExecutorFrame> {
  // Pieces received and not yet framed; joined only once a whole frame is there (no quadratic copying).
  let parts: Buffer[] = [];
  let size = 0;
  let need = HEADER;
  for await (const piece of bytes) {
    parts.push(piece);
    size += piece.length;
    if (size < need) continue;
    let buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    for (;;) {
      if (buf.length < HEADER) {
        need = HEADER;
        break;
      }
      const total = HEADER + buf.readUInt32BE(1);
      if (buf.length < total) {
        need = total;
        break;
      }
      yield { kind: buf[0]!, payload: buf.subarray(HEADER, total) };
      buf = buf.subarray(total);
    }
    parts = buf.length > 0 ? [buf] : [];
    size = buf.length;
  }
}

export interface ExecutorRequest {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** End every process earlier steps left running before this one starts (a step given a secret). */
  isolate?: boolean;
  /** The step's deadline; the executor enforces it and reports whether it fired. */
  deadline?: Deadline;
}

/** How a command run through the executor ended. */
export interface ExecutorExit {
  /** Exit code (128 + n for a signal, 124/137 when the deadline ended it); null when the sandbox went away first. */
  code: number | null;
  /** Whether the step's deadline ended the command, as the enforcing party reports it. */
  timedOut: boolean;
}

/**
 * The executor argv an image's `airlock.executor` label declares (a JSON array of strings), or
 * undefined when there is no label. A label that is there but malformed is an error: falling back to
 * `docker exec` would silently lose what only the executor gives (isolating a step that receives a
 * secret from what earlier steps left running), so the sandbox is not started at all.
 */
export function parseExecutorLabel(image: string, raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw === '') return undefined;
  let argv: unknown;
  try {
    argv = JSON.parse(raw);
  } catch {
    argv = undefined;
  }
  if (Array.isArray(argv) && argv.length > 0 && argv.every((a) => typeof a === 'string' && a.length > 0)) return argv as string[];
  throw new AirlockError(
    'image_invalid',
    `image ${image} has a malformed airlock.executor label (${JSON.stringify(raw.slice(0, 200))}); it must be a JSON array of strings, the executor's argv. Fix the image and rebuild it, or remove the label to use docker exec`,
  );
}

/** The executor protocol that enforces deadlines itself (earlier ones ran `timeout` inside the command). */
export const DEADLINE_PROTOCOL = 2;

export interface ExecutorRun {
  /** The command's output, in order; ends at its exit (or when the sandbox goes away). */
  output: AsyncIterable<Frame>;
  /** How the command ended, once `output` has ended. */
  exit(): Promise<ExecutorExit>;
}

/** One sandbox's executor channel. Steps are serial: one run at a time. */
/**
 * Connects to an executor's socket. The socket's file appears when the executor binds it, a moment
 * before it listens (under gVisor the gap is wide enough to hit): a refused connection is retried
 * until `deadline` (epoch ms), asking `running` now and then whether the sandbox is still up; any
 * other error is final.
 */
export async function dialExecutor(path: string, deadline: number, running: () => Promise<boolean>): Promise<Socket> {
  for (let i = 1; ; i++) {
    const socket = connect(path);
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      socket.once('connect', () => resolve(undefined));
      socket.once('error', resolve);
    });
    if (!err) return socket;
    socket.destroy();
    if (err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT') throw err;
    if (Date.now() > deadline) throw new Error(`the sandbox's executor did not accept a connection in time (${err.code})`);
    if (i % 100 === 0 && !(await running())) throw new Error('the sandbox stopped before its executor started');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export class ExecutorChannel {
  readonly #stream: Socket;
  readonly #frames: AsyncIterator<ExecutorFrame>;
  #closed = false;
  /** Settles once the previous run's frames have all been read (also when its reader gave up early). */
  #idle: Promise<void> = Promise.resolve();
  /** The executor's protocol version, from its ready frame (1 when it does not say). */
  #protocol = 1;

  constructor(stream: Socket) {
    this.#stream = stream;
    this.#frames = executorFrames(stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    stream.on('close', () => (this.#closed = true));
    stream.on('end', () => (this.#closed = true));
    stream.on('error', () => (this.#closed = true));
  }

  /** Waits for the executor's ready frame; throws when it exits or stays silent. */
  async ready(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const frame = this.#frames.next();
    // Abandoned when the timeout wins: it must not reject unheard later (the socket closing).
    frame.catch(() => undefined);
    const first = await Promise.race([
      frame,
      new Promise<'timeout'>((r) => (timer = setTimeout(r, timeoutMs, 'timeout'))),
    ]).finally(() => clearTimeout(timer));
    if (first === 'timeout') throw new Error(`the sandbox's executor did not start within ${timeoutMs} ms`);
    if (first.done || first.value.kind !== FRAME.ready) {
      throw new Error("the sandbox's executor did not start");
    }
    const hello = parseObject(first.value.payload);
    this.#protocol = typeof hello?.protocol === 'number' && Number.isInteger(hello.protocol) && hello.protocol > 0 ? hello.protocol : 1;
  }

  /** The executor's protocol version (known after `ready`). */
  get protocol(): number {
    return this.#protocol;
  }

  async run(req: ExecutorRequest): Promise<ExecutorRun> {
    await this.#idle;
    if (this.#closed) throw new Error('the sandbox is gone');
    // An executor that cannot enforce a deadline runs the command under `timeout`; then the fact
    // comes from `timeout`'s status and a clock started here, before the command could start.
    const enforces = this.#protocol >= DEADLINE_PROTOCOL;
    const before = performance.now();
    const d = req.deadline;
    const wire = d
      ? enforces
        ? { argv: req.argv, env: req.env, cwd: req.cwd, ...(req.isolate ? { isolate: true } : {}), timeoutMs: d.timeoutMs, killAfterMs: d.killAfterMs }
        : { argv: underTimeout(req.argv, d), env: req.env, cwd: req.cwd, ...(req.isolate ? { isolate: true } : {}) }
      : { argv: req.argv, env: req.env, cwd: req.cwd, ...(req.isolate ? { isolate: true } : {}) };
    let exit: ExecutorExit = { code: null, timedOut: false };
    let finished!: () => void;
    this.#idle = new Promise<void>((r) => (finished = r));
    const frames = this.#frames;
    let ended = false;
    const next = async (): Promise<Frame | null> => {
      for (;;) {
        const r = await frames.next();
        if (r.done) return null;
        const { kind, payload } = r.value;
        if (kind === FRAME.stdout || kind === FRAME.stderr) return { stream: kind === FRAME.stdout ? 'stdout' : 'stderr', data: payload };
        if (kind === FRAME.exit) {
          const e = parseObject(payload);
          const code = typeof e?.code === 'number' && Number.isInteger(e.code) ? e.code : null;
          if (!enforces) exit = { code, timedOut: d ? timeoutFired(code, performance.now() - before, d) : false };
          else if (d && typeof e?.timedOut !== 'boolean') throw new Error(`the executor's exit frame does not say whether the deadline fired: ${payload.toString('utf8').slice(0, 200)}`);
          else exit = { code, timedOut: e?.timedOut === true };
          return null;
        }
        if (kind === FRAME.error) throw new Error((JSON.parse(payload.toString('utf8')) as { message: string }).message);
        // Any other kind is ignored (a newer executor's extra frames).
      }
    };
    async function* output(): AsyncGenerator<Frame> {
      try {
        for (;;) {
          const f = await next();
          if (f === null) {
            ended = true;
            return;
          }
          yield f;
        }
      } catch (err) {
        ended = true;
        throw err;
      } finally {
        if (!ended) {
          // The reader stopped early: read this run's remaining frames so the next run starts clean.
          const drain = async () => {
            while ((await next()) !== null);
          };
          // An error frame (or the channel closing) ends the run too.
          drain().then(finished, finished);
        } else finished();
      }
    }
    this.#stream.write(`${JSON.stringify(wire)}\n`);
    return { output: output(), exit: async () => exit };
  }

  close(): void {
    this.#closed = true;
    this.#stream.destroy();
  }
}

function parseObject(payload: Buffer): Record<string, unknown> | null {
  try {
    const v = JSON.parse(payload.toString('utf8')) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
