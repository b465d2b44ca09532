// An agent client's own NATS user (issue 14): see harness/src/natsauth/session-desk.ts for why.
import { Buffer } from 'node:buffer';
import { connect, headers as natsHeaders, jwtAuthenticator, nkeys, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { AirlockError, ApiSessionResultSchema, PROTOCOL_VERSION, decodeReply, encode, subjects, type ApiSessionResult, type NatsJwtLogin } from '@airlock/proto';
import type { NatsHandles } from './connection.ts';
import { isNoResponders, isTimeout } from './errors.ts';
import { CREDENTIAL_HEADER } from './link.ts';

/** The inbox prefix the deployment's agent user may subscribe to (answers to `api.session` only). */
const BOOT_INBOX_PREFIX = '_INBOX_BOOT';

/**
 * The role a credential claims, read without checking its signature: only to pick how to connect
 * (the harness verifies it on every call). `undefined` for anything that is not a credential.
 */
export function claimedRole(credential: string | undefined): string | undefined {
  const segment = credential?.split('.')[0];
  if (!segment) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as { role?: unknown };
    return typeof claims.role === 'string' ? claims.role : undefined;
  } catch {
    return undefined;
  }
}

export interface SessionConnectOptions {
  servers: string[];
  login: NatsJwtLogin;
  credential: string;
  name: string;
  connectTimeoutMs: number;
}

/**
 * Connects an agent in an operator-mode deployment: first as the deployment's agent user, which
 * may only ask the harness for a user of this client's own (`api.session`) for a key made here
 * (its seed never leaves the process); then as that user, on the inbox it names (it does not
 * expire: see the harness's `natsauth/session-desk.ts`).
 * `null` when the harness answers `shared` (no per-client users in this deployment).
 */
export async function openAgentSession(opts: SessionConnectOptions): Promise<NatsHandles | null> {
  const key = nkeys.createUser();
  const boot = await connect({
    servers: opts.servers,
    authenticator: jwtAuthenticator(opts.login.jwt, new TextEncoder().encode(opts.login.seed)),
    inboxPrefix: BOOT_INBOX_PREFIX,
    name: `${opts.name} (session)`,
    timeout: opts.connectTimeoutMs,
    maxReconnectAttempts: 0,
    noAsyncTraces: true,
  });
  let first: ApiSessionResult;
  try {
    first = await askSession(boot, opts.credential, key.getPublicKey());
  } catch (err) {
    // A login that is not the deployment's agent user (an operator's user carrying an agent
    // credential) may not use the session inbox: it goes on as itself, and the harness judges the credential.
    if (/permissions violation/i.test(String((err as Error)?.message))) return null;
    throw err;
  } finally {
    await boot.close().catch(() => undefined);
  }
  if (first.kind !== 'user') return null;
  const nc = await connect({
    servers: opts.servers,
    authenticator: jwtAuthenticator(first.jwt, key.getSeed()),
    inboxPrefix: first.inboxPrefix,
    name: opts.name,
    timeout: opts.connectTimeoutMs,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    noAsyncTraces: true,
  });
  return { nc, js: jetstream(nc, { timeout: 10_000 }), jsm: await jetstreamManager(nc, { timeout: 10_000 }) };
}

async function askSession(nc: NatsConnection, credential: string, publicKey: string): Promise<ApiSessionResult> {
  const h = natsHeaders();
  h.set(CREDENTIAL_HEADER, credential);
  try {
    const msg = await nc.request(subjects.api.session, encode({ v: PROTOCOL_VERSION, publicKey }), { timeout: 10_000, headers: h });
    return decodeReply(ApiSessionResultSchema, msg.data, `reply on ${subjects.api.session}`);
  } catch (cause) {
    if (isNoResponders(cause)) throw new AirlockError('no_harness', 'no harness answers: an agent needs one to connect; start it with `./airlock up`', { cause });
    if (isTimeout(cause)) throw new AirlockError('timeout', 'the harness did not answer the session request within 10 s', { cause });
    throw cause;
  }
}
