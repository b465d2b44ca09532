import type { Msg, Subscription } from '@nats-io/transport-node';
import { AirlockError, LOG_GRANT_SEAL_STEP, LogGrantRequestSchema, decode, encode, subjects, toWireError } from '@airlock/proto';
import type { LogGrantResult, RunRecord } from '@airlock/proto';
import type { HarnessContext } from '../context.ts';
import type { RunnerKeyStore } from '../routing/runner-keys.ts';
import type { LogWriterGrant, LogWriterGrants } from './log-grants.ts';

/** Where a refused grant request is recorded (the harness's `system` log). */
export interface GrantAudit {
  append(event: { type: 'message.rejected'; subject: string; code: string; message: string; bytes: number }): Promise<unknown>;
}

/** Who holds a run, as the harness knows it. */
export interface HolderView {
  /** The runner that said (in its signed heartbeat) it is opening this run, if an open or move is in flight. */
  openingBy(runId: string): string | undefined;
  /** The run's record, or undefined when there is none. */
  record(runId: string): Promise<RunRecord | undefined>;
}

/** What is kept of a live grant: enough to revoke it (never its seed). */
export type HeldGrant = Pick<LogWriterGrant, 'runnerId' | 'runId' | 'publicKey'>;

/**
 * Where live grants are kept (a KV bucket in a deployment): a grant is revoked by whichever harness
 * process writes the record change that ends it, also one started after the grant was made.
 */
export interface GrantStore {
  /** The run's live grant and the revision it was stored at. */
  get(runId: string): Promise<{ grant: HeldGrant; revision: number } | undefined>;
  put(grant: HeldGrant): Promise<void>;
  /** Forgets the run's grant only if it is still the one read at `revision` (a newer grant is kept). */
  delete(runId: string, revision: number): Promise<void>;
}

/** How long a grant request waits for the asker's heartbeat that says it took the run. */
const HOLDER_WAIT_MS = 3000;

/**
 * Hands out and takes back the right to write a run's log (operator-mode NATS only).
 *
 * A runner asks on `airlock.v1.grant.<its id>` (only its own NATS user may publish there, so the
 * subject names the asker) while it opens a run, or takes a moved one. The grant goes only to the
 * runner that holds the run: the one whose signed heartbeat says it is opening it, or the one the
 * run's record names while the run is open. One live grant per run: a new one revokes the last, and
 * a record that closes the run, suspends it or names another runner revokes it too. The grant's JWT
 * and seed travel sealed to the asker's curve key.
 *
 * Live grants are kept in a `GrantStore`, so a harness restarted (or another harness of the
 * deployment) revokes a grant an earlier process made when it writes the record change that ends it.
 */
export class LogGrantDesk {
  readonly #ctx: HarnessContext;
  readonly #grants: LogWriterGrants;
  readonly #keys: RunnerKeyStore;
  readonly #holders: HolderView;
  readonly #store: GrantStore;
  readonly #audit: GrantAudit;
  #sub: Subscription | undefined;

  constructor(ctx: HarnessContext, grants: LogWriterGrants, keys: RunnerKeyStore, holders: HolderView, audit: GrantAudit, store: GrantStore) {
    this.#ctx = ctx;
    this.#store = store;
    this.#audit = audit;
    this.#grants = grants;
    this.#keys = keys;
    this.#holders = holders;
  }

  /** Starts answering grant requests. */
  start(): void {
    this.#sub = this.#ctx.nats.nc.subscribe(subjects.logGrantAll, {
      callback: (err, msg) => {
        if (err) return;
        this.#ctx.track(this.#answer(msg));
      },
    });
  }

  stop(): void {
    this.#sub?.unsubscribe();
  }

  async #answer(msg: Msg): Promise<void> {
    const runnerId = msg.subject.slice(subjects.logGrant('').length);
    try {
      const req = decode(LogGrantRequestSchema, msg.data, 'log grant request');
      await this.#checkHolder(runnerId, req.runId);
      const result = await this.#grant(runnerId, req.runId);
      msg.respond(encode({ ok: true, result }));
    } catch (err) {
      const wire = toWireError(err);
      this.#ctx.log.warn({ err, runnerId, subject: msg.subject }, 'log grant refused');
      msg.respond(encode({ ok: false, error: wire }));
      // A runner asking for a run it does not hold is worth a record beside the other refusals.
      await this.#audit
        .append({ type: 'message.rejected', subject: msg.subject, code: `log_grant.${wire.code}`, message: wire.message, bytes: msg.data.length })
        .catch((e: unknown) => this.#ctx.log.error({ err: e, runnerId }, 'could not audit a refused log grant'));
    }
  }

  /** `unauthorized` unless `runnerId` opens or holds the open run `runId`. */
  async #checkHolder(runnerId: string, runId: string): Promise<void> {
    const deadline = Date.now() + HOLDER_WAIT_MS;
    for (;;) {
      const opening = this.#holders.openingBy(runId);
      if (opening === runnerId) return;
      if (opening === undefined) {
        const record = await this.#holders.record(runId);
        if (record && record.status === 'open' && !record.suspended && record.runnerId === runnerId) return;
      }
      // The asker's heartbeat (published before it asked) may still be on its way.
      if (Date.now() >= deadline) throw new AirlockError('unauthorized', `runner ${runnerId} does not hold run ${runId}; no log grant`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async #grant(runnerId: string, runId: string): Promise<LogGrantResult> {
    const grant = await this.#grants.grant(runnerId, runId);
    const previous = await this.#store.get(runId);
    // Kept before it is handed out: a grant nobody could find again could not be revoked.
    await this.#store.put({ runnerId, runId, publicKey: grant.publicKey });
    if (previous) await this.#revoke(previous.grant, 'a new grant for the run');
    const sealed = this.#keys.seal(runnerId, { jwt: grant.jwt, seed: grant.seed }, { runId, step: LOG_GRANT_SEAL_STEP });
    this.#ctx.log.info({ runnerId, runId, user: grant.publicKey }, 'log grant');
    return { runId, sealed, inboxPrefix: grant.inboxPrefix, expiresAt: grant.expiresAt };
  }

  /** A run's record changed (this harness wrote it): revoke a grant its runner no longer holds. */
  recordChanged(record: RunRecord): void {
    this.#ctx.track(this.#ended(record));
  }

  async #ended(record: RunRecord): Promise<void> {
    try {
      const held = await this.#store.get(record.runId);
      if (!held) return;
      const { grant, revision } = held;
      if (record.status === 'open' && !record.suspended && record.runnerId === grant.runnerId) return;
      const revoked = await this.#revoke(grant, record.status === 'closed' ? 'the run closed' : record.suspended ? 'the run was suspended' : `the run moved to ${record.runnerId}`);
      // Forgotten only once revoked: a failed revocation is tried again on the run's next record change.
      if (revoked) await this.#store.delete(record.runId, revision);
    } catch (err) {
      this.#ctx.log.error({ err, runId: record.runId }, 'could not settle a run\'s log grant after its record changed');
    }
  }

  /** True when the server has the revocation; a failure is logged (the grant still expires with its JWT). */
  async #revoke(grant: HeldGrant, why: string): Promise<boolean> {
    try {
      await this.#grants.revoke(grant);
      this.#ctx.log.info({ runnerId: grant.runnerId, runId: grant.runId, user: grant.publicKey, why }, 'log grant revoked');
      return true;
    } catch (err) {
      this.#ctx.log.error({ err, runnerId: grant.runnerId, runId: grant.runId, user: grant.publicKey, why }, 'could not revoke a log grant (it expires with its JWT)');
      return false;
    }
  }
}
