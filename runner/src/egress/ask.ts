// The runner's side of `network.unlisted: ask`: a connection the run's proxy holds is asked about on
// `airlock.v1.egress.<this runner>` (only this runner's user may publish there), bounded by the
// policy's wait and the step's time left; the harness holds it as an approval (harness/src/approvals/
// egress-desk.ts). No answer (harness down, NATS away, too late) is a denial. An `approve_run` adds
// the host and port to the run's allowlist here, so later connections do not ask again.
import type { NatsConnection } from '@nats-io/transport-node';
import { EgressAskResultSchema, PROTOCOL_VERSION, decodeReply, encode, subjects } from '@airlock/proto';
import type { EgressAskResult, EgressTarget } from '@airlock/proto';
import { DEFAULT_EGRESS_ASK_WAIT_MS, type Policy } from '@airlock/validate';
import type { LiveRun } from '../live-run.ts';
import type { Logger } from '../logger.ts';
import type { AskUnlisted } from './unlisted.ts';

/** Less than this left to wait is not worth asking: denied at once. */
const MIN_WAIT_MS = 1000;
/** What the runner leaves of the step's time for the answer to arrive and the client to use it. */
const STEP_MARGIN_MS = 2000;
/** How long after its wait the runner still waits for the harness's answer (the expiry is written first). */
const REPLY_GRACE_MS = 10_000;

export interface EgressAskDeps {
  nc: NatsConnection;
  runnerId: string;
  log: Logger;
}

/** The proxy's asker for one run (undefined unless its policy says `network.unlisted: ask`), and its own timeout. */
export function runAsker(run: LiveRun, policy: Policy, deps: EgressAskDeps): { ask: AskUnlisted; timeoutMs: number } | undefined {
  if (policy.network.mode !== 'proxy' || policy.network.unlisted !== 'ask') return undefined;
  const policyWait = policy.network.askWaitMs ?? DEFAULT_EGRESS_ASK_WAIT_MS;
  /** host:port -> the egress hold whose `approve_run` let it through for the rest of the run. */
  const granted = new Map<string, string>();
  const ask: AskUnlisted = async (t: EgressTarget): Promise<EgressAskResult> => {
    const scope = `${t.host}:${t.port}`;
    const standing = granted.get(scope);
    if (standing) return { allowed: true, forRun: true, approval: standing, reason: `approved for the rest of the run (egress ${standing})` };
    const session = run.session;
    if (!session) return { allowed: false, reason: `${scope} is not on the run's network allowlist; only a running step's connections can be held for an operator` };
    const waitMs = Math.floor(Math.min(policyWait, (session.endsAt ?? Number.POSITIVE_INFINITY) - Date.now() - STEP_MARGIN_MS));
    if (waitMs < MIN_WAIT_MS) return { allowed: false, reason: `${scope} is not on the run's network allowlist, and step ${session.step} has too little time left to wait for an operator` };
    try {
      const body = { v: PROTOCOL_VERSION, runId: run.runId, step: session.step, ...t, waitMs };
      const reply = await deps.nc.request(subjects.egressAsk(deps.runnerId), encode(body), { timeout: waitMs + REPLY_GRACE_MS });
      const answer = decodeReply(EgressAskResultSchema, reply.data, 'egress ask');
      if (answer.allowed && answer.forRun && answer.approval) granted.set(scope, answer.approval);
      return answer;
    } catch (err) {
      deps.log.warn({ err, runId: run.runId, step: session.step, target: scope }, 'egress ask got no answer: denied');
      return { allowed: false, reason: `${scope} is not on the run's network allowlist, and the harness could not be asked (${(err as Error).message}): denied (fail closed)` };
    }
  };
  return { ask, timeoutMs: policyWait + REPLY_GRACE_MS + 5000 };
}
