// Operators' controls beyond pause/resume/cancel/kill/raise (issue 14): interrupting the running
// step, scoped and expiring approvals, retrying a step on a branch, rollback as a two-person job.
import { z } from 'zod';
import { RunIdSchema, StepNumberSchema, VersionSchema } from './common.ts';
import { StepResultSchema } from './exec.ts';
import { ActorSchema } from './governance.ts';

/** How long an interrupted step has between SIGINT and SIGTERM, unless the request says. */
export const DEFAULT_INTERRUPT_GRACE_MS = 10_000;

/** How long a held request waits for a decision unless the policy says (24 h); then it is a denial. */
export const DEFAULT_APPROVAL_EXPIRY_MS = 24 * 3600 * 1000;

/**
 * What an operator may decide on a held request: `approve` (this exact command, once),
 * `approve_run` (for the rest of this run: commands the same rule holds that start with the same
 * prefix, shown in the choice's label), `reject` (deny), `reject_pause` (deny and pause the run).
 */
export const APPROVAL_DECISIONS = ['approve', 'approve_run', 'reject', 'reject_pause'] as const;
export const ApprovalDecisionSchema = z.enum(APPROVAL_DECISIONS);
export type ApprovalDecision = z.infer<typeof ApprovalDecisionSchema>;

/** One decision a held request offers, with what it means in words (what `approvals` shows). */
export const ApprovalChoiceSchema = z.object({ decision: ApprovalDecisionSchema, label: z.string() });
export type ApprovalChoice = z.infer<typeof ApprovalChoiceSchema>;

/** An `approve_run` grant: later commands held by `rule` that start with `prefix` (a simple command, no operators) pass. */
export const ApprovalGrantSchema = z.object({ rule: z.string(), prefix: z.string().min(1) });
export type ApprovalGrant = z.infer<typeof ApprovalGrantSchema>;

/** An idempotency key chosen by the caller: the same request again gets the same answer. */
const RequestIdSchema = z.string().regex(/^[A-Za-z0-9_.:-]{8,128}$/);

/**
 * CLI/SDK -> harness (operators): retry step `step` of a run on a new branch run whose workspace is
 * the snapshot after step `step - 1`; the step's command is validated again under the policy the
 * harness enforces now.
 */
export const ApiRetryRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  step: StepNumberSchema,
  requestId: RequestIdSchema,
  reason: z.string().max(2000).optional(),
});
export type ApiRetryRequest = z.infer<typeof ApiRetryRequestSchema>;

/** The branch a retry opened, and how its re-run step went (a result, or the refusal). */
export const ApiRetryResultSchema = z.object({
  parentRunId: RunIdSchema,
  runId: RunIdSchema,
  step: StepNumberSchema,
  fromSnapshot: z.string(),
  cmd: z.string(),
  /** The re-run step's result (step 1 of the branch), when it ran. */
  result: StepResultSchema.optional(),
  /** Why it did not run: `validation_denied`, `validation_ask`, ... with the harness's message. */
  refused: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type ApiRetryResult = z.infer<typeof ApiRetryResultSchema>;

/** The text a rollback's job token is bound to: only the harness can order one, for this snapshot. */
export function rollbackText(digest: string): string {
  return `airlock:rollback ${digest}`;
}

const DigestSchema = z.string().regex(/^[0-9a-f]{64}$/);

/**
 * Harness -> the runner holding the run: put the workspace back to snapshot `digest` (its sandbox is
 * replaced, so nothing of the agent's keeps running), then snapshot it as after step `step`.
 */
export const RunnerRollbackRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  step: StepNumberSchema,
  digest: DigestSchema,
  policyHash: DigestSchema,
  token: z.string().max(4096),
});
export type RunnerRollbackRequest = z.infer<typeof RunnerRollbackRequestSchema>;

export const RunnerRollbackResultSchema = z.object({
  runId: RunIdSchema,
  step: StepNumberSchema,
  /** The workspace's snapshot after the rollback (the same tree as the target). */
  snapshot: z.string(),
  containerId: z.string(),
});
export type RunnerRollbackResult = z.infer<typeof RunnerRollbackResultSchema>;

/** The paths a rollback changes (capped lists; counts are exact). */
export const RollbackDiffSchema = z.object({
  added: z.array(z.string()),
  modified: z.array(z.string()),
  deleted: z.array(z.string()),
  counts: z.object({ added: z.number().int(), modified: z.number().int(), deleted: z.number().int() }),
});
export type RollbackDiff = z.infer<typeof RollbackDiffSchema>;

/**
 * A rollback job's phases, each a stored event: `planned` (the request, with its diff), `approved` or
 * `rejected` by a second operator, `applying` (an operator asked for an approved job to be applied;
 * an approval that applies at once is itself that ask), then the result: `applied` or `failed`.
 */
export const ROLLBACK_PHASES = ['planned', 'approved', 'rejected', 'applying', 'applied', 'failed'] as const;

/** A rollback job as the run's log folds it: planned by one operator, approved (and applied) by another. */
export const RollbackJobSchema = z.object({
  jobId: z.string(),
  runId: RunIdSchema,
  toStep: z.number().int().nonnegative(),
  status: z.enum(ROLLBACK_PHASES),
  /** The snapshot the workspace goes back to, and the one it is in at the plan. */
  target: z.string(),
  current: z.string(),
  /** What applying does to the workspace (from `current` to `target`): the run's changes since `toStep`, undone. */
  diff: RollbackDiffSchema,
  /** Unified diffs of text files (what `plan` shows; not stored in the log). */
  patches: z.array(z.object({ path: z.string(), kind: z.string(), patch: z.string().optional() })).optional(),
  requestedBy: ActorSchema,
  approvedBy: ActorSchema.optional(),
  /** The second operator who rejected it (a rejected job never changes the workspace). */
  rejectedBy: ActorSchema.optional(),
  /** The operator who asked for an approved job to be applied (separately from the approval). */
  appliedBy: ActorSchema.optional(),
  reason: z.string().optional(),
  error: z.string().optional(),
  /** The workspace's snapshot after the rollback. */
  snapshot: z.string().optional(),
});
export type RollbackJob = z.infer<typeof RollbackJobSchema>;

/**
 * CLI/SDK -> harness (operators): plan a rollback; approve it (a second operator; applied at once
 * unless `apply` is false); reject it; apply an approved one; or show one.
 */
export const ApiRollbackRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  action: z.enum(['plan', 'approve', 'reject', 'apply', 'show']),
  /** `plan`: the step whose snapshot the workspace goes back to (0 = as the run opened). */
  toStep: z.number().int().nonnegative().optional(),
  /** `approve`, `reject`, `apply`, `show`: the job. */
  jobId: z.string().regex(/^rb-[A-Za-z0-9-]{8,64}$/).optional(),
  /** `approve`: apply at once (absent: true); false leaves the job approved for a separate `apply`. */
  apply: z.boolean().optional(),
  reason: z.string().max(2000).optional(),
});
export type ApiRollbackRequest = z.infer<typeof ApiRollbackRequestSchema>;
