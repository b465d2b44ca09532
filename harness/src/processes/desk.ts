// What the file and process handlers need from the harness service: numbered, logged, validated
// steps sent to the runner that holds the run. The service implements it (`HarnessService.desk`).
import type { LogEvent, RunRecord } from '@airlock/proto';
import type { RunLogWriter } from '@airlock/ledger';
import type { NatsHandles } from '@airlock/transport';
import type { Policy } from '@airlock/validate';
import type { z } from 'zod';

/** A verdict reached outside the bash validation chain (the file policy). */
export interface GivenVerdict {
  verdict: 'allow' | 'ask' | 'deny';
  rule: string;
  reason: string;
}

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
  log(runId: string): RunLogWriter;
  /** Redacts every secret the harness holds. */
  redact(text: string): string;
  /**
   * Records the verdict on a step's text (log, audit index) and throws unless it is `allow`: `ask`
   * is held for an operator (an approved identical text passes once), `deny` refused.
   */
  decide(runId: string, step: number, text: string, pinnedHash: string, mountPath: string, given: GivenVerdict): Promise<{ approved?: { step: number; by: string } }>;
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
