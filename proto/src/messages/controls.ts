// Operators' controls beyond pause/resume/cancel/kill/raise (issue 14): interrupting the running
// step, scoped and expiring approvals, retrying a step on a branch, rollback as a two-person job.
import { z } from 'zod';
import { RunIdSchema, StepNumberSchema, VersionSchema } from './common.ts';
import { StepResultSchema } from './exec.ts';

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
