import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Algorithms, createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fromSeed, type Account, type KeyPair, type User } from '@nats-io/jwt';
import { z } from 'zod';

/**
 * The keys of one deployment's NATS trust chain in operator (JWT) mode: an operator, the system
 * account (the harness pushes account updates through it) and the one Airlock account every user
 * lives in.
 *
 * Why operator mode: a config-file `authorization` block is fixed while the server runs, so it can
 * only say "runner X may write every log". With JWTs the harness can mint, while the server runs, a
 * user allowed to write one run's log, and revoke it when the run moves (see `log-grants.ts`).
 * The seeds stay with the harness (0600): whoever holds the account seed can mint any user.
 */
export interface NatsAuthorityKeys {
  operator: string;
  system: string;
  account: string;
}

/** The JWTs a server config preloads, made once and kept (see `serverConfig`). */
interface PreloadJwts {
  operator: string;
  system: string;
  account: string;
}

const StoredSchema = z.object({
  operator: z.string().startsWith('SO'),
  system: z.string().startsWith('SA'),
  account: z.string().startsWith('SA'),
  preload: z.object({ operator: z.string(), system: z.string(), account: z.string() }).optional(),
});

/** A minted NATS user: its JWT and the seed that proves it (what a `.creds` file holds). */
export interface NatsUser {
  jwt: string;
  seed: string;
  /** The user's public key (`U…`): what a revocation names. */
  publicKey: string;
}

/** Options of a minted user. */
export interface MintOptions {
  /** Unix seconds after which the server refuses (and disconnects) the user. */
  expiresAt?: number;
  /** Mint in the system account instead of the Airlock account (only the harness's update pusher). */
  system?: boolean;
}

/** No limit on connections, subscriptions, payloads or JetStream use: Airlock sets its limits elsewhere. */
const UNLIMITED = { subs: -1, conn: -1, leaf: -1, imports: -1, exports: -1, data: -1, payload: -1, wildcards: true };
const JETSTREAM = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };

/** The operator, system account and Airlock account keys, with what the server and the harness need of them. */
export class NatsAuthority {
  readonly #operator: KeyPair;
  readonly #system: KeyPair;
  readonly #account: KeyPair;
  /** Where the keys (and, once made, the preload JWTs) are kept; none for `create()`. */
  readonly #file: string | undefined;
  #preload: PreloadJwts | undefined;

  private constructor(keys: NatsAuthorityKeys, file?: string, preload?: PreloadJwts) {
    this.#operator = fromSeed(new TextEncoder().encode(keys.operator));
    this.#system = fromSeed(new TextEncoder().encode(keys.system));
    this.#account = fromSeed(new TextEncoder().encode(keys.account));
    this.#file = file;
    this.#preload = preload;
  }

  /** Fresh keys (not stored). */
  static create(): NatsAuthority {
    const seed = (kp: KeyPair) => new TextDecoder().decode(kp.getSeed());
    return new NatsAuthority({ operator: seed(createOperator()), system: seed(createAccount()), account: seed(createAccount()) });
  }

  /** The keys in `file` (JSON, 0600), made and written there on first use. */
  static loadOrCreate(file: string): NatsAuthority {
    if (existsSync(file)) {
      const { preload, ...keys } = StoredSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
      return new NatsAuthority(keys, file, preload);
    }
    const made = new NatsAuthority(NatsAuthority.create().#keys(), file);
    made.#store();
    return made;
  }

  #store(): void {
    if (!this.#file) return;
    writeFileSync(this.#file, `${JSON.stringify({ ...this.#keys(), ...(this.#preload ? { preload: this.#preload } : {}) }, null, 2)}\n`, { mode: 0o600 });
    chmodSync(this.#file, 0o600);
  }

  #keys(): NatsAuthorityKeys {
    const seed = (kp: KeyPair) => new TextDecoder().decode(kp.getSeed());
    return { operator: seed(this.#operator), system: seed(this.#system), account: seed(this.#account) };
  }

  /** The Airlock account's public key (`A…`): subjects of `$SYS.REQ.ACCOUNT.<id>.…`. */
  get accountId(): string {
    return this.#account.getPublicKey();
  }

  get systemAccountId(): string {
    return this.#system.getPublicKey();
  }

  /**
   * The Airlock account's JWT with these revocations (user public key → unix seconds: every JWT of
   * that user issued at or before then is refused). JetStream is enabled without limits.
   */
  accountJwt(revocations: Readonly<Record<string, number>> = {}): Promise<string> {
    const claims: Partial<Account> = { limits: { ...UNLIMITED, ...JETSTREAM } };
    if (Object.keys(revocations).length > 0) claims.revocations = { ...revocations };
    return encodeAccount('AIRLOCK', this.#account, claims, { signer: this.#operator, algorithm: Algorithms.v2 });
  }

  /**
   * nats-server config text: operator mode with a `full` resolver in `resolverDir`, which keeps
   * the account JWTs the harness pushes (with their revocations) across a server restart. The
   * two accounts are preloaded, so the server starts with no harness.
   *
   * The preloaded JWTs are made once and kept with the keys: the resolver keeps whichever account
   * JWT was issued last, so a preload signed anew at each config write would be newer than the
   * pushed one and silently drop its revocations at the next server start.
   */
  async serverConfig(resolverDir: string): Promise<string> {
    const { operator, system, account } = await this.#preloadJwts();
    return [
      '# Generated by Airlock: NATS operator mode. Every user is a JWT signed by the Airlock account key.',
      `operator: ${operator}`,
      `system_account: ${this.systemAccountId}`,
      `resolver: { type: full, dir: ${JSON.stringify(resolverDir)}, allow_delete: false, interval: "2m" }`,
      'resolver_preload: {',
      `  ${this.systemAccountId}: ${system}`,
      `  ${this.accountId}: ${account}`,
      '}',
      '',
    ].join('\n');
  }

  async #preloadJwts(): Promise<PreloadJwts> {
    if (this.#preload) return this.#preload;
    this.#preload = {
      operator: await encodeOperator('airlock', this.#operator, { system_account: this.systemAccountId }, { algorithm: Algorithms.v2 }),
      system: await encodeAccount('SYS', this.#system, { limits: UNLIMITED }, { signer: this.#operator, algorithm: Algorithms.v2 }),
      account: await this.accountJwt(),
    };
    this.#store();
    return this.#preload;
  }

  /** A user JWT for a key someone else holds (a runner's identity nkey): no seed leaves its holder. */
  async mintFor(name: string, publicKey: string, permissions: Partial<User>, opts: Omit<MintOptions, 'system'> = {}): Promise<Omit<NatsUser, 'seed'>> {
    const jwt = await encodeUser(name, publicKey, this.#account, permissions, { algorithm: Algorithms.v2, ...(opts.expiresAt !== undefined ? { exp: opts.expiresAt } : {}) });
    return { jwt, publicKey };
  }

  /** A system-account user JWT for a key someone else holds: the harness's account-update pusher. */
  async mintSystemFor(name: string, publicKey: string): Promise<Omit<NatsUser, 'seed'>> {
    const jwt = await encodeUser(name, publicKey, this.#system, {}, { algorithm: Algorithms.v2 });
    return { jwt, publicKey };
  }

  /** A new user (fresh nkey) with these permissions, signed by the account key. */
  async mint(name: string, permissions: Partial<User>, opts: MintOptions = {}): Promise<NatsUser> {
    const user = createUser();
    const issuer = opts.system ? this.#system : this.#account;
    const jwt = await encodeUser(name, user, issuer, permissions, { algorithm: Algorithms.v2, ...(opts.expiresAt !== undefined ? { exp: opts.expiresAt } : {}) });
    return { jwt, seed: new TextDecoder().decode(user.getSeed()), publicKey: user.getPublicKey() };
  }
}
