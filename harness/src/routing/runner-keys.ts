import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AirlockError } from '@airlock/proto';
import type { RunnerKeys } from '@airlock/proto';
import { parseRunnerPublicKeys, sealSecrets, verifyReply, type ReplyStatement, type RunnerPublicKeys, type SealedSecrets } from '@airlock/trust';
import type { Logger } from '../logger.ts';

/**
 * The runners' public keys as deployed: `{ "runners": [{ "runnerId", "nkey": "U…", "curve": "X…" }] }`,
 * written by `./airlock up` or `deploy/credentials.ts` next to the nats-server config that gives each
 * of those nkeys its own user. Nobody else can add a runner: a runner not in the file is not trusted.
 */
export function readRunnersFile(file: string): Map<string, RunnerPublicKeys> {
  if (statSync(file).mode & 0o022) throw new AirlockError('internal', `runners file ${file} is writable by group or others: anyone who can edit it can add a runner`);
  const body = JSON.parse(readFileSync(file, 'utf8')) as { runners?: unknown };
  if (!Array.isArray(body.runners)) throw new AirlockError('internal', `runners file ${file} has no "runners" list`);
  const out = new Map<string, RunnerPublicKeys>();
  for (const r of body.runners) {
    const keys = parseRunnerPublicKeys(r);
    out.set(keys.runnerId, keys);
  }
  return out;
}

/**
 * Which key belongs to which runner, for sealing secrets to it and checking what it signs.
 *
 * - Pinned (a runners file): only those runners and keys; anything else is refused.
 * - Unpinned (no file: a development NATS without users, where anyone may publish anything anyway):
 *   the keys a runner announces (heartbeat or open reply) are used, the latest winning (a runner
 *   restarted under its id has new in-memory keys). This checks nothing against an attacker; it
 *   keeps one code path (sealed, signed) for both modes. Logged at start.
 */
export class RunnerKeyStore {
  readonly #pinned: boolean;
  readonly #keys: Map<string, RunnerPublicKeys>;
  readonly #log: Logger;
  readonly #warned = new Set<string>();

  /** Unpinned mode: where the keys seen are kept, so a restarted harness still verifies older runs' logs. */
  readonly #seenFile: string | undefined;

  constructor(pinned: Map<string, RunnerPublicKeys> | undefined, log: Logger, opts: { seenFile?: string } = {}) {
    this.#pinned = pinned !== undefined;
    this.#keys = new Map(pinned ?? []);
    this.#log = log;
    this.#seenFile = pinned ? undefined : opts.seenFile;
    if (this.#seenFile && existsSync(this.#seenFile)) {
      try {
        for (const [id, keys] of readRunnersFile(this.#seenFile)) this.#keys.set(id, keys);
      } catch (err) {
        log.warn({ err, file: this.#seenFile }, 'ignored an unreadable file of runner keys seen before');
      }
    }
  }

  #remember(keys: RunnerPublicKeys): void {
    this.#keys.set(keys.runnerId, keys);
    if (!this.#seenFile) return;
    try {
      mkdirSync(dirname(this.#seenFile), { recursive: true });
      writeFileSync(this.#seenFile, `${JSON.stringify({ runners: [...this.#keys.values()] }, null, 2)}\n`, { mode: 0o600 });
    } catch (err) {
      this.#log.warn({ err, file: this.#seenFile }, 'could not keep the runner keys seen');
    }
  }

  get pinned(): boolean {
    return this.#pinned;
  }

  /** Runner ids known now. */
  get runnerIds(): string[] {
    return [...this.#keys.keys()];
  }

  /**
   * Takes note of keys a runner announced. True when they are (now) the keys held for it; false
   * when they differ from the pinned or first-seen ones, or the runner is not pinned.
   */
  learn(runnerId: string, keys: RunnerKeys | undefined): boolean {
    const held = this.#keys.get(runnerId);
    if (!held) {
      if (this.#pinned || !keys) return false;
      this.#remember({ runnerId, nkey: keys.nkey, curve: keys.curve });
      return true;
    }
    if (!keys || (keys.nkey === held.nkey && keys.curve === held.curve)) return true;
    if (this.#pinned) return false;
    // Unpinned: a runner restarted under its id comes back with fresh in-memory keys.
    this.#log.warn({ runnerId }, 'runner announced new keys (restarted?); unpinned mode takes them');
    this.#remember({ runnerId, nkey: keys.nkey, curve: keys.curve });
    return true;
  }

  /** The keys of `runnerId`, or `unauthorized` when it has none here. */
  require(runnerId: string): RunnerPublicKeys {
    const k = this.#keys.get(runnerId);
    if (!k) throw new AirlockError('verification_failed', `runner ${runnerId} has no ${this.#pinned ? 'pinned' : 'known'} keys; it is not trusted with runs or secrets`);
    return k;
  }

  get(runnerId: string): RunnerPublicKeys | undefined {
    return this.#keys.get(runnerId);
  }

  /** Seals a step's secrets to the curve key of the runner that holds the run. */
  seal(runnerId: string, secrets: Record<string, string>, bind: { runId: string; step: number }): SealedSecrets {
    return sealSecrets(secrets, this.require(runnerId).curve, bind);
  }

  /**
   * Checks that a reply was signed by `runnerId` over exactly this body (the raw JSON `result` of
   * the reply, `sig` removed). Throws `verification_failed` otherwise: the reply is not used.
   */
  verify(kind: ReplyStatement['kind'], runnerId: string, runId: string, step: number, raw: unknown): void {
    const keys = this.require(runnerId);
    const { sig, ...result } = (raw ?? {}) as { sig?: unknown } & Record<string, unknown>;
    if (!verifyReply(keys, { kind, runId, step, result }, typeof sig === 'string' ? sig : undefined)) {
      throw new AirlockError('verification_failed', `the ${kind} reply for run ${runId}${step ? ` step ${step}` : ''} is not signed by runner ${runnerId} that holds it; refused`, {
        data: { runnerId, runId, step, kind },
      });
    }
  }

  /** Logs a refused runner once per id (heartbeats repeat every second). */
  warnOnce(runnerId: string, msg: string): void {
    if (this.#warned.has(runnerId)) return;
    this.#warned.add(runnerId);
    this.#log.warn({ runnerId }, msg);
  }
}
