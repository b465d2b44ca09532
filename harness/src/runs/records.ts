import type { KV } from '@nats-io/kv';
import { AirlockError, RunRecordSchema, encode } from '@airlock/proto';
import type { RunRecord } from '@airlock/proto';

/** A run's record with the KV revision it was read at (updates compare it). */
export interface RecordAt {
  record: RunRecord;
  revision: number;
}

/**
 * Every run's record, in the runs KV bucket (so a restarted harness knows them), with the last
 * entry this harness touched cached. KV stays the truth: updates compare revisions.
 */
export class RunRecords {
  readonly #kv: KV;
  readonly #cache = new Map<string, RecordAt>();
  /** Told of every record this harness writes (the log-grant desk revokes on a close or a move). */
  readonly #watchers: Array<(record: RunRecord) => void> = [];

  constructor(kv: KV) {
    this.#kv = kv;
  }

  /** The record of a run (cached unless `fresh`); `unknown_run` if there is none. */
  async get(runId: string, opts: { fresh?: boolean } = {}): Promise<RecordAt> {
    const cached = this.#cache.get(runId);
    if (cached && !opts.fresh) return cached;
    const entry = await this.#kv.get(runId);
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) throw new AirlockError('unknown_run', `no run ${runId}; \`./airlock ps\` lists the open runs`);
    const fresh = { record: RunRecordSchema.parse(entry.json()), revision: entry.revision };
    this.#cache.set(runId, fresh);
    return fresh;
  }

  /** Calls `fn` after each record this harness writes. */
  onWrite(fn: (record: RunRecord) => void): void {
    this.#watchers.push(fn);
  }

  #wrote(record: RunRecord): void {
    for (const fn of this.#watchers) fn(record);
  }

  /** Writes a new run's record; fails if the id exists. */
  async create(record: RunRecord): Promise<void> {
    const revision = await this.#kv.create(record.runId, encode(record));
    this.#cache.set(record.runId, { record, revision });
    this.#wrote(record);
  }

  /** Writes a run's record if nobody changed it since `revision` (another harness, a concurrent step). */
  async save(record: RunRecord, revision: number): Promise<void> {
    const next = await this.#kv.update(record.runId, encode(record), revision);
    this.#cache.set(record.runId, { record, revision: next });
    this.#wrote(record);
  }

  /** Writes a closed run's final record whatever its revision, and forgets the cached one. */
  async putFinal(record: RunRecord): Promise<void> {
    await this.#kv.put(record.runId, encode(record));
    this.#cache.delete(record.runId);
    this.#wrote(record);
  }

  /** Drops the cached entry (it is stale: the next read goes to KV). */
  forget(runId: string): void {
    this.#cache.delete(runId);
  }

  /** Every run's record (open ones only unless `all`), by run id. */
  async list(all: boolean): Promise<RunRecord[]> {
    const runs: RunRecord[] = [];
    for await (const key of await this.#kv.keys()) {
      const entry = await this.#kv.get(key);
      if (!entry || entry.operation !== 'PUT' || entry.length === 0) continue;
      const parsed = RunRecordSchema.safeParse(entry.json());
      if (parsed.success && (all || parsed.data.status === 'open')) runs.push(parsed.data);
    }
    runs.sort((a, b) => a.runId.localeCompare(b.runId));
    return runs;
  }
}
