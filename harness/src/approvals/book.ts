import type { KV } from '@nats-io/kv';
import { AirlockError, ApprovalSchema, decode, encode } from '@airlock/proto';
import type { ApiApprovalsRequest, ApiApprovalsResult, ApiDecideRequest, Approval } from '@airlock/proto';
import { commandHash } from '@airlock/trust';
import { refuseSelfDecision } from '../governance/access.ts';
import { actorOf, type ApiCaller } from '../governance/callers.ts';
import type { Logger } from '../logger.ts';
import type { RunLogs } from '../run-logs.ts';

interface ApprovalAt {
  approval: Approval;
  revision: number;
}

/**
 * Steps held by an `ask` verdict and the operators' decisions, in the approvals KV bucket (key
 * `<runId>.<step>`), so a restart keeps them. An approval lets the same command through once.
 */
export class ApprovalBook {
  readonly #kv: KV;
  readonly #logs: RunLogs;
  readonly #log: Logger;

  constructor(kv: KV, logs: RunLogs, log: Logger) {
    this.#kv = kv;
    this.#logs = logs;
    this.#log = log;
  }

  /** Records a step held by an `ask` verdict (pending until an operator decides). */
  async hold(approval: Approval): Promise<void> {
    await this.#kv.put(`${approval.runId}.${approval.step}`, encode(approval));
  }

  /**
   * Finds an approved, unused approval of this exact command in this run and marks it used by `step`
   * (compare-and-set, so two concurrent execs cannot both use one approval). Null when there is none.
   */
  async use(runId: string, cmd: string, step: number): Promise<Approval | null> {
    const sha = commandHash(cmd);
    for (const { approval, revision } of await this.#list(runId)) {
      if (approval.status !== 'approved' || approval.cmdSha256 !== sha) continue;
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
      const key = `${runId}.${approval.step}`;
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

  /** Held steps: pending ones, or every record with `all`. */
  async approvals(req: ApiApprovalsRequest): Promise<ApiApprovalsResult> {
    const all = await this.#list(req.runId);
    return { approvals: all.map((a) => a.approval).filter((a) => req.all || a.status === 'pending') };
  }

  /**
   * An operator approves or rejects a held step; the decision goes to the run's log (`step.decided`)
   * and to the approvals bucket. Only a pending step can be decided, once.
   */
  async decide(req: ApiDecideRequest, caller?: ApiCaller): Promise<Approval> {
    const key = `${req.runId}.${req.step}`;
    const entry = await this.#kv.get(key);
    if (!entry || entry.operation !== 'PUT') throw new AirlockError('unknown_approval', `step ${req.step} of run ${req.runId} is not held for approval`);
    const held = decode(ApprovalSchema, entry.value, 'approval');
    // A verified caller decides in its own name; `by` stands only where nobody is verified (open mode).
    const by = caller && !caller.stated ? caller.principal : req.by;
    refuseSelfDecision({ principal: by, role: caller?.role ?? 'operator' }, held.requestedBy, `step ${req.step} of run ${req.runId}`);
    if (held.status !== 'pending') throw new AirlockError('already_decided', `step ${req.step} of run ${req.runId} was already ${held.status}${held.decidedBy ? ` by ${held.decidedBy}` : ''}`);
    const decided: Approval = {
      ...held,
      status: req.decision === 'approve' ? 'approved' : 'rejected',
      decidedBy: by,
      decidedAt: new Date().toISOString(),
      ...(req.note ? { note: req.note } : {}),
    };
    try {
      await this.#kv.update(key, encode(decided), entry.revision);
    } catch (cause) {
      throw new AirlockError('already_decided', `step ${req.step} of run ${req.runId} was decided by someone else just now`, { cause });
    }
    await this.#logs.writer(req.runId).append({
      type: 'step.decided',
      step: req.step,
      decision: decided.status === 'approved' ? 'approved' : 'rejected',
      decidedBy: by,
      ...(req.note ? { note: req.note } : {}),
      ...(caller && !caller.stated ? { actor: actorOf(caller) } : {}),
    });
    this.#log.info({ runId: req.runId, step: req.step, decision: decided.status, by }, 'held step decided');
    return decided;
  }
}
