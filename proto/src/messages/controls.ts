// Operators' controls beyond pause/resume/cancel/kill/raise (issue 14): interrupting the running
// step, scoped and expiring approvals, retrying a step on a branch, rollback as a two-person job.
import { z } from 'zod';

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
