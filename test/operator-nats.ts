// A nats-server in operator (JWT) mode for integration tests of harness/src/natsauth: its keys,
// its users, restarts that keep its store and its resolver directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { connectNats, type NatsHandles } from '@airlock/transport';
import { NatsAuthority, type NatsUser } from '@airlock/harness';
import { freePort, waitUntil } from './fixtures.ts';

/** The harness's own user: everything. */
export const ALL = { pub: { allow: ['>'] }, sub: { allow: ['>'] } };

export class OperatorNats implements AsyncDisposable {
  readonly dir = mkdtempSync(join(tmpdir(), 'airlock-opnats-'));
  readonly authority = NatsAuthority.loadOrCreate(join(this.dir, 'authority.json'));
  port = 0;
  #proc: ChildProcess | undefined;
  readonly #opened: Array<() => Promise<void>> = [];

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port ||= await freePort();
    const conf = join(this.dir, 'nats.conf');
    writeFileSync(conf, await this.authority.serverConfig(join(this.dir, 'jwt')));
    this.#proc = spawn('nats-server', ['-c', conf, '-js', '-sd', join(this.dir, 'js'), '-a', '127.0.0.1', '-p', String(this.port)], { stdio: 'ignore' });
    await waitUntil('nats-server (operator mode)', () => new Promise((r) => {
      const s = createConnection({ host: '127.0.0.1', port: this.port });
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    }));
  }

  /** Stops the server (after closing every connection opened through this fixture). */
  async stop(): Promise<void> {
    for (const close of this.#opened.splice(0).reverse()) await close().catch(() => undefined);
    const p = this.#proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }

  /** A connection as a minted user, with its own inbox prefix when it has one; no reconnect. */
  async as(user: NatsUser & { inboxPrefix?: string }, name: string): Promise<NatsHandles> {
    const h = await connectNats({ servers: this.url, name, nkeySeed: user.seed, jwt: user.jwt, reconnect: false, ...(user.inboxPrefix ? { inboxPrefix: user.inboxPrefix } : {}) });
    this.#opened.push(() => h.drain());
    return h;
  }

  /** A connection of a system-account user (what the harness pushes account updates with). */
  async system(): Promise<NatsConnection> {
    const user = await this.authority.mint('harness-system', {}, { system: true });
    const nc = await connect({ servers: this.url, authenticator: jwtAuthenticator(user.jwt, new TextEncoder().encode(user.seed)), reconnect: false });
    this.#opened.push(() => nc.drain());
    return nc;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
