import { connect, jwtAuthenticator, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { jwtLoginOf } from '@airlock/proto';

/** One NATS connection with its JetStream handles, disposed as a unit. */
export interface NatsHandles extends AsyncDisposable {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** Flushes pending publishes and closes. Idempotent. */
  drain(): Promise<void>;
}

export interface ConnectOptions {
  /** NATS URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** Connection name shown by the server (`airlock-harness`, `airlock-runner-<id>`). */
  name: string;
  /** Give up on the first connection after this long. Default 5000. */
  timeoutMs?: number;
  /** Keep reconnecting forever (services) or fail fast (CLI). Default true. */
  reconnect?: boolean;
  /** Log in as this NATS nkey user (a runner's own identity, `SU…` seed) instead of user/password. */
  nkeySeed?: string;
  /** With `nkeySeed`: the user JWT it proves (an operator-mode deployment, e.g. a run's log-writer grant). */
  jwt?: string;
  /** Reply subjects of this connection's requests start with this (a runner's `_INBOX_<id>`, only it may subscribe there). */
  inboxPrefix?: string;
}

/** Connects to NATS and opens JetStream. */
export async function connectNats(opts: ConnectOptions): Promise<NatsHandles> {
  const { servers, user, pass } = splitCredentials(opts.servers);
  // An operator-mode deployment writes a user JWT and its seed where a URL had user and password.
  const jwtLogin = jwtLoginOf(user, pass);
  const nc = await connect({
    servers,
    ...(user !== undefined && !jwtLogin ? { user, pass: pass ?? '' } : {}),
    ...(jwtLogin ? { authenticator: authenticatorOf(jwtLogin.seed, jwtLogin.jwt) } : {}),
    ...(opts.nkeySeed ? { authenticator: authenticatorOf(opts.nkeySeed, opts.jwt) } : {}),
    ...(opts.inboxPrefix ? { inboxPrefix: opts.inboxPrefix } : {}),
    name: opts.name,
    timeout: opts.timeoutMs ?? 5000,
    reconnect: opts.reconnect ?? true,
    maxReconnectAttempts: opts.reconnect === false ? 0 : -1,
    reconnectTimeWait: 250,
    // No stack capture per request: JetStream publishes are requests, and capturing one per output
    // chunk cost the runner ~3% of its CPU (measured with --cpu-prof on the ledger bench).
    noAsyncTraces: true,
  });
  const js = jetstream(nc, { timeout: 10_000 });
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  let drained: Promise<void> | undefined;
  const drain = () => {
    drained ??= nc.isClosed() ? Promise.resolve() : nc.drain().catch(() => nc.close());
    return drained;
  };
  return { nc, js, jsm, drain, [Symbol.asyncDispose]: drain };
}

/** An nkey login, or a JWT login when a user JWT comes with the seed. */
function authenticatorOf(seed: string, jwt: string | undefined) {
  const bytes = new TextEncoder().encode(seed);
  return jwt ? jwtAuthenticator(jwt, bytes) : nkeyAuthenticator(bytes);
}

/**
 * `nats://user:password@host:port` URLs (how operators write them) into servers and credentials:
 * the client takes credentials as options, not from the URL.
 */
export function splitCredentials(input: string | string[]): { servers: string[]; user?: string; pass?: string } {
  let user: string | undefined;
  let pass: string | undefined;
  const servers = (Array.isArray(input) ? input : [input]).map((s) => {
    const m = /^(\w+:\/\/)?([^@/]+)@(.+)$/.exec(s);
    if (!m) return s;
    const [u, p] = m[2]!.split(':');
    user = decodeURIComponent(u ?? '');
    pass = p === undefined ? undefined : decodeURIComponent(p);
    return `${m[1] ?? ''}${m[3]}`;
  });
  return { servers, ...(user !== undefined ? { user } : {}), ...(pass !== undefined ? { pass } : {}) };
}
