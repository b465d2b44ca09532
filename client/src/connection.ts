import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { jwtLoginOf } from '@airlock/proto';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { claimedRole, openAgentSession } from './session.ts';

/** How to reach an Airlock deployment's NATS. */
export interface ConnectOptions {
  /**
   * NATS URL(s), e.g. `nats://127.0.0.1:4222` (what `./airlock up` prints). A URL may carry
   * credentials (`nats://client:PASSWORD@host:4222`), as the deployment's files write them; in an
   * operator-mode deployment (what `./airlock up` runs) the user is a user JWT and the password its
   * nkey seed (`nats://eyJ…:SU…@host:4222`, see `<state>/credentials/roles/<role>.json`).
   */
  servers: string | string[];
  /** NATS user (the deployment's client user is `client`); overrides one in a URL. */
  user?: string;
  /** Password of `user` (an operator-mode deployment has none: its URL carries `JWT:SEED`, see `servers`). */
  pass?: string;
  /** A NATS token, for deployments that use one instead of users. */
  token?: string;
  /**
   * The caller's credential (signed by the harness: principal, role, maybe the runs it may touch),
   * sent with every request. A harness with `auth: required` (what `./airlock up` runs) refuses
   * requests without one (`forbidden`); `up` writes one per role in `<state>/credentials/roles/`.
   */
  credential?: string;
  /** Connection name the NATS server shows. Default `airlock-client`. */
  name?: string;
  /** Give up on the first connection after this long, in ms. Default 5000. */
  connectTimeoutMs?: number;
  /**
   * A wait on the harness fails with `harness_lost` once the harness has been silent (no heartbeat)
   * this long, in ms. Default 5000 (five heartbeats).
   */
  harnessLostMs?: number;
}

/** The NATS handles the SDK works with, closed as a unit. */
export interface NatsHandles {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
}

/**
 * `nats://user:password@host:port` into a server URL and credentials: the NATS client takes them
 * as options, not from the URL.
 */
export function splitCredentials(input: string | string[]): { servers: string[]; user?: string; pass?: string } {
  let user: string | undefined;
  let pass: string | undefined;
  const servers = (Array.isArray(input) ? input : input.split(',')).map((s) => {
    const m = /^(\w+:\/\/)?([^@/]+)@(.+)$/.exec(s.trim());
    if (!m) return s.trim();
    const [u, p] = m[2]!.split(':');
    user = decodeURIComponent(u ?? '');
    pass = p === undefined ? undefined : decodeURIComponent(p);
    return `${m[1] ?? ''}${m[3]}`;
  });
  return { servers, ...(user !== undefined ? { user } : {}), ...(pass !== undefined ? { pass } : {}) };
}

/**
 * Connects (reconnecting forever after the first connection) and opens JetStream. An agent in an
 * operator-mode deployment (a JWT login and an agent credential) connects as a NATS user of its own
 * that the harness signs for it (`session.ts`): the deployment's agent user may do nothing else.
 */
export async function openNats(opts: ConnectOptions): Promise<NatsHandles> {
  const fromUrl = splitCredentials(opts.servers);
  const user = opts.user ?? fromUrl.user;
  const pass = opts.pass ?? fromUrl.pass;
  const jwtLogin = jwtLoginOf(user, pass);
  if (jwtLogin && opts.credential && claimedRole(opts.credential) === 'agent') {
    const own = await openAgentSession({ servers: fromUrl.servers, login: jwtLogin, credential: opts.credential, name: opts.name ?? 'airlock-client', connectTimeoutMs: opts.connectTimeoutMs ?? 5000 });
    if (own) return own;
  }
  const nc = await connect({
    servers: fromUrl.servers,
    ...(user !== undefined && !jwtLogin ? { user, pass: pass ?? '' } : {}),
    ...(jwtLogin ? { authenticator: jwtAuthenticator(jwtLogin.jwt, new TextEncoder().encode(jwtLogin.seed)) } : {}),
    ...(opts.token !== undefined ? { token: opts.token } : {}),
    name: opts.name ?? 'airlock-client',
    timeout: opts.connectTimeoutMs ?? 5000,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    noAsyncTraces: true,
  });
  return { nc, js: jetstream(nc, { timeout: 10_000 }), jsm: await jetstreamManager(nc, { timeout: 10_000 }) };
}
