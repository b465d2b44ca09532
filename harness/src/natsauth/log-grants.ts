import { decode, type Account, type User } from '@nats-io/jwt';
import type { NatsConnection } from '@nats-io/transport-node';
import { AirlockError, names, subjects } from '@airlock/proto';
import type { NatsAuthority, NatsUser } from './authority.ts';

/**
 * The right to append to one run's log, held by one runner: a NATS user that may publish on
 * `airlock.v1.log.<run>` and nothing else of the logs. The nats-server refuses any other runner's
 * publish to that subject, so a forged event is never stored (readers also check signatures).
 */
export interface LogWriterGrant extends NatsUser {
  runnerId: string;
  runId: string;
  /** Reply subjects of the writer's connection start with this; only this user may subscribe there. */
  inboxPrefix: string;
  /** Unix seconds: the server disconnects the writer then (the harness grants anew for a longer run). */
  expiresAt: number;
}

/**
 * What a run's log writer may do on NATS: publish that run's events; the JetStream calls the ledger
 * writer's re-sync makes (account info, the log stream's info, a stored message by sequence or last
 * by subject); receive replies on its own inbox.
 *
 * Not narrower on nats-server 2.9: the stream's `MSG.GET` takes the subject in the request body, so
 * the writer can read (not write) other runs' events, as the runner's own user could already.
 */
export function logWriterPermissions(runId: string, inboxPrefix: string): Partial<User> {
  return {
    pub: { allow: [subjects.log(runId), '$JS.API.INFO', `$JS.API.STREAM.INFO.${names.logStream}`, `$JS.API.STREAM.MSG.GET.${names.logStream}`] },
    sub: { allow: [`${inboxPrefix}.>`] },
  };
}

/** The inbox prefix of a run's log writer connection (distinct from every role's `_INBOX.`). */
export function writerInboxPrefix(runId: string): string {
  return `_INBOX_LOG_${runId}`;
}

export interface LogWriterGrantsOptions {
  /** Lifetime of a grant. Default 7 days (longer than any step; a run held longer is granted anew). */
  ttlMs?: number;
  /** How long to wait for the server's answer to an account update. Default 5000. */
  updateTimeoutMs?: number;
}

const DEFAULT_TTL_MS = 7 * 24 * 3600 * 1000;

/**
 * Mints and revokes log-writer grants. A grant is a user with its own fresh key, so revoking it
 * (when its run moves to another runner, or closes) touches nothing else.
 *
 * Revocation is an account JWT update pushed through the system account: the server disconnects
 * the revoked user at once and refuses it from then on. The current revocation list is read back
 * from the server (the `full` resolver stores it on disk), so a harness restart loses none, and
 * entries older than the grant lifetime are dropped (every JWT they name has expired).
 */
export class LogWriterGrants {
  readonly #authority: NatsAuthority;
  readonly #system: NatsConnection;
  readonly #ttlMs: number;
  readonly #updateTimeoutMs: number;
  /** Account updates, one at a time: each starts from the list the previous one stored. */
  #updates: Promise<unknown> = Promise.resolve();

  /** `system` is a connection of a system-account user (`authority.mint(…, { system: true })`). */
  constructor(authority: NatsAuthority, system: NatsConnection, opts: LogWriterGrantsOptions = {}) {
    this.#authority = authority;
    this.#system = system;
    this.#ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.#updateTimeoutMs = opts.updateTimeoutMs ?? 5000;
  }

  /** A new grant for `runnerId` to write `runId`'s log. */
  async grant(runnerId: string, runId: string): Promise<LogWriterGrant> {
    const inboxPrefix = writerInboxPrefix(runId);
    const expiresAt = Math.ceil((Date.now() + this.#ttlMs) / 1000);
    const user = await this.#authority.mint(`log-writer ${runnerId} ${runId}`, logWriterPermissions(runId, inboxPrefix), { expiresAt });
    return { ...user, runnerId, runId, inboxPrefix, expiresAt };
  }

  /** Revokes a grant: its connection is closed by the server and it can never log in again. */
  revoke(grant: Pick<LogWriterGrant, 'publicKey'>): Promise<void> {
    const next = this.#updates.then(() => this.#revoke(grant.publicKey));
    this.#updates = next.catch(() => undefined);
    return next;
  }

  async #revoke(publicKey: string): Promise<void> {
    const now = Math.ceil(Date.now() / 1000);
    const revocations = pruned(await this.#storedRevocations(), now - Math.ceil(this.#ttlMs / 1000));
    revocations[publicKey] = now;
    await this.#push(await this.#authority.accountJwt(revocations));
  }

  /** The revocations in the account JWT the server holds now. */
  async #storedRevocations(): Promise<Record<string, number>> {
    const reply = await this.#system.request(`$SYS.REQ.ACCOUNT.${this.#authority.accountId}.CLAIMS.LOOKUP`, undefined, { timeout: this.#updateTimeoutMs });
    const jwt = reply.string().trim();
    // Fail closed: pushing a list built on a failed lookup would lift every earlier revocation.
    if (!jwt.startsWith('ey')) throw new AirlockError('internal', `nats-server did not return the account JWT (is its resolver \`full\`?): ${jwt.slice(0, 200)}`);
    return { ...(decode<Account>(jwt).nats.revocations ?? {}) };
  }

  async #push(accountJwt: string): Promise<void> {
    const reply = await this.#system.request(`$SYS.REQ.ACCOUNT.${this.#authority.accountId}.CLAIMS.UPDATE`, new TextEncoder().encode(accountJwt), { timeout: this.#updateTimeoutMs });
    const answer = reply.json<{ data?: { code?: number; message?: string }; error?: { code?: number; description?: string } }>();
    if (answer.data?.code !== 200) {
      throw new AirlockError('internal', `nats-server refused the account update: ${answer.error?.description ?? answer.data?.message ?? reply.string()}`, { data: { answer } });
    }
  }
}

/** Revocations made at or after `since` (older ones name only expired JWTs). */
function pruned(revocations: Readonly<Record<string, number>>, since: number): Record<string, number> {
  return Object.fromEntries(Object.entries(revocations).filter(([, at]) => at >= since));
}
