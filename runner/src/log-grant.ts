import { RunLogWriter, type RunLogWriterOptions } from '@airlock/ledger';
import { LogGrantResultSchema, PROTOCOL_VERSION, decodeReply, encode, subjects } from '@airlock/proto';
import { connectNats, type NatsHandles } from '@airlock/transport';
import type { Logger } from './logger.ts';
import type { RunnerKeyring } from './identity.ts';

/** A run's log writer, and the connection to close when the run leaves this runner. */
export interface RunLogHandle {
  log: RunLogWriter;
  /** Closes the run's own NATS connection (none without grants). Idempotent; never rejects. */
  close(): Promise<void>;
}

export interface RunLogsOptions {
  /** The NATS servers (without credentials: a grant brings its own login). */
  natsUrl: string;
  runnerId: string;
  /** Operator-mode NATS: this runner's own user may not write any log; each run's log is written with its grant. */
  grants: boolean;
  /** How long to wait for the harness's grant. Default 10 000 ms. */
  grantTimeoutMs?: number;
}

/**
 * Opens the log writer of each run this runner holds. In an operator-mode deployment the runner's
 * own NATS user has no right on any run's log: it asks the harness for the run's grant (sealed to
 * this runner's curve key), opens one NATS connection as that grant, and writes the run's events
 * through it; the server refuses them on any other run. Without grants (a NATS without users) the
 * run's writer uses the runner's main connection, as before.
 */
export class RunLogs {
  readonly #nats: NatsHandles;
  readonly #opts: RunLogsOptions;
  readonly #keys: RunnerKeyring;
  readonly #log: Logger;

  constructor(nats: NatsHandles, opts: RunLogsOptions, keys: RunnerKeyring, log: Logger) {
    this.#nats = nats;
    this.#opts = opts;
    this.#keys = keys;
    this.#log = log;
  }

  async open(runId: string, writer: RunLogWriterOptions): Promise<RunLogHandle> {
    if (!this.#opts.grants) return { log: new RunLogWriter(this.#nats.js, this.#nats.jsm, runId, writer), close: () => Promise.resolve() };
    const reply = await this.#nats.nc.request(subjects.logGrant(this.#opts.runnerId), encode({ v: PROTOCOL_VERSION, runId }), { timeout: this.#opts.grantTimeoutMs ?? 10_000 });
    const grant = decodeReply(LogGrantResultSchema, reply.data, 'log grant');
    const login = this.#keys.unsealGrant(grant.sealed, runId);
    const conn = await connectNats({
      servers: this.#opts.natsUrl.split(','),
      name: `airlock-runner-${this.#opts.runnerId}-log-${runId}`,
      nkeySeed: login.seed,
      jwt: login.jwt,
      inboxPrefix: grant.inboxPrefix,
      // Rides out a server restart like the main connection; once revoked (the run moved or closed)
      // the server refuses it, and the run has left this runner by then.
      reconnect: true,
    });
    this.#log.debug({ runId, expiresAt: grant.expiresAt }, 'run log connection opened with its grant');
    return { log: new RunLogWriter(conn.js, conn.jsm, runId, writer), close: () => closeQuietly(conn, this.#log, runId) };
  }
}

async function closeQuietly(conn: NatsHandles, log: Logger, runId: string): Promise<void> {
  await conn.drain().catch((err: unknown) => log.warn({ err, runId }, 'could not close the run log connection'));
}
