import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import { StepNumberSchema, VersionSchema } from './common.ts';
import { StepResultSchema, VerdictKindSchema } from './exec.ts';
import { ActorSchema, BudgetsSchema, ControlVerbSchema, PauseCauseSchema, TerminationSchema } from './governance.ts';
import { FileStepSummarySchema } from './files.ts';
import { EgressConnectionFields, EgressProxyFields } from './egress.ts';
import { EgressDecidedFields } from './egress-ask.ts';
import { ApprovalGrantSchema, ROLLBACK_PHASES, RollbackDiffSchema } from './controls.ts';

/** Largest payload of one output chunk, in bytes (before base64). */
export const MAX_CHUNK_BYTES = 64 * 1024;

const base = {
  v: VersionSchema,
  /** A run id, or "system" for events not tied to a run (rejected messages). */
  runId: z.string(),
  /** 1..n per run, no gaps: the writer's position in the run's log. */
  seq: z.number().int().min(1),
  /** ISO-8601 time the writer produced the event. */
  ts: z.string(),
  /** Which process wrote it: `harness` or `runner:<id>`. */
  by: z.string(),
  /** sha256 (hex) of the previous event's bytes as stored; 64 zeros for the first event of a run. */
  prev: z.string().regex(/^[0-9a-f]{64}$/),
  /** Whose request the harness wrote this event for (verified role and principal); absent on runner events and older logs. */
  actor: ActorSchema.optional(),
};

/** `prev` of the first event of a run. */
export const GENESIS_HASH = '0'.repeat(64);

export const LogEventSchema = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('run.opened'),
    image: z.string(),
    runnerId: z.string(),
    workspace: z.string(),
    mountPath: z.string(),
    containerId: z.string(),
    user: z.string(),
    /** Hash of the policy pinned to this run: every later verdict must be made under it. */
    policyHash: z.string(),
    /** OCI runtime the sandbox runs under (`runc`, `runsc`); absent in logs written before it was recorded. */
    runtime: z.string().optional(),
    /** Snapshot the workspace started from (fork, import), if any. */
    fromSnapshot: z.string().optional(),
  }),
  z.object({
    ...base,
    type: z.literal('run.closed'),
    reason: z.string(),
    /** false when the runner could not give the workspace back (see `releaseError`); absent from older runners. */
    workspaceReleased: z.boolean().optional(),
    releaseError: z.string().optional(),
    /** Why the run ended (typed); absent in logs written before it was recorded. */
    termination: TerminationSchema.optional(),
  }),
  z.object({
    ...base,
    type: z.literal('run.moved'),
    fromRunner: z.string(),
    toRunner: z.string(),
    /** The snapshot the new sandbox's workspace was restored from. */
    fromSnapshot: z.string(),
    afterStep: z.number().int().min(0),
    containerId: z.string(),
    workspace: z.string(),
    reason: z.string(),
    /** OCI runtime of the new sandbox (as in `run.opened`). */
    runtime: z.string().optional(),
  }),
  z.object({ ...base, type: z.literal('runner.lost'), runnerId: z.string(), reason: z.string() }),
  z.object({ ...base, type: z.literal('step.lost'), step: StepNumberSchema, runnerId: z.string(), reason: z.string() }),
  z.object({
    ...base,
    type: z.literal('step.requested'),
    step: StepNumberSchema,
    cmd: z.string(),
    /** Names of the secrets the step asked for (never values): such a step is not replayed by default. */
    secrets: z.array(z.string()).optional(),
    /** Started as a long-running process (`exec` with `yieldMs`): poll, signal and list see it. */
    yieldMs: z.number().int().nonnegative().optional(),
    /** The cost figure the agent reported with the step (summed into the `cost` budget). */
    cost: z.number().nonnegative().optional(),
  }),
  /** What a file step (read, write, edit, list, stat) did; the content is in the snapshots, not here. */
  z.object({ ...base, type: z.literal('step.file'), step: StepNumberSchema, file: FileStepSummarySchema }),
  z.object({
    ...base,
    type: z.literal('step.verdict'),
    step: StepNumberSchema,
    cmd: z.string(),
    verdict: VerdictKindSchema,
    /** Stable rule id, e.g. `exec.remote_code`; `policy.allow` when nothing matched. */
    rule: z.string(),
    reason: z.string(),
    /** The offending part of `cmd` (string indices). */
    span: z.object({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative() }).optional(),
    policyHash: z.string(),
  }),
  /** An operator approved or rejected a step held by an `ask` verdict. */
  z.object({
    ...base,
    type: z.literal('step.decided'),
    step: StepNumberSchema,
    /** `expired`: nobody decided in time (`decidedBy` is `harness`); a denial. */
    decision: z.enum(['approved', 'rejected', 'expired']),
    /** Who decided (as the operator's client stated it). */
    decidedBy: z.string(),
    note: z.string().optional(),
    /** `approve_run`: the later commands of this run the approval lets through. */
    grant: ApprovalGrantSchema.optional(),
    /** `reject_pause`: the run was paused with the denial. */
    pause: z.boolean().optional(),
  }),
  z.object({ ...base, type: z.literal('step.started'), step: StepNumberSchema, containerId: z.string() }),
  z.object({
    ...base,
    type: z.literal('step.output'),
    step: StepNumberSchema,
    stream: z.enum(['stdout', 'stderr']),
    /** Byte offset of this chunk within its stream of the step. */
    offset: z.number().int().nonnegative(),
    /** The bytes as text, when they are valid UTF-8 (most output); else `data`. Exactly one is set. */
    text: z.string().optional(),
    /** The bytes, base64, when they are not valid UTF-8 (binary, or a character split across chunks). */
    data: z.string().optional(),
  }),
  z.object({ ...base, type: z.literal('step.exited'), step: StepNumberSchema, result: StepResultSchema.omit({ logSeq: true, snapshot: true }) }),
  z.object({
    ...base,
    type: z.literal('snapshot.created'),
    /** The step after which the workspace was captured (0 = as the run opened). */
    step: z.number().int().nonnegative(),
    /** sha256 of the manifest: the snapshot's name. */
    digest: z.string(),
    files: z.number().int().nonnegative(),
    totalBytes: z.number().int().nonnegative(),
    added: z.number().int().nonnegative(),
    modified: z.number().int().nonnegative(),
    deleted: z.number().int().nonnegative(),
    bytesUploaded: z.number().int().nonnegative(),
    durationMs: z.number().nonnegative(),
  }),
  z.object({ ...base, type: z.literal('snapshot.failed'), step: z.number().int().nonnegative(), reason: z.string() }),
  z.object({ ...base, type: z.literal('sandbox.started'), containerId: z.string(), reason: z.string() }),
  z.object({
    ...base,
    type: z.literal('sandbox.died'),
    step: StepNumberSchema.optional(),
    containerId: z.string(),
    exitCode: z.number().int().nullable(),
    oomKilled: z.boolean(),
    reason: z.string(),
  }),
  /** An operator's control on the run (pause, resume, cancel, kill, raise), stored once per request id; `actor` says who. */
  z.object({
    ...base,
    type: z.literal('run.control'),
    verb: ControlVerbSchema,
    requestId: z.string(),
    reason: z.string().optional(),
    budgets: BudgetsSchema.optional(),
    /** `pause --interrupt`: the step that was running gets SIGINT, then SIGTERM after `graceMs`. */
    interrupt: z.object({ step: StepNumberSchema, graceMs: z.number().int().nonnegative() }).optional(),
  }),
  /** The harness paused the run or warned about it: a budget ran out, or a loop was detected (`cause` holds the evidence). */
  z.object({ ...base, type: z.literal('run.governed'), action: z.enum(['pause', 'warn']), cause: PauseCauseSchema, reason: z.string() }),
  /** An operator retried step `step` of this run on a branch run (`branchRunId`) started from the snapshot after the step before. */
  z.object({ ...base, type: z.literal('run.retried'), step: StepNumberSchema, branchRunId: z.string(), fromSnapshot: z.string(), requestId: z.string(), reason: z.string().optional() }),
  /** This run is a branch of `parentRunId`, made to retry its step `step` from the snapshot after the step before. */
  z.object({
    ...base,
    type: z.literal('run.branched'),
    parentRunId: z.string(),
    step: StepNumberSchema,
    fromSnapshot: z.string(),
    requestId: z.string(),
    /** The parent's working directory before step `step` (keepCwd runs), where the branch starts. */
    cwd: z.string().optional(),
    /** The names of the exported variables the branch starts with (keepEnv runs; the values are the parent's). */
    envNames: z.array(z.string()).optional(),
  }),
  /** A rollback job's phase: planned (with the paths it changes), approved or rejected by a second operator, applying, applied to the workspace, or failed. */
  z.object({
    ...base,
    type: z.literal('run.rollback'),
    phase: z.enum(ROLLBACK_PHASES),
    jobId: z.string(),
    toStep: z.number().int().nonnegative(),
    target: z.string(),
    current: z.string(),
    diff: RollbackDiffSchema.optional(),
    requestedBy: ActorSchema,
    approvedBy: ActorSchema.optional(),
    rejectedBy: ActorSchema.optional(),
    appliedBy: ActorSchema.optional(),
    reason: z.string().optional(),
    error: z.string().optional(),
    snapshot: z.string().optional(),
  }),
  /**
   * The harness suspended the idle run: its sandbox is removed and its slot freed; the next step
   * restores the workspace from `snapshot` (the runner then logs `run.moved`).
   */
  z.object({
    ...base,
    type: z.literal('run.suspended'),
    runnerId: z.string(),
    afterStep: z.number().int().min(0),
    snapshot: z.string(),
    /** How long the run had no step. */
    idleMs: z.number().int().nonnegative(),
    reason: z.string(),
    workspaceReleased: z.boolean().optional(),
  }),
  /** A request refused for its caller's role or credential (`actor` when one was established). */
  z.object({ ...base, type: z.literal('access.denied'), subject: z.string(), reason: z.string() }),
  z.object({ ...base, ...EgressConnectionFields }),
  z.object({ ...base, ...EgressProxyFields }),
  z.object({ ...base, ...EgressDecidedFields }),
  z.object({
    ...base,
    type: z.literal('message.rejected'),
    subject: z.string(),
    code: z.string(),
    message: z.string(),
    bytes: z.number().int().nonnegative(),
  }),
]);
export type LogEvent = z.infer<typeof LogEventSchema>;
export type LogEventType = LogEvent['type'];

/** An event before the log writer stamps it with `v`, `seq`, `ts`, `by`. */
export type LogEventInput = LogEvent extends infer E ? (E extends LogEvent ? Omit<E, 'v' | 'seq' | 'ts' | 'by' | 'runId' | 'prev'> : never) : never;

type StepOutputEvent = Extract<LogEvent, { type: 'step.output' }>;

/** The fields that carry a chunk of output: UTF-8 text when it is valid UTF-8 (a third fewer bytes than base64), else base64. */
export function outputFields(bytes: Buffer): { text: string } | { data: string } {
  return isUtf8(bytes) ? { text: bytes.toString('utf8') } : { data: bytes.toString('base64') };
}

/** The exact bytes of a `step.output` event. */
export function outputBytes(e: Pick<StepOutputEvent, 'text' | 'data'>): Buffer {
  return e.text !== undefined ? Buffer.from(e.text, 'utf8') : Buffer.from(e.data ?? '', 'base64');
}
