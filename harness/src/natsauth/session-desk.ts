import type { User } from '@nats-io/jwt';
import { subjects } from '@airlock/proto';
import type { ApiSessionRequest, ApiSessionResult } from '@airlock/proto';
import type { Caller } from '../governance/identity.ts';
import { NatsAuthority } from './authority.ts';

const API = 'airlock.v1.api';

/**
 * What an agent client's own NATS user may do: call the run API (never `api.op.` or `api.admin.`),
 * ask JetStream whether it is there, receive replies on its own inbox and hear the harness's
 * heartbeat. Nothing else: no inbox of another client (`_INBOX.>` is not granted), no JetStream
 * stream or object store (logs are read through per-run reader users, `reader-desk.ts`; snapshots
 * through the harness, `api.snapshot`), so neither another client's replies nor another run's
 * events or workspace can reach it, whatever client it runs.
 */
export function agentSessionPermissions(inboxPrefix: string): Partial<User> {
  return {
    pub: { allow: [`${API}.>`, '$JS.API.INFO'], deny: [subjects.operatorApi, subjects.adminApi] },
    sub: { allow: [`${inboxPrefix}.>`, subjects.harnessHeartbeat] },
  };
}

/** The inbox prefix of an agent session (one subject token, distinct from `_INBOX.` and from readers'). */
export function agentInboxPrefix(publicKey: string): string {
  return `_INBOX_AGENT_${publicKey.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** The inbox prefix the deployment's agent user answers on while it asks for a session. */
export const BOOT_INBOX_PREFIX = '_INBOX_BOOT';

/**
 * Gives each agent client a NATS user of its own (`api.session`).
 *
 * Why: every agent of a deployment logs in with the same agent user. Were that user allowed to
 * subscribe `_INBOX.>` (as clients usually are), any agent could overhear the replies to every
 * other client's requests (exec output, file reads), and with JetStream rights read every run's
 * snapshots. So the deployment's agent user may only ask for a session (publish `api.session`,
 * subscribe `_INBOX_BOOT.>`, where only session answers travel: JWTs useless without the seed the
 * asking client keeps); the harness signs a user for a key the client made, whose inbox prefix
 * names that key and who may subscribe nothing else.
 *
 * The user does not expire. It can reach nothing but the harness, which checks the caller's
 * credential (with its own expiry) on every request; an expiring user would instead have the server
 * cut the connection once per lifetime, losing any reply in flight.
 *
 * Operators, reviewers and admins keep their own user (`shared`), and so does everyone on a NATS
 * without an authority (development, tests).
 */
export class AgentSessionDesk {
  readonly #authority: NatsAuthority | undefined;

  constructor(authority: NatsAuthority | string | undefined) {
    this.#authority = typeof authority === 'string' ? NatsAuthority.loadOrCreate(authority) : authority;
  }

  async handle(req: ApiSessionRequest, caller: Caller): Promise<ApiSessionResult> {
    if (caller.role !== 'agent' || !this.#authority) return { kind: 'shared' };
    const inboxPrefix = agentInboxPrefix(req.publicKey);
    const { jwt } = await this.#authority.mintFor(`agent-session ${caller.principal}`, req.publicKey, agentSessionPermissions(inboxPrefix));
    return { kind: 'user', jwt, inboxPrefix };
  }
}

