import { connect, jwtAuthenticator, nkeys, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { AirlockError, type ApiReaderResult, type LogEvent } from '@airlock/proto';
import type { NatsHandles } from './connection.ts';
import { readLog, type ReadLogOptions } from './log.ts';

/** What reading a run's log needs: a JetStream client and manager allowed to read it. */
export type LogNats = Pick<NatsHandles, 'js' | 'jsm'>;

/** Asks the harness for a reader of `runId` for the user key `publicKey` (`api.reader`). */
export type AskReader = (runId: string, publicKey: string) => Promise<ApiReaderResult>;

/** How a reader connection reaches NATS: the servers the client connected to (no credentials). */
export interface ReaderConnectOptions {
  servers: string[];
  connectTimeoutMs?: number;
}

/** After a failed renewal (harness away), ask again this much later. */
const RETRY_MS = 5_000;

/**
 * Where a client reads each run's log from.
 *
 * Without a credential (a development NATS) every read uses the client's own connection. With one,
 * the client asks the harness once per run (`api.reader`): operators, reviewers and admins are told to
 * use their own connection (`shared`); an agent in an operator-mode deployment, whose NATS user may
 * not read the run log at all, gets a NATS user that may read only that run's log, for a key this
 * client made (the seed never leaves the process), and reads through a second connection as it. One
 * connection per run, kept until the client disconnects, so a live follow never has to move when
 * the agent opens another run; its user is renewed at half its life (a reconnection after the old
 * one expired logs in with the new one).
 *
 * A harness that cannot be reached is no reason to stop reading: the client's own connection is
 * tried (it works wherever the user may read every run; elsewhere the server refuses it), and the
 * harness is asked again on the next read.
 */
export class LogReaders {
  readonly #shared: NatsHandles;
  readonly #ask: AskReader | undefined;
  readonly #opts: ReaderConnectOptions;
  readonly #byRun = new Map<string, Promise<LogNats>>();
  readonly #readers = new Set<RunReader>();
  #closed = false;

  constructor(shared: NatsHandles, ask: AskReader | undefined, opts: ReaderConnectOptions) {
    this.#shared = shared;
    this.#ask = ask;
    this.#opts = opts;
  }

  /** The handles to read `runId`'s log with. */
  async for(runId: string): Promise<LogNats> {
    if (!this.#ask) return this.#shared;
    if (this.#closed) throw new AirlockError('bad_request', 'this client is disconnected');
    const known = this.#byRun.get(runId);
    if (known) return known;
    const key = nkeys.createUser();
    let answer: ApiReaderResult;
    try {
      answer = await this.#ask(runId, key.getPublicKey());
    } catch (err) {
      if (err instanceof AirlockError && (err.code === 'no_harness' || err.code === 'timeout' || err.code === 'harness_lost')) return this.#shared;
      throw err;
    }
    // A concurrent read of the same run may have settled first: keep one reader per run.
    const raced = this.#byRun.get(runId);
    if (raced) return raced;
    const made = answer.kind === 'shared' ? Promise.resolve<LogNats>(this.#shared) : this.#open(runId, key, answer);
    this.#byRun.set(runId, made);
    made.catch(() => this.#byRun.delete(runId));
    return made;
  }

  async #open(runId: string, key: nkeys.KeyPair, first: Extract<ApiReaderResult, { kind: 'user' }>): Promise<LogNats> {
    const reader = await RunReader.connect(runId, key, first, this.#opts, this.#ask!);
    if (this.#closed) {
      await reader.close();
      throw new AirlockError('bad_request', 'this client is disconnected');
    }
    this.#readers.add(reader);
    return reader;
  }

  /** Closes every reader connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#byRun.clear();
    const all = [...this.#readers];
    this.#readers.clear();
    await Promise.all(all.map((r) => r.close()));
  }
}

/** A connection as one run's reader user, renewing the user before it expires. */
class RunReader implements LogNats {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly #nc: NatsConnection;
  readonly #runId: string;
  readonly #key: nkeys.KeyPair;
  readonly #ask: AskReader;
  /** The JWT the connection logs in with at its next (re)connection. */
  readonly #login: { jwt: string };
  #timer: NodeJS.Timeout | undefined;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, runId: string, key: nkeys.KeyPair, ask: AskReader, login: { jwt: string }) {
    this.#nc = nc;
    this.js = jetstream(nc, { timeout: 10_000 });
    this.jsm = jsm;
    this.#runId = runId;
    this.#key = key;
    this.#ask = ask;
    this.#login = login;
  }

  static async connect(runId: string, key: nkeys.KeyPair, user: Extract<ApiReaderResult, { kind: 'user' }>, opts: ReaderConnectOptions, ask: AskReader): Promise<RunReader> {
    const login = { jwt: user.jwt };
    const nc = await connect({
      servers: opts.servers,
      // Read at each (re)connection: a renewed user replaces an expired one without a new connection.
      authenticator: jwtAuthenticator(() => login.jwt, key.getSeed()),
      inboxPrefix: user.inboxPrefix,
      name: `airlock-reader ${runId}`,
      timeout: opts.connectTimeoutMs ?? 5000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // An expired user is refused until the renewal lands: keep trying instead of giving up.
      ignoreAuthErrorAbort: true,
      noAsyncTraces: true,
    });
    const reader = new RunReader(nc, await jetstreamManager(nc, { timeout: 10_000 }), runId, key, ask, login);
    reader.#schedule(user.expiresAt);
    return reader;
  }

  /** Renews the user at half of its remaining life (a second at the soonest). */
  #schedule(expiresAt: number, delayMs?: number): void {
    const wait = delayMs ?? Math.max(1000, (expiresAt * 1000 - Date.now()) / 2);
    this.#timer = setTimeout(() => {
      this.#renew(expiresAt).catch(() => undefined);
    }, wait);
    this.#timer.unref();
  }

  async #renew(expiresAt: number): Promise<void> {
    if (this.#nc.isClosed()) return;
    try {
      const next = await this.#ask(this.#runId, this.#key.getPublicKey());
      if (next.kind !== 'user') return;
      this.#login.jwt = next.jwt;
      this.#schedule(next.expiresAt);
    } catch {
      // The harness is away: try again soon (the connection lives on until the user expires).
      this.#schedule(expiresAt, RETRY_MS);
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer);
    // Closed, not drained: a reader only reads, and a connection whose user expired would never drain.
    await this.#nc.close().catch(() => undefined);
  }
}

/** `readLog` through the connection allowed to read the run (see {@link LogReaders}). */
export async function* readRunLog(readers: LogReaders, runId: string, opts: ReadLogOptions = {}): AsyncGenerator<LogEvent> {
  const { js, jsm } = await readers.for(runId);
  yield* readLog(js, jsm, runId, opts);
}
