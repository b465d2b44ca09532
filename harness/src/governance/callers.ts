import type { KeyObject } from 'node:crypto';
import type { Msg } from '@nats-io/transport-node';
import { AirlockError } from '@airlock/proto';
import type { Actor } from '@airlock/proto';
import type { Logger } from '../logger.ts';
import type { RunLogs } from '../run-logs.ts';
import { authorize } from './access.ts';
import { CREDENTIAL_HEADER, verifyCredential, type Caller } from './identity.ts';

/** A caller as a handler sees it: who, in which role, and whether that was only stated (open mode). */
export interface ApiCaller extends Caller {
  /** true: no credential, trusted as stated (`auth: open`); names in the request (`by`) stand. */
  stated: boolean;
}

/**
 * Establishes who calls each API request (the credential in its {@link CREDENTIAL_HEADER} header),
 * checks the role against the verb, and audits every refusal (`access.denied`, in the run's log when
 * the request names a run, else in the system log).
 */
export class CallerGate {
  readonly #mode: 'required' | 'open';
  readonly #key: KeyObject;
  readonly #logs: RunLogs;
  readonly #log: Logger;

  constructor(mode: 'required' | 'open', harnessPublicKey: KeyObject, logs: RunLogs, log: Logger) {
    this.#mode = mode;
    this.#key = harnessPublicKey;
    this.#logs = logs;
    this.#log = log;
  }

  /** The caller of `msg` (not yet checked against a verb); throws `forbidden` without a valid credential. */
  identify(msg: Msg): ApiCaller {
    const token = msg.headers?.get(CREDENTIAL_HEADER) ?? '';
    let caller: ApiCaller;
    if (token) caller = { ...verifyCredential(this.#key, token), stated: false };
    else if (this.#mode === 'open') caller = { principal: 'anonymous', role: 'admin', stated: true };
    else throw new AirlockError('forbidden', `no credential: this harness requires one on every request (\`./airlock --as ROLE\`, or AIRLOCK_CREDENTIAL)`);
    return caller;
  }

  /** Runs a handler as `verb`; a refusal (here or in the handler) is audited before it is answered. */
  async guard<R>(msg: Msg, verb: string, runId: string | undefined, handle: (caller: ApiCaller) => Promise<R>): Promise<R> {
    let caller: ApiCaller | undefined;
    try {
      caller = this.identify(msg);
      authorize(caller, verb);
      return await handle(caller);
    } catch (err) {
      if (err instanceof AirlockError && err.code === 'forbidden') await this.#audit(msg.subject, runId, caller, err.message);
      throw err;
    }
  }

  async #audit(subject: string, runId: string | undefined, caller: ApiCaller | undefined, reason: string): Promise<void> {
    const actor: Actor | undefined = caller ? { principal: caller.principal, role: caller.role } : undefined;
    this.#log.warn({ subject, runId, actor, reason }, 'access denied');
    const log = runId ? this.#logs.writer(runId) : this.#logs.system;
    await log.append({ type: 'access.denied', subject, reason, ...(actor ? { actor } : {}) }).catch((err: unknown) => this.#log.error({ err, runId }, 'could not audit a refused request'));
  }
}

/** The actor recorded for a caller. */
export function actorOf(caller: Caller): Actor {
  return { principal: caller.principal, role: caller.role };
}
