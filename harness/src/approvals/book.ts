import type { KV } from '@nats-io/kv';
import { AirlockError, ApprovalSchema, DEFAULT_APPROVAL_EXPIRY_MS, decode, encode } from '@airlock/proto';
import type { ApiApprovalsRequest, ApiApprovalsResult, ApiDecideRequest, Approval } from '@airlock/proto';
import { commandHash } from '@airlock/trust';
import { refuseSelfDecision } from '../governance/access.ts';
import { actorOf, type ApiCaller } from '../governance/callers.ts';
import type { Logger } from '../logger.ts';
import type { RunLogs } from '../run-logs.ts';
import { choicesFor, commandPrefix, grantCovers } from './scopes.ts';
import { approvalKey, egressDecidedEvent, egressGrant, egressGrantCovers, keyOfApproval } from './egress-holds.ts';

interface ApprovalAt {
  approval: Approval;
  revision: number;
}

/**
 * Steps held by an `ask` verdict and the operators' decisions, in the approvals KV bucket (key
 * `<runId>.<step>`), so a restart keeps them. A held request offers its choices (scopes.ts) and
 * expires, as a denial, when nobody decides it in time. An `approve` lets the same command through
 * once; an `approve_run` lets the same rule's commands with the same prefix through for the rest of
 * the run.
 */
export class ApprovalBook {
  readonly #kv: KV;
  readonly #logs: RunLogs;
  readonly #log: Logger;
  readonly #expiryMs: number;

  constructor(kv: KV, logs: RunLogs, log: Logger, opts: { expiryMs?: number | undefined } = {}) {
    this.#kv = kv;
    this.#logs = logs;
    this.#log = log;
    this.#expiryMs = opts.expiryMs ?? DEFAULT_APPROVAL_EXPIRY_MS;
  }

  /** Records a step held by an `ask` verdict: pending until an operator decides, or until it expires. */
  async hold(approval: Approval): Promise<void> {
    const held: Approval = {
      ...approval,
      choices: approval.choices ?? choicesFor(approval.rule, approval.cmd),
      expiresAt: approval.expiresAt ?? new Date(Date.parse(approval.requestedAt) + this.#expiryMs).toISOString(),
    };
    await this.#kv.put(`${approval.runId}.${approval.step}`, encode(held));
  }

  /**
   * Records a held egress connection of step `approval.step` under the next free hold number of that
   * step (create, so two concurrent holds never share one); returns it as stored.
   */
  async holdEgress(approval: Approval & { egress: NonNullable<Approval['egress']> }): Promise<Approval> {
    for (let hold = 1; hold <= 10_000; hold++) {
      const held: Approval = { ...approval, egress: { ...approval.egress, hold } };
      try {
        await this.#kv.create(approvalKey(approval.runId, approval.step, hold), encode(held));
        return held;
      } catch (err) {
        if ((await this.#kv.get(approvalKey(approval.runId, approval.step, hold)))?.operation !== 'PUT') throw err;
      }
    }
    throw new AirlockError('bad_request', `step ${approval.step} of run ${approval.runId} has too many held connections`);
  }

  /** One held request as stored now (a command's, or with `hold` an egress hold's); null when there is none. */
  async get(runId: string, step: number, hold?: number): Promise<Approval | null> {
    const e = await this.#kv.get(approvalKey(runId, step, hold));
    return e && e.operation === 'PUT' ? decode(ApprovalSchema, e.value, 'approval') : null;
  }

  /** The `approve_run` decision that lets connections of the run to `host:port` through, if any. */
  async egressGrantFor(runId: string, host: string, port: number): Promise<Approval | null> {
    return (await this.#list(runId)).find(({ approval }) => egressGrantCovers(approval, host, port))?.approval ?? null;
  }

  /**
   * An approval that lets `cmd` (held by `rule`) through as step `step`: a run-wide grant that
   * covers it (kept for later steps), else an approved, unused approval of this exact command, marked
   * used by `step` (compare-and-set, so two concurrent execs cannot both use one). Null when none.
   */
  async use(runId: string, cmd: string, step: number, rule?: string): Promise<Approval | null> {
    const sha = commandHash(cmd);
    const all = await this.#list(runId);
    // Egress holds (egress-holds.ts) never let a command through.
    const commands = all.filter(({ approval: a }) => a.egress === undefined);
    const standing = commands.find(({ approval: a }) => a.status === 'approved' && a.grant && (a.cmdSha256 === sha || (rule !== undefined && grantCovers(a.grant, rule, cmd))));
    if (standing) return standing.approval;
    for (const { approval, revision } of commands) {
      if (approval.status !== 'approved' || approval.grant || approval.cmdSha256 !== sha) continue;
      try {
        await this.#kv.update(`${runId}.${approval.step}`, encode({ ...approval, status: 'used', usedByStep: step }), revision);
        return approval;
      } catch {
        // Used by a concurrent exec in between: look for another.
      }
    }
    return null;
  }

  async #list(runId?: string): Promise<ApprovalAt[]> {
    const keys: string[] = [];
    for await (const k of await this.#kv.keys(runId ? `${runId}.*` : '>')) keys.push(k);
    const out: ApprovalAt[] = [];
    for (const k of keys) {
      const e = await this.#kv.get(k);
      if (e && e.operation === 'PUT') out.push({ approval: decode(ApprovalSchema, e.value, 'approval'), revision: e.revision });
    }
    return out.sort((a, b) => a.approval.requestedAt.localeCompare(b.approval.requestedAt) || a.approval.step - b.approval.step);
  }

  /**
   * A closed run's held steps and unused approvals can no longer run: they expire (kept as records).
   * A record decided concurrently is read again; a failure is logged, never dropped silently (the
   * exec path refuses closed runs anyway, so a record left pending cannot run a step).
   */
  async expire(runId: string, reason: string): Promise<void> {
    let held: ApprovalAt[];
    try {
      held = await this.#list(runId);
    } catch (err) {
      this.#log.error({ err, runId }, 'could not list the approvals of a closed run to expire them');
      return;
    }
    for (let { approval, revision } of held) {
      const key = keyOfApproval(approval);
      for (let attempt = 1; ; attempt++) {
        if (approval.status !== 'pending' && approval.status !== 'approved') break;
        const expired: Approval = { ...approval, status: 'expired', note: `${approval.note ? `${approval.note}; ` : ''}the run was closed (${reason})` };
        try {
          await this.#kv.update(key, encode(expired), revision);
          break;
        } catch (err) {
          const fresh = attempt < 3 ? await this.#kv.get(key).catch(() => null) : null;
          if (!fresh || fresh.operation !== 'PUT') {
            this.#log.error({ err, runId, step: approval.step }, 'could not expire an approval of a closed run');
            break;
          }
          approval = decode(ApprovalSchema, fresh.value, 'approval');
          revision = fresh.revision;
        }
      }
    }
  }

  /** Held steps: pending ones, or every record with `all`. Requests past their expiry are expired first. */
  async approvals(req: ApiApprovalsRequest): Promise<ApiApprovalsResult> {
    await this.expireDue(req.runId);
    const all = await this.#list(req.runId);
    return { approvals: all.map((a) => a.approval).filter((a) => req.all || a.status === 'pending') };
  }

  /**
   * Pending requests nobody decided before their `expiresAt`: each becomes `expired`, a denial,
   * recorded in its run's log (`step.decided`, decision `expired`, by the harness). One decided
   * concurrently is left as decided. Returns how many expired.
   */
  async expireDue(runId?: string, now = Date.now()): Promise<number> {
    let n = 0;
    for (const { approval, revision } of await this.#list(runId)) {
      if (approval.status !== 'pending' || !approval.expiresAt || Date.parse(approval.expiresAt) > now) continue;
      const note = `nobody decided by ${approval.expiresAt}: expired, a denial`;
      try {
        await this.#kv.update(keyOfApproval(approval), encode({ ...approval, status: 'expired', decidedBy: 'harness', decidedAt: new Date(now).toISOString(), note }), revision);
      } catch {
        continue;
      }
      await this.#logs.writer(approval.runId).append(approval.egress ? egressDecidedEvent(approval, 'expired', 'harness', { note }) : { type: 'step.decided', step: approval.step, decision: 'expired', decidedBy: 'harness', note });
      this.#log.info({ runId: approval.runId, step: approval.step, expiresAt: approval.expiresAt }, 'held step expired');
      n++;
    }
    return n;
  }

  /**
   * An operator approves or rejects a held step; the decision goes to the run's log (`step.decided`)
   * and to the approvals bucket. Only a pending step can be decided, once.
   */
  async decide(req: ApiDecideRequest, caller?: ApiCaller): Promise<Approval> {
    const key = approvalKey(req.runId, req.step, req.hold);
    const entry = await this.#kv.get(key);
    if (!entry || entry.operation !== 'PUT') throw new AirlockError('unknown_approval', req.hold === undefined ? `step ${req.step} of run ${req.runId} is not held for approval` : `no egress hold ${req.step}.${req.hold} in run ${req.runId}`);
    const held = decode(ApprovalSchema, entry.value, 'approval');
    // A verified caller decides in its own name; `by` stands only where nobody is verified (open mode).
    const by = caller && !caller.stated ? caller.principal : req.by;
    refuseSelfDecision({ principal: by, role: caller?.role ?? 'operator' }, held.requestedBy, `step ${req.step} of run ${req.runId}`);
    if (held.status === 'pending' && held.expiresAt && Date.parse(held.expiresAt) <= Date.now()) {
      await this.expireDue(req.runId);
      throw new AirlockError('already_decided', `step ${req.step} of run ${req.runId} expired at ${held.expiresAt} (a denial); the agent must ask again`);
    }
    if (held.status !== 'pending') throw new AirlockError('already_decided', `step ${req.step} of run ${req.runId} was already ${held.status}${held.decidedBy ? ` by ${held.decidedBy}` : ''}`);
    const approve = req.decision === 'approve' || req.decision === 'approve_run';
    const prefix = req.decision !== 'approve_run' ? '' : held.egress ? egressGrant(held.egress).prefix : commandPrefix(held.cmd);
    if (req.decision === 'approve_run' && !prefix) throw new AirlockError('bad_request', `step ${req.step} of run ${req.runId} is not a simple command: it can be approved once, not for the rest of the run`);
    const decided: Approval = {
      ...held,
      status: approve ? 'approved' : 'rejected',
      decision: req.decision,
      ...(prefix ? { grant: held.egress ? egressGrant(held.egress) : { rule: held.rule, prefix } } : {}),
      decidedBy: by,
      decidedAt: new Date().toISOString(),
      ...(req.note ? { note: req.note } : {}),
    };
    try {
      await this.#kv.update(key, encode(decided), entry.revision);
    } catch (cause) {
      throw new AirlockError('already_decided', `step ${req.step} of run ${req.runId} was decided by someone else just now`, { cause });
    }
    const actor = caller && !caller.stated ? { actor: actorOf(caller) } : {};
    if (held.egress) {
      await this.#logs.writer(req.runId).append({ ...egressDecidedEvent(held, approve ? 'approved' : 'rejected', by, { note: req.note, forRun: decided.grant !== undefined, pause: req.decision === 'reject_pause' }), ...actor });
      this.#log.info({ runId: req.runId, step: req.step, hold: held.egress.hold, decision: decided.status, by }, 'held egress decided');
      return decided;
    }
    await this.#logs.writer(req.runId).append({
      type: 'step.decided',
      step: req.step,
      decision: decided.status === 'approved' ? 'approved' : 'rejected',
      decidedBy: by,
      ...(req.note ? { note: req.note } : {}),
      ...(decided.grant ? { grant: decided.grant } : {}),
      ...(req.decision === 'reject_pause' ? { pause: true } : {}),
      ...(caller && !caller.stated ? { actor: actorOf(caller) } : {}),
    });
    this.#log.info({ runId: req.runId, step: req.step, decision: decided.status, by }, 'held step decided');
    return decided;
  }
}
