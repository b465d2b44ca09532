import { randomUUID } from 'node:crypto';
import { AirlockError, SNAPSHOT_READ_CHUNK_BYTES } from '@airlock/proto';
import type { ApiSnapshotReadRequest, ApiSnapshotReadResult } from '@airlock/proto';
import { serializeManifest } from '@airlock/snapshot';
import type { Caller } from '../governance/identity.ts';
import type { WorkspaceDiffs } from './diff.ts';
import type { LazySnapshotStore } from './store.ts';

/** A read in progress: whose, of what, and the bytes not yet handed out. */
interface OpenRead {
  principal: string;
  runId: string;
  step: number;
  what: string;
  digest: string;
  bytes: AsyncIterator<Uint8Array>;
  /** Bytes read from `bytes` past the last answer. */
  rest: Buffer;
  usedAt: number;
}

export interface SnapshotReadsOptions {
  /** A read nobody continued for this long is dropped. Default 60 s. */
  idleMs?: number;
  /** Reads open at once per principal. Default 32. */
  perPrincipal?: number;
  now?: () => number;
}

/**
 * A run's workspace after a step, read through the harness (`api.snapshot`): the listing
 * (manifest) and the files it names, in pieces.
 *
 * Why: the snapshot stores hold every run's workspaces, content-addressed and shared, so NATS cannot
 * tell one run's objects from another's; an agent's NATS user therefore has no right on them, and
 * reads its own runs' snapshots here. The caller gate has checked the run is the caller's; the
 * snapshot is the one the run's verified log names for that step (a forged `snapshot.created`
 * cannot point here at another run's files), and a file is served only if that snapshot lists it.
 * The client hashes what it gets (the listing against the digest, each file against its SHA-256).
 */
export class SnapshotReads {
  readonly #diffs: WorkspaceDiffs;
  readonly #store: LazySnapshotStore;
  readonly #reads = new Map<string, OpenRead>();
  readonly #idleMs: number;
  readonly #perPrincipal: number;
  readonly #now: () => number;
  /** Sweeps while reads are open, so one abandoned with nobody asking after it is still closed. */
  #sweeper: NodeJS.Timeout | undefined;

  constructor(deps: { diffs: WorkspaceDiffs; store: LazySnapshotStore }, opts: SnapshotReadsOptions = {}) {
    this.#diffs = deps.diffs;
    this.#store = deps.store;
    this.#idleMs = opts.idleMs ?? 60_000;
    this.#perPrincipal = opts.perPrincipal ?? 32;
    this.#now = opts.now ?? Date.now;
  }

  /** Reads open now (tests, status). */
  get open(): number {
    return this.#reads.size;
  }

  /** Closes every open read (harness shutdown). */
  close(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const read of this.#reads.values()) read.bytes.return?.().catch(() => undefined);
    this.#reads.clear();
  }

  async handle(req: ApiSnapshotReadRequest, caller: Caller): Promise<ApiSnapshotReadResult> {
    this.#sweep();
    const read = req.cursor ? this.#continued(req, caller) : await this.#open(req, caller);
    const data = await nextPiece(read);
    read.usedAt = this.#now();
    const done = data.length < SNAPSHOT_READ_CHUNK_BYTES && read.rest.length === 0;
    const cursor = req.cursor ?? randomUUID();
    if (done) this.#reads.delete(cursor);
    else this.#reads.set(cursor, read);
    this.#keepSweeping();
    return { runId: read.runId, step: read.step, digest: read.digest, data: data.toString('base64'), done, ...(done ? {} : { cursor }) };
  }

  #continued(req: ApiSnapshotReadRequest, caller: Caller): OpenRead {
    const read = this.#reads.get(req.cursor!);
    if (!read || read.principal !== caller.principal || read.runId !== req.runId || read.step !== req.step || read.what !== req.what) {
      throw new AirlockError('bad_request', `no read ${req.cursor} of ${req.what} in run ${req.runId} step ${req.step} is open (finished, expired after ${this.#idleMs / 1000} s idle, or another caller's); start again without a cursor`, { data: { runId: req.runId } });
    }
    return read;
  }

  async #open(req: ApiSnapshotReadRequest, caller: Caller): Promise<OpenRead> {
    const mine = [...this.#reads.values()].filter((r) => r.principal === caller.principal).length;
    if (mine >= this.#perPrincipal) throw new AirlockError('capacity_exhausted', `${caller.principal} has ${mine} snapshot reads open; finish one first (idle ones close after ${this.#idleMs / 1000} s)`);
    const snap = await this.#diffs.snapshotAt(req.runId, req.step);
    const store = await this.#store.get();
    const manifest = await store.getManifest(snap.digest);
    let bytes: AsyncIterator<Uint8Array>;
    if (req.what === 'manifest') {
      bytes = (async function* () {
        yield serializeManifest(manifest);
      })();
    } else {
      if (!manifest.entries.some((e) => e.type === 'file' && e.sha256 === req.what)) {
        throw new AirlockError('bad_request', `the snapshot of run ${req.runId} after step ${req.step} has no file with SHA-256 ${req.what}`, { data: { runId: req.runId, step: req.step } });
      }
      bytes = store.readBlob(req.what);
    }
    return { principal: caller.principal, runId: req.runId, step: snap.step, what: req.what, digest: snap.digest, bytes, rest: Buffer.alloc(0), usedAt: this.#now() };
  }

  #keepSweeping(): void {
    if (this.#reads.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    } else if (!this.#sweeper) {
      this.#sweeper = setInterval(() => this.#sweep(), Math.max(1000, this.#idleMs / 2));
      this.#sweeper.unref();
    }
  }

  /** Drops reads idle for longer than `idleMs` (their streams are closed). */
  #sweep(): void {
    const oldest = this.#now() - this.#idleMs;
    for (const [cursor, read] of this.#reads) {
      if (read.usedAt >= oldest) continue;
      this.#reads.delete(cursor);
      read.bytes.return?.().catch(() => undefined);
    }
    if (this.#reads.size === 0) this.#keepSweeping();
  }
}

/** Up to one chunk of bytes: what was left over, then more from the stream. */
async function nextPiece(read: OpenRead): Promise<Buffer> {
  const parts: Buffer[] = [read.rest];
  let have = read.rest.length;
  while (have < SNAPSHOT_READ_CHUNK_BYTES) {
    const next = await read.bytes.next();
    if (next.done) break;
    const b = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    parts.push(b);
    have += b.length;
  }
  const all = Buffer.concat(parts);
  read.rest = all.subarray(SNAPSHOT_READ_CHUNK_BYTES);
  return all.subarray(0, SNAPSHOT_READ_CHUNK_BYTES);
}
