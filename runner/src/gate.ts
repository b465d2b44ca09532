// The gate: nothing runs unless the harness ordered it (a signed job token bound to the run, step,
// policy and command) and the runner's own validation chain, under the run's pinned policy, agrees.
import { AirlockError, subjects } from '@airlock/proto';
import type { RunnerExecRequest } from '@airlock/proto';
import { indexVerdict, type RunLogWriter } from '@airlock/ledger';
import type { NatsHandles } from '@airlock/transport';
import type { KV } from '@nats-io/kv';
import { PolicySchema, createValidator, policyHash, type Validator } from '@airlock/validate';
import { Redactor, TokenError, commandHash, type JobClaims, type JobVerifier } from '@airlock/trust';
import type { LiveRun } from './live-run.ts';
import type { Logger } from './logger.ts';

export interface GateOptions {
  runnerId: string;
  /** The harness's policy bucket (content-addressed by policy hash). */
  policies: KV;
  verifier: JobVerifier;
  /** The audit log (`system`), where refused messages are recorded. */
  systemLog: RunLogWriter;
  js: NatsHandles['js'];
  log: Logger;
}

/** Policy lookup, job-token authorization and the runner's re-check of every command. */
export class Gate {
  readonly #runnerId: string;
  readonly #policies: KV;
  readonly #verifier: JobVerifier;
  readonly #systemLog: RunLogWriter;
  readonly #js: NatsHandles['js'];
  readonly #log: Logger;
  readonly #validators = new Map<string, Promise<Validator>>();

  constructor(o: GateOptions) {
    this.#runnerId = o.runnerId;
    this.#policies = o.policies;
    this.#verifier = o.verifier;
    this.#systemLog = o.systemLog;
    this.#js = o.js;
    this.#log = o.log;
  }

  /**
   * The policy pinned to a run, fetched by hash from the harness's policy bucket and checked against
   * the hash before use: a missing or altered policy refuses the run (fail closed).
   */
  validatorFor(hash: string, mountPath: string): Promise<Validator> {
    const key = `${hash}:${mountPath}`;
    let v = this.#validators.get(key);
    if (!v) {
      v = (async () => {
        const entry = await this.#policies.get(hash);
        if (!entry || entry.operation !== 'PUT' || entry.length === 0) {
          throw new AirlockError('validation_denied', `policy ${hash.slice(0, 12)} is not in the policy bucket; refusing the run`);
        }
        const parsed = PolicySchema.safeParse(JSON.parse(entry.string()));
        if (!parsed.success || policyHash(parsed.data) !== hash) {
          throw new AirlockError('validation_denied', `policy ${hash.slice(0, 12)} does not match its hash; refusing the run`);
        }
        return createValidator({ policy: { ...parsed.data, workspace: mountPath } });
      })();
      v.catch(() => this.#validators.delete(key));
      this.#validators.set(key, v);
    }
    return v;
  }

  /**
   * Only the harness may order a step: the job token must be signed with its key and bind this run,
   * step, policy and command, unexpired and unused. Anything else is refused and audited.
   */
  async authorize(req: Pick<RunnerExecRequest, 'runId' | 'step' | 'policyHash' | 'token' | 'cmd'>, subject = subjects.runnerExec(this.#runnerId)): Promise<JobClaims> {
    try {
      return this.#verifier.verify(req.token, { runId: req.runId, step: req.step, policyHash: req.policyHash, cmdSha256: commandHash(req.cmd) });
    } catch (err) {
      const code = err instanceof TokenError ? err.code : 'malformed';
      const message = `job token refused (${code}) for run ${req.runId} step ${req.step}: ${(err as Error).message}`;
      this.#log.warn({ runId: req.runId, step: req.step, code }, 'job token refused');
      await this.#systemLog
        .append({ type: 'message.rejected', subject, code: `unauthorized.${code}`, message, bytes: req.cmd.length })
        .catch((err: unknown) => this.#log.error({ err, runId: req.runId, step: req.step }, 'could not record a refused job token in the audit log'));
      throw new AirlockError('unauthorized', message);
    }
  }

  /**
   * Validates the command again under the run's pinned policy: anything but `allow` is refused, except
   * an `ask` the harness's signed token says an operator approved (the token is bound to this command).
   */
  async recheck(run: Pick<LiveRun, 'log' | 'policyHash' | 'validator'>, req: RunnerExecRequest, approved: JobClaims['approved']): Promise<void> {
    const mismatch = req.policyHash !== run.policyHash;
    const v = mismatch ? null : run.validator.validate(req.cmd);
    if (v?.verdict === 'allow') return;
    if (v?.verdict === 'ask' && approved) return;
    // The command (and the validator's reason, which may quote it) may hold the step's secrets: the
    // verdict goes into the run log and the reviewers' index, so it is redacted as the harness does.
    const redact = redactorFor(req.secrets);
    const rule = v ? v.rule : 'policy.mismatch';
    const rawReason = v ? `the runner's check disagrees with the harness: ${v.reason}` : `the request names policy ${req.policyHash.slice(0, 12)}, the run is pinned to ${run.policyHash.slice(0, 12)}`;
    const reason = redact(rawReason);
    const event = await run.log.append({
      type: 'step.verdict',
      step: req.step,
      cmd: redact(req.cmd),
      verdict: v?.verdict ?? 'deny',
      rule,
      reason,
      ...(v?.span ? { span: { start: v.span.start, end: v.span.end } } : {}),
      policyHash: run.policyHash,
    });
    if (event.type === 'step.verdict') {
      await indexVerdict(this.#js, event).catch((err: unknown) =>
        this.#log.error({ err, runId: req.runId, step: req.step, seq: event.seq }, 'could not index the runner\'s verdict for reviewers'),
      );
    }
    throw new AirlockError('validation_denied', `runner refused step ${req.step} (${rule}): ${reason}`, { data: { step: req.step, rule, reason } });
  }
}

/** Redacts a step's secrets from text; the identity when the step has none. */
function redactorFor(secrets: Record<string, string>): (s: string) => string {
  if (Object.keys(secrets).length === 0) return (s) => s;
  const r = new Redactor(secrets);
  return (s) => r.redactString(s);
}
