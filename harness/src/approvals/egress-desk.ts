// The harness's side of `network.unlisted: ask`: a runner's proxy holds a connection to a host and
// port no allowlist rule names, and asks here. The connection becomes a held request in the
// approvals bucket, beside held commands, decided with the same verbs and roles (`airlock approve
// RUN 7.1`, nobody decides their own); the answer goes back when an operator decides, or as a denial
// when nobody does within the wait (the policy's `askWaitMs`, cut to the step's time left).
import type { Msg, Subscription } from '@nats-io/transport-node';
import { indexEgressHold } from '@airlock/ledger';
import { AirlockError, EgressAskRequestSchema, decode, encode, subjects, toWireError } from '@airlock/proto';
import type { Approval, EgressAskRequest, EgressAskResult, EgressTarget } from '@airlock/proto';
import { commandHash } from '@airlock/trust';
import { DEFAULT_EGRESS_ASK_WAIT_MS } from '@airlock/validate';
import type { HarnessContext } from '../context.ts';
import type { PolicyGate } from '../policy/gate.ts';
import type { RunLogs } from '../run-logs.ts';
import type { RunRecords } from '../runs/records.ts';
import type { ApprovalBook } from './book.ts';
import { EGRESS_UNLISTED_RULE, egressChoices, egressId, egressText } from './egress-holds.ts';

/** How often a held connection's record is read for a decision. */
const POLL_MS = 200;

export interface EgressDeskDeps {
  records: RunRecords;
  logs: RunLogs;
  approvals: ApprovalBook;
  gate: PolicyGate;
}

/** Answers runners' egress asks on `airlock.v1.egress.<runner id>` (the subject names the asker). */
export class EgressDesk {
  readonly #ctx: HarnessContext;
  readonly #d: EgressDeskDeps;
  /** Aborted at stop: every held connection is answered with a denial at once. */
  readonly #stop = new AbortController();
  #sub: Subscription | undefined;

  constructor(ctx: HarnessContext, deps: EgressDeskDeps) {
    this.#ctx = ctx;
    this.#d = deps;
  }

  start(): void {
    this.#sub = this.#ctx.nats.nc.subscribe(subjects.egressAskAll, {
      callback: (err, msg) => {
        if (!err) this.#ctx.track(this.#answer(msg));
      },
    });
  }

  stop(): void {
    this.#sub?.unsubscribe();
    this.#stop.abort();
  }

  async #answer(msg: Msg): Promise<void> {
    const runnerId = msg.subject.slice(subjects.egressAsk('').length);
    try {
      const req = decode(EgressAskRequestSchema, msg.data, 'egress ask');
      msg.respond(encode({ ok: true, result: await this.#decide(runnerId, req) }));
    } catch (err) {
      const wire = toWireError(err);
      this.#ctx.log.warn({ err, runnerId }, 'egress ask refused');
      msg.respond(encode({ ok: false, error: wire }));
      await this.#d.logs.system
        .append({ type: 'message.rejected', subject: msg.subject, code: `egress_ask.${wire.code}`, message: wire.message, bytes: msg.data.length })
        .catch((e: unknown) => this.#ctx.log.error({ err: e, runnerId }, 'could not audit a refused egress ask'));
    }
  }

  /** Checks who asks and under which policy, then answers from a standing grant or holds the connection. */
  async #decide(runnerId: string, req: EgressAskRequest): Promise<EgressAskResult> {
    const { record } = await this.#d.records.get(req.runId, { fresh: true });
    if (record.status !== 'open' || record.runnerId !== runnerId) throw new AirlockError('unauthorized', `runner ${runnerId} does not hold open run ${req.runId}; its egress ask is refused`);
    const { validator } = this.#d.gate;
    const network = validator.policy.network;
    if (record.policyHash !== validator.policyHash || network.mode !== 'proxy' || network.unlisted !== 'ask') {
      return { allowed: false, reason: `${req.host}:${req.port} is not on the run's network allowlist, and the run's policy does not ask for unlisted hosts (network.unlisted)` };
    }
    const standing = await this.#d.approvals.egressGrantFor(req.runId, req.host, req.port);
    if (standing) return { allowed: true, forRun: true, approval: egressId(standing), reason: `approved for the rest of the run by ${standing.decidedBy ?? '?'} (egress ${egressId(standing)})` };
    const waitMs = Math.min(req.waitMs, network.askWaitMs ?? DEFAULT_EGRESS_ASK_WAIT_MS);
    const held = await this.#hold(req, record.openedBy?.principal, waitMs);
    await this.#expireIfClosedMeanwhile(req.runId);
    return this.#answerFor(await this.#waitForDecision(held), waitMs);
  }

  /** Stores the held connection and records it in the run's log and the audit index (under `ask`). */
  async #hold(req: EgressAskRequest, requestedBy: string | undefined, waitMs: number): Promise<Approval> {
    const target: EgressTarget = { host: req.host, port: req.port, via: req.via, ...(req.method ? { method: req.method } : {}), ...(req.path ? { path: req.path } : {}) };
    const text = egressText(target);
    const now = Date.now();
    const held = await this.#d.approvals.holdEgress({
      runId: req.runId,
      step: req.step,
      cmd: text,
      cmdSha256: commandHash(text),
      rule: EGRESS_UNLISTED_RULE,
      reason: `${req.host}:${req.port} is not on the run's network allowlist; the policy asks an operator (network.unlisted: ask)`,
      requestedAt: new Date(now).toISOString(),
      status: 'pending',
      ...(requestedBy ? { requestedBy } : {}),
      choices: egressChoices(target),
      expiresAt: new Date(now + waitMs).toISOString(),
      egress: { ...target, hold: 1 },
    });
    const id = egressId(held);
    const event = await this.#d.logs.writer(req.runId).append({
      type: 'egress.connection',
      step: req.step,
      ...target,
      decision: 'held',
      approval: id,
      reason: `not on the allowlist: held as egress ${id} for at most ${waitMs} ms (airlock approve ${req.runId} ${id})`,
      bytesUp: 0,
      bytesDown: 0,
      durationMs: 0,
    });
    if (event.type === 'egress.connection') {
      await indexEgressHold(this.#ctx.nats.js, event).catch((err: unknown) => this.#ctx.log.error({ err, runId: req.runId, approval: id }, 'could not index a held egress connection'));
    }
    this.#ctx.log.info({ runId: req.runId, approval: id, host: req.host, port: req.port, waitMs }, 'egress connection held for an operator');
    return held;
  }

  /**
   * A close that ran between the check above and the hold's write expired the run's approvals before
   * this one existed: it would stay pending (listed, decidable) until its wait ran out. Expired now.
   */
  async #expireIfClosedMeanwhile(runId: string): Promise<void> {
    const { record } = await this.#d.records.get(runId, { fresh: true });
    if (record.status !== 'open') await this.#d.approvals.expire(runId, record.closeReason ?? 'closed');
  }

  /** Reads the held record until it is decided, expires (a denial, logged), or this harness stops. */
  async #waitForDecision(held: Approval): Promise<Approval | null> {
    const hold = held.egress!.hold;
    const expiresAt = Date.parse(held.expiresAt!);
    const signal = this.#stop.signal;
    for (;;) {
      const now = await this.#d.approvals.get(held.runId, held.step, hold);
      if (!now || now.status !== 'pending') return now;
      if (signal.aborted) return null;
      if (Date.now() >= expiresAt) {
        await this.#d.approvals.expireDue(held.runId);
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(POLL_MS, Math.max(1, expiresAt - Date.now())));
        signal.addEventListener('abort', done, { once: true });
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
      });
    }
  }

  #answerFor(decided: Approval | null, waitMs: number): EgressAskResult {
    if (!decided) return { allowed: false, reason: 'the harness stopped while the connection was held; denied' };
    const id = egressId(decided);
    const note = decided.note ? `: ${decided.note}` : '';
    switch (decided.status) {
      case 'approved':
      case 'used':
        return { allowed: true, approval: id, ...(decided.grant ? { forRun: true } : {}), reason: `approved by ${decided.decidedBy ?? '?'} (egress ${id})${note}` };
      case 'rejected':
        return { allowed: false, approval: id, reason: `egress ${id} was denied by ${decided.decidedBy ?? 'an operator'}${note}` };
      default:
        // Expired: nobody decided in time, or the run was closed while it was held (the note says which).
        if (decided.note?.includes('the run was closed')) return { allowed: false, approval: id, reason: `egress ${id}: the run was closed while it was held` };
        return { allowed: false, approval: id, reason: `egress ${id}: nobody decided within ${waitMs} ms (expired, a denial)` };
    }
  }
}
