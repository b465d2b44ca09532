import { AirlockError } from '@airlock/proto';
import { indexVerdict } from '@airlock/ledger';
import type { Redactor } from '@airlock/trust';
import { commandHash } from '@airlock/trust';
import { createValidator, type Validator } from '@airlock/validate';
import type { ApprovalBook } from '../approvals/book.ts';
import type { HarnessContext } from '../context.ts';
import type { RunLogs } from '../run-logs.ts';


/** A verdict reached outside the bash validation chain (the file policy). */
export interface GivenVerdict {
  verdict: 'allow' | 'ask' | 'deny';
  rule: string;
  reason: string;
}
/** What the gate lets through: the commands the chain saw (secrets are granted per command) and the approval used, if any. */
export interface GateResult {
  commands: readonly string[];
  approved?: { step: number; by: string };
}

/**
 * The policy gate: runs the validation chain on a step's command, records the verdict in the run's
 * log and the audit index, and throws unless it is `allow`: `deny` and `ask` never reach a runner.
 * A run pinned to a policy this harness does not hold is refused (fail closed), never validated
 * under another.
 */
export class PolicyGate {
  readonly #ctx: HarnessContext;
  /** The policy new runs are pinned to, and its validation chain. */
  readonly validator: Validator;
  readonly #approvals: ApprovalBook;
  readonly #logs: RunLogs;
  readonly #redactor: Redactor;
  /** The same policy with relative paths resolved against each mount path in use. */
  readonly #byMount = new Map<string, Promise<Validator>>();

  constructor(ctx: HarnessContext, validator: Validator, approvals: ApprovalBook, logs: RunLogs, redactor: Redactor) {
    this.#ctx = ctx;
    this.validator = validator;
    this.#approvals = approvals;
    this.#logs = logs;
    this.#redactor = redactor;
  }

  /** Sandbox limits of new runs: the config's when set, else the policy's. */
  limits() {
    const l = this.#ctx.cfg.limits ?? this.validator.policy.limits;
    return { memoryBytes: l.memoryBytes, pids: l.pids, nanoCpus: l.nanoCpus, tmpfsBytes: l.tmpfsBytes };
  }

  #validatorFor(mountPath: string): Promise<Validator> {
    let v = this.#byMount.get(mountPath);
    if (!v) {
      v = createValidator({ policy: { ...this.validator.policy, workspace: mountPath } });
      // A failed load is not kept: the next open tries again instead of failing forever.
      v.catch(() => this.#byMount.delete(mountPath));
      this.#byMount.set(mountPath, v);
    }
    return v;
  }

  /** Checks step `step` of a run; throws `validation_denied` or `validation_ask` (after holding the step). */
  async check(runId: string, step: number, cmd: string, pinnedHash: string, mountPath: string, given?: GivenVerdict, requestedBy?: string): Promise<GateResult> {
    const v = this.validator;
    // `given`: a verdict reached by another check of the same policy (the file tools'), recorded and held alike.
    const checked =
      pinnedHash === v.policyHash
        ? (given ?? (await this.#validatorFor(mountPath)).validate(cmd))
        : { verdict: 'deny' as const, rule: 'policy.mismatch', reason: `the run is pinned to policy ${pinnedHash.slice(0, 12)}, this harness enforces ${v.policyHash.slice(0, 12)}` };
    // An `ask` an operator approved lets it through: this exact command once, or the rule and prefix for the run.
    const approval = checked.verdict === 'ask' ? await this.#approvals.use(runId, cmd, step, checked.rule) : null;
    const verdict = approval
      ? { ...checked, verdict: 'allow' as const, reason: `approved by ${approval.decidedBy} (held as step ${approval.step})${approval.note ? `: ${approval.note}` : ''}; the check said: ${checked.reason}` }
      : checked;
    const event = await this.#logs.writer(runId).append({
      type: 'step.verdict',
      step,
      cmd: this.#redactor.redactString(cmd),
      verdict: verdict.verdict,
      rule: verdict.rule,
      reason: verdict.reason,
      ...('span' in verdict && verdict.span ? { span: { start: verdict.span.start, end: verdict.span.end } } : {}),
      policyHash: pinnedHash,
    });
    if (event.type === 'step.verdict') {
      await indexVerdict(this.#ctx.nats.js, event).catch((err: unknown) => this.#ctx.log.error({ err, runId, step }, 'could not index a verdict'));
    }
    const commands = 'commands' in verdict ? verdict.commands : [];
    if (verdict.verdict === 'allow') return { commands, ...(approval ? { approved: { step: approval.step, by: approval.decidedBy ?? '?' } } : {}) };
    const data = { step, verdict: verdict.verdict, rule: verdict.rule, reason: verdict.reason, ...('span' in verdict && verdict.span ? { span: verdict.span } : {}) };
    if (verdict.verdict === 'ask') {
      await this.#approvals.hold({ runId, step, cmd: this.#redactor.redactString(cmd), cmdSha256: commandHash(cmd), rule: verdict.rule, reason: verdict.reason, requestedAt: new Date().toISOString(), status: 'pending', ...(requestedBy ? { requestedBy } : {}) });
      throw new AirlockError(
        'validation_ask',
        `step ${step} is held for approval (${verdict.rule}): ${verdict.reason}. An operator approves it with \`airlock approve ${runId} ${step}\`; then the same command runs once`,
        { data },
      );
    }
    throw new AirlockError('validation_denied', `step ${step} was denied (${verdict.rule}): ${verdict.reason}`, { data });
  }
}
