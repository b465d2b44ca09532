export { PROTOCOL_VERSION } from './version.ts';
export { subjects, names, runnerInboxPrefix, RUN_ID_PATTERN, RUNNER_ID_PATTERN } from './subjects.ts';
export { errorCodes, ErrorCodeSchema, WireErrorSchema, AirlockError, toWireError } from './errors.ts';
export type { ErrorCode, WireError } from './errors.ts';
export { encode, decode, decodeReply } from './codec.ts';
export { canonicalJson, sha256Hex } from './canonical.ts';
export { VersionSchema, RunIdSchema, RunnerIdSchema, StepNumberSchema, EnvSchema, replySchema } from './messages/common.ts';
export type { Reply } from './messages/common.ts';
export {
  SandboxLimitsSchema,
  SandboxRuntimeSchema,
  RunnerOpenRequestSchema,
  RunnerOpenResultSchema,
  RunnerCloseRequestSchema,
  RunnerCloseResultSchema,
  RunStatusSchema,
  RunRecordSchema,
  RunnerHeartbeatSchema,
  RunnerKeysSchema,
} from './messages/run.ts';
export type {
  SandboxLimits,
  SandboxRuntime,
  RunnerOpenRequest,
  RunnerOpenResult,
  RunnerCloseRequest,
  RunnerCloseResult,
  RunStatus,
  RunRecord,
  RunnerHeartbeat,
  RunnerKeys,
} from './messages/run.ts';
export { MAX_COMMAND_BYTES, ReplySignatureSchema, RunnerExecRequestSchema, SealedSecretsSchema, StepResultSchema, VerdictKindSchema } from './messages/exec.ts';
export type { RunnerExecRequest, SealedSecrets, StepResult, VerdictKind } from './messages/exec.ts';
export { MAX_CHUNK_BYTES, GENESIS_HASH, LogEventSchema, outputBytes, outputFields } from './messages/log.ts';
export { LogChain, logTail } from './log-chain.ts';
export type { LastMessageReader } from './log-chain.ts';
export type { LogEvent, LogEventType, LogEventInput } from './messages/log.ts';
export {
  ApiOpenRequestSchema,
  ApiOpenResultSchema,
  ApiExecRequestSchema,
  ApiCloseRequestSchema,
  ApiPsRequestSchema,
  ApiPsResultSchema,
  ApiStatusResultSchema,
  ApiBundleRequestSchema,
  ApiBundleResultSchema,
  ApprovalSchema,
  ApiApprovalsRequestSchema,
  ApiApprovalsResultSchema,
  ApiDecideRequestSchema,
} from './messages/api.ts';
export type { ApiOpenRequest, ApiExecRequest, ApiCloseRequest, ApiPsRequest, ApiPsResult, ApiStatusResult, ApiBundleResult, Approval, ApiApprovalsRequest, ApiApprovalsResult, ApiDecideRequest } from './messages/api.ts';
export {
  ROLES,
  RoleSchema,
  ActorSchema,
  BudgetsSchema,
  BUDGET_NAMES,
  LOOP_DETECTORS,
  GovernActionSchema,
  GovernancePolicySchema,
  CONTROL_VERBS,
  ControlVerbSchema,
  TERMINATIONS,
  TerminationSchema,
  PauseCauseSchema,
  ApiControlRequestSchema,
  ApiRunStateRequestSchema,
  RunStateSchema,
  DurationSchema,
  durationMs,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_MAX_IDLE,
  DEFAULT_SUSPEND_WHEN_FULL,
  SuspendedSchema,
  CloseOutcomeSchema,
} from './messages/governance.ts';
export type { Role, Actor, Budgets, BudgetName, LoopDetector, GovernAction, GovernancePolicy, ControlVerb, Termination, PauseCause, ApiControlRequest, ApiRunStateRequest, RunState, Suspended, CloseOutcome } from './messages/governance.ts';
export { DEFAULT_INTERRUPT_GRACE_MS, DEFAULT_APPROVAL_EXPIRY_MS, APPROVAL_DECISIONS, ApprovalDecisionSchema, ApprovalChoiceSchema, ApprovalGrantSchema, ApiRetryRequestSchema, ApiRetryResultSchema, rollbackText, RunnerRollbackRequestSchema, RunnerRollbackResultSchema, RollbackDiffSchema, RollbackJobSchema, ApiRollbackRequestSchema, ROLLBACK_PHASES } from './messages/controls.ts';
export type { ApprovalDecision, ApprovalChoice, ApprovalGrant, ApiRetryRequest, ApiRetryResult, RunnerRollbackRequest, RunnerRollbackResult, RollbackDiff, RollbackJob, ApiRollbackRequest } from './messages/controls.ts';
export { HARNESS_HEARTBEAT_MS, HarnessHeartbeatSchema } from './messages/harness.ts';
export { MAX_DIFF_PATCH_BYTES, MAX_DIFF_PATHS, ApiDiffRequestSchema, ApiDiffResultSchema, DiffChangeSchema, DiffPatchSchema } from './messages/snapshots.ts';
export type { ApiDiffRequest, ApiDiffResult, DiffChange, DiffPatch } from './messages/snapshots.ts';
export type { HarnessHeartbeat } from './messages/harness.ts';
export { SERVICE_NODE_FLAGS } from './node-flags.ts';
export { jwtLoginOf } from './nats-login.ts';
export { LOG_GRANT_SEAL_STEP, LogGrantRequestSchema, LogGrantResultSchema } from './messages/grants.ts';
export type { LogGrantRequest, LogGrantResult } from './messages/grants.ts';
export { ApiReaderRequestSchema, ApiReaderResultSchema } from './messages/readers.ts';
export type { ApiReaderRequest, ApiReaderResult } from './messages/readers.ts';
export { ApiSessionRequestSchema, ApiSessionResultSchema } from './messages/sessions.ts';
export type { ApiSessionRequest, ApiSessionResult } from './messages/sessions.ts';
export { ApiSnapshotReadRequestSchema, ApiSnapshotReadResultSchema, SNAPSHOT_READ_CHUNK_BYTES } from './messages/snapshot-reads.ts';
export type { ApiSnapshotReadRequest, ApiSnapshotReadResult } from './messages/snapshot-reads.ts';
export type { NatsJwtLogin } from './nats-login.ts';
export {
  DEFAULT_READ_BYTES,
  MAX_READ_BYTES,
  MAX_WRITE_BYTES,
  MAX_LIST_ENTRIES,
  FilePathSchema,
  FileOpSchema,
  ApiFileRequestSchema,
  FileEntrySchema,
  FileResultSchema,
  RunnerFileRequestSchema,
  FileStepSummarySchema,
  fileOpText,
} from './messages/files.ts';
export type { FileOp, FileOpName, ApiFileRequest, FileEntry, FileResult, RunnerFileRequest, FileStepSummary } from './messages/files.ts';
export {
  DEFAULT_POLL_BYTES,
  MAX_POLL_BYTES,
  ProcessSignalSchema,
  ProcessStatusSchema,
  ProcessChunkSchema,
  ProcessStateSchema,
  ApiPollRequestSchema,
  ApiSignalRequestSchema,
  ApiSignalResultSchema,
  ApiProcessesRequestSchema,
  ProcessInfoSchema,
  ApiProcessesResultSchema,
  RunnerSignalRequestSchema,
  RunnerSignalResultSchema,
  signalText,
} from './messages/processes.ts';
export type {
  ProcessSignal,
  ProcessStatus,
  ProcessChunk,
  ProcessState,
  ApiPollRequest,
  ApiSignalRequest,
  ApiSignalResult,
  ApiProcessesRequest,
  ProcessInfo,
  ApiProcessesResult,
  RunnerSignalRequest,
  RunnerSignalResult,
} from './messages/processes.ts';
export { MAX_WAIT_MS, MAX_SESSION_VARS, MAX_SESSION_ENV_BYTES, CwdSchema, SessionEnvSchema } from './messages/session.ts';
export { EgressAskRequestSchema, EgressAskResultSchema, EgressHoldSchema, EgressTargetSchema, egressApprovalId } from './messages/egress-ask.ts';
export type { EgressAskRequest, EgressAskResult, EgressHold, EgressTarget } from './messages/egress-ask.ts';
