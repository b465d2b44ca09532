import type { ApiReaderRequest, ApiReaderResult, RunRecord } from '@airlock/proto';
import { authorizeRun } from '../governance/access.ts';
import type { Caller } from '../governance/identity.ts';
import { NatsAuthority } from './authority.ts';
import { readerInboxPrefix, runReaderPermissions } from './run-readers.ts';

/** Where the desk looks a run up (the harness's run records). */
export interface ReaderRecords {
  get(runId: string): Promise<{ record: RunRecord }>;
}

export interface LogReaderDeskOptions {
  /** Lifetime of a reader user; the SDK asks again at half of it. Default one hour. */
  ttlMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

const DEFAULT_TTL_MS = 3600_000;

/**
 * Hands agents the right to read their own runs' logs (`api.reader`), and nothing more.
 *
 * Why: in an operator-mode deployment the agent role's NATS user has no JetStream right on the run
 * log (`rolePermissions`), so the server itself stops an agent from reading another run's events,
 * whatever client it uses. The harness checks the run is the caller's, as on every API call (one it
 * opened, or one its run-scoped credential names), then signs a user JWT limited to that one run's
 * log (`runReaderPermissions`) for a key the client made: the seed never leaves the client, so a
 * reply read by someone else on the bus lets nobody log in. The user expires (`ttlMs`); a client
 * that keeps reading asks again. Nothing to revoke: an agent may read its own run after it closed.
 *
 * Operators, reviewers and admins read every run with their own user (`kind: 'shared'`), and so does
 * everyone on a NATS without per-run users (no authority file: development, tests).
 */
export class LogReaderDesk {
  readonly #authority: NatsAuthority | undefined;
  readonly #records: ReaderRecords;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(authority: NatsAuthority | string | undefined, records: ReaderRecords, opts: LogReaderDeskOptions = {}) {
    this.#authority = typeof authority === 'string' ? NatsAuthority.loadOrCreate(authority) : authority;
    this.#records = records;
    this.#ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.#now = opts.now ?? Date.now;
  }

  /** `unknown_run` for a run that does not exist, `forbidden` (audited by the caller gate) for another's run. */
  async handle(req: ApiReaderRequest, caller: Caller): Promise<ApiReaderResult> {
    const { record } = await this.#records.get(req.runId);
    authorizeRun(caller, req.runId, record.openedBy?.principal);
    if (caller.role !== 'agent' || !this.#authority) return { kind: 'shared' };
    const inboxPrefix = readerInboxPrefix(req.publicKey);
    const expiresAt = Math.ceil((this.#now() + this.#ttlMs) / 1000);
    const { jwt } = await this.#authority.mintFor(`log-reader ${caller.principal} ${req.runId}`, req.publicKey, runReaderPermissions([req.runId], inboxPrefix), { expiresAt });
    return { kind: 'user', runId: req.runId, jwt, inboxPrefix, expiresAt };
  }
}
