/**
 * @airlock/client — the TypeScript SDK of Airlock: open sandboxed runs, run commands in them
 * (validated, snapshotted, logged), stream their output and read the durable run log, over NATS.
 */
export { Airlock } from './airlock.ts';
export type { ConnectOptions, NatsHandles } from './connection.ts';
export { Run } from './run.ts';
export type { ExecOptions, OpenOptions, RunSnapshot } from './run.ts';
export { Process } from './process.ts';
export type { StepOptions } from './process.ts';
export type { ExecResult } from './output.ts';
export { DEFAULT_MAX_OUTPUT_BYTES } from './output.ts';
export type { ReadLogOptions } from './log.ts';
export { RunFiles } from './files.ts';
export type { FileCallOptions } from './files.ts';
export type { PollOptions, StartOptions } from './processes.ts';
export { ApprovalRequiredError, HarnessLostError, PolicyDeniedError, RunnerLostError } from './errors.ts';
export { withRetry } from './retry.ts';
export type { RetryOptions } from './retry.ts';
export { AirlockError, errorCodes } from '@airlock/proto';
export type { RunState, Budgets, ControlVerb, Role, Actor, Termination } from '@airlock/proto';
export type { ErrorCode, LogEvent, RunRecord, StepResult, Approval, ApiStatusResult, ApiPsResult, ApiApprovalsResult, FileResult, FileEntry, ProcessState, ProcessInfo, ProcessSignal, ApiDiffResult, DiffChange, DiffPatch } from '@airlock/proto';
export { claimedRole } from './session.ts';
