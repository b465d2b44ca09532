import { closeSync, existsSync, mkdirSync, openSync, writeFileSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AirlockError, LOG_GRANT_SEAL_STEP } from '@airlock/proto';
import type { RunnerExecRequest, RunnerKeys, SealedSecrets } from '@airlock/proto';
import { RunnerSigner, TrustError, createRunnerIdentity, openSecrets, parseRunnerIdentity, publicKeysOf, type ReplyStatement, type RunnerIdentity } from '@airlock/trust';

/**
 * The runner's keys at work: logs into NATS as itself (nkey), signs its replies, heartbeats and log
 * events, and opens the secrets the harness sealed to it. The seeds never leave this object.
 */
export class RunnerKeyring {
  readonly runnerId: string;
  readonly keys: RunnerKeys;
  /** True when the identity was made at start (no identity file): nobody pinned these keys. */
  readonly ephemeral: boolean;
  readonly #identity: RunnerIdentity;
  readonly #signer: RunnerSigner;

  constructor(identity: RunnerIdentity, ephemeral = false) {
    this.#identity = identity;
    this.runnerId = identity.runnerId;
    this.#signer = new RunnerSigner(identity);
    const pub = publicKeysOf(identity);
    this.keys = { nkey: pub.nkey, curve: pub.curve };
    this.ephemeral = ephemeral;
  }

  /** A fresh identity held only in memory (development: a NATS without per-runner users). */
  static ephemeral(runnerId: string): RunnerKeyring {
    return new RunnerKeyring(createRunnerIdentity(runnerId), true);
  }

  /**
   * Without a deployed identity: one made on first start and kept in the runner's state directory
   * (0600), so a runner restarted under its id keeps its keys and the log events it signed before
   * still verify. Nobody pinned it: only for a NATS without per-runner users.
   */
  static local(stateDir: string, runnerId: string): RunnerKeyring {
    const dir = join(stateDir, 'identity');
    const file = join(dir, `${runnerId}.json`);
    if (existsSync(file)) return new RunnerKeyring(readIdentityFile(file), true);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const identity = createRunnerIdentity(runnerId);
    try {
      writeFileSync(file, `${JSON.stringify(identity)}\n`, { mode: 0o600, flag: 'wx' });
    } catch {
      // Another process of this id made it first: use that one.
      return new RunnerKeyring(readIdentityFile(file), true);
    }
    return new RunnerKeyring(identity, true);
  }

  /** The nkey seed to log into NATS with. */
  get natsSeed(): string {
    return this.#identity.seed;
  }

  /** The request with `secrets` filled from its sealed box; `unauthorized` if it does not open here. */
  unseal(req: RunnerExecRequest): RunnerExecRequest {
    if (!req.sealed) return req;
    try {
      return { ...req, secrets: openSecrets(req.sealed, this.#identity.curveSeed, { runId: req.runId, step: req.step }) };
    } catch (err) {
      if (err instanceof TrustError) throw new AirlockError('unauthorized', `exec request refused: ${err.message}`, { cause: err });
      throw err;
    }
  }

  /** A run's log grant login (JWT and seed), sealed to this runner by the harness; `unauthorized` if it does not open here. */
  unsealGrant(sealed: SealedSecrets, runId: string): { jwt: string; seed: string } {
    try {
      const login = openSecrets(sealed, this.#identity.curveSeed, { runId, step: LOG_GRANT_SEAL_STEP });
      if (!login.jwt || !login.seed) throw new TrustError('sealed_invalid', 'the sealed log grant lacks its jwt or seed');
      return { jwt: login.jwt, seed: login.seed };
    } catch (err) {
      if (err instanceof TrustError) throw new AirlockError('unauthorized', `log grant refused: ${err.message}`, { cause: err });
      throw err;
    }
  }

  /** `result` with this runner's signature over what it answers (`sig`). */
  sign<R extends object>(kind: ReplyStatement['kind'], runId: string, step: number, result: R): R & { sig: string } {
    return { ...result, sig: this.#signer.signReply({ kind, runId, step, result }) };
  }

  /** Signature over a log event's stored bytes (RunLogWriter `sign`). */
  readonly signLog = (stored: Uint8Array, storedSha256?: string): string => this.#signer.signLog(stored, storedSha256);
}

/** Reads a runner identity file (0600: a file others can read is refused, like the harness's secrets). */
export function readIdentityFile(file: string): RunnerIdentity {
  const mode = statSync(file).mode & 0o077;
  if (mode !== 0) throw new Error(`runner identity ${file} is readable by group or others (chmod 600 it)`);
  return parseRunnerIdentity(JSON.parse(readFileSync(file, 'utf8')));
}

/**
 * The user JWT beside an identity file (`<id>.json` → `<id>.jwt`), written by an operator-mode
 * deployment (`ensureDeployment`): it names the identity's nkey, so the runner logs in with its own
 * seed and this JWT. None: the deployment is not in operator mode (a plain nkey login).
 */
export function readIdentityJwt(identityFile: string): string | undefined {
  const file = `${identityFile.replace(/\.json$/, '')}.jwt`;
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

/** How long a claim on an identity lives without being refreshed; refreshed every third of it. */
export const CLAIM_LEASE_MS = 15_000;

/**
 * Claims one unused identity from a directory of `<runnerId>.json` identity files (compose: scaled
 * runners share one image and one command, so each takes the first identity no live runner holds).
 * A claim is a lease file created exclusively and refreshed while the runner lives; a lease not
 * refreshed for {@link CLAIM_LEASE_MS} is taken over (rename is atomic: one taker wins).
 */
export function claimIdentity(dir: string): { identity: RunnerIdentity; file: string; refresh: () => void; release: () => void } {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  for (const f of files) {
    const lease = join(dir, `${f}.lease`);
    if (existsSync(lease)) {
      let stale = false;
      try {
        stale = Date.now() - statSync(lease).mtimeMs > CLAIM_LEASE_MS;
      } catch {
        stale = true;
      }
      if (!stale) continue;
      const taken = `${lease}.stale-${randomBytes(4).toString('hex')}`;
      try {
        renameSync(lease, taken);
        unlinkSync(taken);
      } catch {
        continue;
      }
    }
    let fd: number;
    try {
      fd = openSync(lease, 'wx', 0o600);
    } catch {
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    const identity = readIdentityFile(join(dir, f));
    return {
      identity,
      file: join(dir, f),
      refresh: () => {
        const now = new Date();
        try {
          utimesSync(lease, now, now);
        } catch {
          // Taken over after we stalled past the lease: nothing to refresh; NATS refuses a second login only if limited.
        }
      },
      release: () => {
        try {
          unlinkSync(lease);
        } catch {
          // Already gone.
        }
      },
    };
  }
  throw new Error(`no free runner identity in ${dir} (${files.length} there, all claimed): generate more, or stop a runner`);
}
