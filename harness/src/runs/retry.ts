// `retry RUN --step N` (issue 14): a new branch of the run whose workspace is the snapshot after step
// N-1, with the working directory and kept variables the parent had before step N (retry-session.ts),
// re-running step N's command. The branch is an ordinary run (opened from a snapshot, like a
// fork), pinned to the policy the harness enforces now, so the command is validated again. Parent
// and branch name each other in their logs (`run.retried`, `run.branched`), both with the operator.
import { AirlockError, PROTOCOL_VERSION } from '@airlock/proto';
import type { ApiRetryRequest, ApiRetryResult, LogEvent, StepResult } from '@airlock/proto';
import { actorOf, type ApiCaller } from '../governance/callers.ts';
import type { RunLogs } from '../run-logs.ts';
import type { RunLifecycle } from './lifecycle.ts';
import type { RunRecords } from './records.ts';
import { carrySession, sessionBefore } from './retry-session.ts';
import type { StepDispatcher } from './steps.ts';

/** What a retry needs of a parent's log: the step's command and the snapshot before it. */
export interface RetryPoint {
  cmd: string;
  fromSnapshot: string;
}

/**
 * Finds step `step`'s command and the snapshot after step `step - 1` (0 = as the run opened) in a
 * parent's checked log. Throws `bad_request` for a step that is not a command the run asked for.
 */
export function retryPoint(events: readonly LogEvent[], runId: string, step: number): RetryPoint {
  let cmd: string | undefined;
  let file = false;
  let fromSnapshot: string | undefined;
  for (const e of events) {
    if (e.type === 'step.requested' && e.step === step) cmd = e.cmd;
    if (e.type === 'step.file' && e.step === step) file = true;
    // The last one wins: a run that moved logged its restored snapshot again.
    if (e.type === 'snapshot.created' && e.step === step - 1) fromSnapshot = e.digest;
  }
  if (file || cmd === undefined) throw new AirlockError('bad_request', `run ${runId} has no command step ${step}${file ? ' (it is a file step; retry re-runs commands)' : ''}`);
  if (!fromSnapshot) throw new AirlockError('invalid_state', `run ${runId} has no snapshot after step ${step - 1} to start the branch from`);
  return { cmd, fromSnapshot };
}

/** The branch an earlier retry with this request id opened, if any (idempotency, from the parent's log). */
function earlier(events: readonly LogEvent[], requestId: string): Extract<LogEvent, { type: 'run.retried' }> | undefined {
  return events.find((e): e is Extract<LogEvent, { type: 'run.retried' }> => e.type === 'run.retried' && e.requestId === requestId);
}

/** Opens retry branches. */
export class RunRetrier {
  readonly #records: RunRecords;
  readonly #logs: RunLogs;
  readonly #lifecycle: RunLifecycle;
  readonly #steps: StepDispatcher;

  constructor(deps: { records: RunRecords; logs: RunLogs; lifecycle: RunLifecycle; steps: StepDispatcher }) {
    this.#records = deps.records;
    this.#logs = deps.logs;
    this.#lifecycle = deps.lifecycle;
    this.#steps = deps.steps;
  }

  /**
   * Opens the branch, links it to its parent in both logs, and runs the step's command as the
   * branch's step 1. The same request id again answers with the same branch (and runs nothing).
   */
  async retry(req: ApiRetryRequest, caller: ApiCaller): Promise<ApiRetryResult> {
    const { record } = await this.#records.get(req.runId, { fresh: true });
    const events = (await this.#logs.checked(req.runId, record.runnerId)).filter((c) => !c.forged).map((c) => c.event);
    const point = retryPoint(events, req.runId, req.step);
    const before = earlier(events, req.requestId);
    if (before) {
      if (before.step !== req.step) throw new AirlockError('invalid_state', `request id ${req.requestId} already retried step ${before.step}; use a new one`);
      return { parentRunId: req.runId, runId: before.branchRunId as ApiRetryResult['runId'], step: req.step, fromSnapshot: before.fromSnapshot, cmd: point.cmd };
    }
    const branch = await this.#lifecycle.open(
      {
        v: PROTOCOL_VERSION,
        image: record.image,
        mountPath: record.mountPath,
        fromSnapshot: point.fromSnapshot,
        ...(Object.keys(record.env).length > 0 ? { env: record.env } : {}),
        ...(record.budgets ? { budgets: record.budgets } : {}),
        ...(record.keepCwd ? { keepCwd: true } : {}),
        ...(record.keepEnv ? { keepEnv: true } : {}),
      },
      caller,
    );
    // Where the parent's step started (cwd, exported variables), not only what its workspace held.
    const session = sessionBefore(events, req.step);
    await carrySession(this.#records, branch.runId, session);
    const envNames = Object.keys(session.env);
    const actor = actorOf(caller);
    const link = { step: req.step, fromSnapshot: point.fromSnapshot, requestId: req.requestId };
    await this.#logs.writer(branch.runId).append({ type: 'run.branched', parentRunId: req.runId, ...link, ...(session.cwd ? { cwd: session.cwd } : {}), ...(envNames.length > 0 ? { envNames } : {}), actor });
    await this.#logs.writer(req.runId).append({ type: 'run.retried', branchRunId: branch.runId, ...link, ...(req.reason ? { reason: req.reason } : {}), actor });
    const out: ApiRetryResult = { parentRunId: req.runId, runId: branch.runId, step: req.step, fromSnapshot: point.fromSnapshot, cmd: point.cmd };
    let result: StepResult;
    try {
      result = await this.#steps.exec({ v: PROTOCOL_VERSION, runId: branch.runId, cmd: point.cmd }, caller);
    } catch (err) {
      if (err instanceof AirlockError) return { ...out, refused: { code: err.code, message: err.message } };
      throw err;
    }
    return { ...out, result };
  }
}
