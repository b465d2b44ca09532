// What the file and process handlers need from the harness: numbered, logged, validated steps sent
// to the runner that holds the run. Made of the harness's rooms (`createDesk`), handed to the handlers.
import type { KeyObject } from 'node:crypto';
import { AirlockError } from '@airlock/proto';
import type { LogEvent, RunRecord } from '@airlock/proto';
import type { RunLog } from '../run-logs.ts';
import type { NatsHandles } from '@airlock/transport';
import { newJobClaims, signJob, type Redactor } from '@airlock/trust';
import type { Policy } from '@airlock/validate';
import type { z } from 'zod';
import type { HarnessContext } from '../context.ts';
import type { PolicyGate } from '../policy/gate.ts';
import { askRunner } from '../routing/ask.ts';
import type { RunnerKeyStore } from '../routing/runner-keys.ts';
import type { RunLogs } from '../run-logs.ts';
import type { RunRecords } from '../runs/records.ts';
import type { StepDispatcher } from '../runs/steps.ts';
import type { GivenVerdict } from '../policy/gate.ts';


export interface StepDesk {
  readonly nats: NatsHandles;
  /** The policy new runs are pinned to, and its hash (a run pinned to another is refused). */
  readonly policy: Policy;
  readonly policyHash: string;
  /** Numbers the next step of an open run (compare-and-set on its record). */
  nextStep(runId: string): Promise<{ record: RunRecord; step: number }>;
  /** A run's record (`fresh`: read from the bucket, not the cache). */
  record(runId: string, fresh?: boolean): Promise<RunRecord>;
  /** Changes a run's record (compare-and-set, retried); `change` returns null to leave it. */
  updateRecord(runId: string, change: (r: RunRecord) => RunRecord | null): Promise<void>;
  /** The harness's writer of a run's log. */
  log(runId: string): RunLog;
  /** Redacts every secret the harness holds. */
  redact(text: string): string;
  /**
   * Records the verdict on a step's text (log, audit index) and throws unless it is `allow`: `ask`
   * is held for an operator (an approved identical text passes once), `deny` refused.
   */
  decide(runId: string, step: number, text: string, pinnedHash: string, mountPath: string, given: GivenVerdict): Promise<{ approved?: { step: number; by: string } | undefined }>;
  /** A job token for `text` as step `step` of the run. */
  token(runId: string, step: number, policyHash: string, text: string, approved?: { step: number; by: string }): string;
  /**
   * Sends a request to the runner holding the run and returns its reply, checked against the runner's
   * signature (`kind`). With `waits`, a lost runner fails the wait at once (`runner_lost`).
   */
  askRunner<S extends z.ZodType>(o: { record: RunRecord; step: number; subject: string; body: unknown; schema: S; timeoutMs: number; kind: 'file' | 'signal'; waits: boolean }): Promise<z.infer<S>>;
  /** The run's log, only events whose writer is proven (forged ones dropped). */
  checkedLog(runId: string): Promise<LogEvent[]>;
  /** Keeps a background task until it settles (its failure is logged). */
  track(p: Promise<unknown>): void;
}

/** The rooms the desk is made of (see service.ts). */
export interface DeskDeps {
  ctx: HarnessContext;
  records: RunRecords;
  logs: RunLogs;
  gate: PolicyGate;
  steps: StepDispatcher;
  runnerKeys: RunnerKeyStore;
  redactor: Redactor;
  key: KeyObject;
}

/** The desk over the harness's rooms. */
export function createDesk(d: DeskDeps): StepDesk {
  return {
    nats: d.ctx.nats,
    policy: d.gate.validator.policy,
    policyHash: d.gate.validator.policyHash,
    nextStep: (runId) => d.steps.number(runId),
    record: async (runId, fresh) => (await d.records.get(runId, { fresh: fresh ?? false })).record,
    updateRecord: async (runId, change) => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const { record, revision } = await d.records.get(runId, { fresh: attempt > 0 });
        const next = change(record);
        if (!next) return;
        try {
          await d.records.save(next, revision);
          return;
        } catch {
          d.records.forget(runId);
        }
      }
      d.ctx.log.warn({ runId }, 'could not update a run record after 5 attempts');
    },
    log: (runId) => d.logs.writer(runId),
    redact: (text) => d.redactor.redactString(text),
    decide: (runId, step, text, pinned, mountPath, given) => d.gate.check(runId, step, text, pinned, mountPath, given),
    token: (runId, step, policyHash, text, approved) => signJob(newJobClaims({ runId, step, policyHash, cmd: text, ...(approved ? { approved } : {}) }), d.key),
    askRunner: async (o) => {
      const abort = new AbortController();
      const release = o.waits ? d.steps.hold(o.record.runId, { runnerId: o.record.runnerId, step: o.step, abort }) : () => undefined;
      try {
        return await askRunner(d.ctx.nats.nc, o.subject, o.body, o.schema, o.timeoutMs, {
          signal: abort.signal,
          verify: (raw) => d.runnerKeys.verify(o.kind, o.record.runnerId, o.record.runId, o.step, raw),
        });
      } catch (err) {
        if (err instanceof AirlockError && err.code === 'no_runner') throw new AirlockError('runner_lost', `runner ${o.record.runnerId} that holds run ${o.record.runId} is not answering`, { cause: err });
        throw err;
      } finally {
        release();
      }
    },
    checkedLog: async (runId) => {
      const { record } = await d.records.get(runId, { fresh: true });
      return (await d.logs.checked(runId, record.runnerId)).filter((c) => !c.forged).map((c) => c.event);
    },
    track: (p) => d.ctx.track(p),
  };
}
