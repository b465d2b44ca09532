// The processes Codex started on this connection: each one's output as numbered chunks (the `seq` Codex
// reads by), how it ended, and the long polls waiting on it. Pure bookkeeping: no I/O.
import { RpcError, rpcErrorCodes } from './jsonrpc.ts';
import type { OutputStream, ReadResponse } from './protocol.ts';

/** Lifecycle of a process as Codex sees it: queued behind earlier steps, running as a step, or done. */
export type ProcessState = 'queued' | 'running' | 'done';

/** Where notifications go (the stdio writer). */
export type Notify = (method: string, params: Record<string, unknown>) => void;

interface Chunk {
  seq: number;
  stream: OutputStream;
  bytes: Buffer;
}

/** Most output bytes one `process/read` returns when Codex does not say (it reads again from `nextSeq`). */
export const DEFAULT_READ_BYTES = 1024 * 1024;

export class ManagedProcess {
  readonly processId: string;
  state: ProcessState = 'queued';
  /** Highest seq handed out so far (output chunks, then `exited`, then `closed`). */
  #seq = 0;
  readonly #chunks: Chunk[] = [];
  #exitCode: number | null = null;
  #failure: string | null = null;
  #closed = false;
  readonly #waiters = new Set<() => void>();
  readonly #notify: Notify;

  constructor(processId: string, notify: Notify) {
    this.processId = processId;
    this.#notify = notify;
  }

  get exited(): boolean {
    return this.state === 'done';
  }

  /** Records a piece of output and streams it to Codex. */
  output(stream: OutputStream, bytes: Buffer): void {
    if (this.state === 'done' || bytes.length === 0) return;
    const seq = ++this.#seq;
    this.#chunks.push({ seq, stream, bytes });
    this.#notify('process/output', { processId: this.processId, seq, stream, chunk: bytes.toString('base64') });
    this.#wake();
  }

  /**
   * Ends the process: `exited` then `closed`, each with its own seq. `failure` is the text Codex shows
   * the model instead of the output (a denied or held command, an Airlock error).
   */
  finish(exitCode: number, failure: string | null = null): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.#exitCode = exitCode;
    this.#failure = failure;
    this.#notify('process/exited', { processId: this.processId, seq: ++this.#seq, exitCode });
    this.#closed = true;
    this.#notify('process/closed', { processId: this.processId, seq: ++this.#seq });
    this.#wake();
  }

  /**
   * Output after `afterSeq`, at most `maxBytes` of it (always at least one chunk when there is one),
   * waiting up to `waitMs` for something new when there is nothing yet and the process has not ended.
   */
  async read(opts: { afterSeq?: number | null; maxBytes?: number | null; waitMs?: number | null; signal?: AbortSignal }): Promise<ReadResponse> {
    const after = opts.afterSeq ?? 0;
    if (!this.#hasAfter(after) && !this.#closed && (opts.waitMs ?? 0) > 0) await this.#wait(opts.waitMs ?? 0, opts.signal);
    const budget = opts.maxBytes ?? DEFAULT_READ_BYTES;
    const chunks: ReadResponse['chunks'] = [];
    let bytes = 0;
    let last = after;
    for (const c of this.#chunks) {
      if (c.seq <= after) continue;
      if (chunks.length > 0 && bytes + c.bytes.length > budget) break;
      chunks.push({ seq: c.seq, stream: c.stream, chunk: c.bytes.toString('base64') });
      bytes += c.bytes.length;
      last = c.seq;
    }
    const complete = chunks.length === 0 || last === this.#chunks.at(-1)?.seq;
    return {
      chunks,
      // Past everything handed out when the reader has it all, else just past what this answer holds.
      nextSeq: complete ? Math.max(this.#seq, after) + 1 : last + 1,
      exited: this.state === 'done',
      exitCode: this.#exitCode,
      closed: this.#closed,
      failure: this.#failure,
    };
  }

  #hasAfter(after: number): boolean {
    const lastChunk = this.#chunks.at(-1);
    return lastChunk !== undefined && lastChunk.seq > after;
  }

  #wait(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((done) => {
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(finish);
        signal?.removeEventListener('abort', finish);
        done();
      };
      const timer = setTimeout(finish, ms);
      this.#waiters.add(finish);
      signal?.addEventListener('abort', finish, { once: true });
    });
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}

/** Processes of one connection, by Codex's id. */
export class ProcessTable {
  readonly #byId = new Map<string, ManagedProcess>();
  readonly #notify: Notify;

  constructor(notify: Notify) {
    this.#notify = notify;
  }

  create(processId: string): ManagedProcess {
    if (this.#byId.has(processId)) throw new RpcError(rpcErrorCodes.invalidRequest, `process id ${processId} is already in use on this connection`);
    const p = new ManagedProcess(processId, this.#notify);
    this.#byId.set(processId, p);
    return p;
  }

  get(processId: string): ManagedProcess {
    const p = this.#byId.get(processId);
    if (!p) throw new RpcError(rpcErrorCodes.invalidRequest, `unknown process ${processId}`);
    return p;
  }

  find(processId: string): ManagedProcess | undefined {
    return this.#byId.get(processId);
  }

  all(): ManagedProcess[] {
    return [...this.#byId.values()];
  }
}
