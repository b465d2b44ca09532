import { z } from 'zod';
import { ApprovalChoiceSchema, ApprovalDecisionSchema, ApprovalGrantSchema } from './controls.ts';
import { EnvSchema, RunIdSchema, StepNumberSchema, VersionSchema } from './common.ts';
import { ReplayOfSchema, RunRecordSchema } from './run.ts';
import { BudgetsSchema, CloseOutcomeSchema, StepCostSchema } from './governance.ts';
import { ExecSessionFields } from './session.ts';
import { EgressHoldSchema } from './egress-ask.ts';

/** CLI/SDK -> harness: open a run. */
export const ApiOpenRequestSchema = z.object({
  v: VersionSchema,
  image: z.string().min(1).max(256).optional(),
  workspace: z.string().startsWith('/', 'workspace must be an absolute path').optional(),
  mountPath: z.string().regex(/^\/[A-Za-z0-9._/-]*$/).optional(),
  env: EnvSchema.optional(),
  /** Start the workspace from this snapshot (fork, import). */
  fromSnapshot: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /**
   * The run whose snapshot `fromSnapshot` is. An agent must name it (one of its own runs, whose log
   * names that snapshot): an agent may start only from its own runs' workspaces.
   */
  fromRun: RunIdSchema.optional(),
  /** This run replays another; recorded in the run's record, with any accepted policy change. */
  replayOf: ReplayOfSchema.optional(),
  /** Budgets of this run over the policy's (`governance.budgets`). */
  budgets: BudgetsSchema.optional(),
  /** Every step starts where the previous one ended (`cd` persists), unless an exec says otherwise. */
  keepCwd: z.boolean().optional(),
  /** Variables a step exports carry over to the next steps, unless an exec says otherwise. */
  keepEnv: z.boolean().optional(),
});
export type ApiOpenRequest = z.infer<typeof ApiOpenRequestSchema>;

export const ApiOpenResultSchema = RunRecordSchema;

/** CLI/SDK -> harness: run one command as the next step of a run. */
export const ApiExecRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  cmd: z.string().min(1),
  env: EnvSchema.optional(),
  timeoutMs: z.number().int().positive().optional(),
  ...ExecSessionFields,
  /** What producing this step cost the agent (its own figure, e.g. model tokens or cents), summed into the run's `cost` budget. */
  cost: StepCostSchema.optional(),
});
export type ApiExecRequest = z.infer<typeof ApiExecRequestSchema>;

export const ApiCloseRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  /** How the agent's task ended (termination `succeeded` or `failed`); default succeeded. */
  outcome: CloseOutcomeSchema.optional(),
});
export type ApiCloseRequest = z.infer<typeof ApiCloseRequestSchema>;

export const ApiPsRequestSchema = z.object({ v: VersionSchema, all: z.boolean().optional() });
export type ApiPsRequest = z.infer<typeof ApiPsRequestSchema>;

export const ApiPsResultSchema = z.object({ runs: z.array(RunRecordSchema) });
export type ApiPsResult = z.infer<typeof ApiPsResultSchema>;

export const ApiStatusResultSchema = z.object({
  harness: z.object({ pid: z.number(), startedAt: z.string(), version: z.string(), policy: z.string(), policyHash: z.string(), keyId: z.string(), snapshotsKeepLast: z.number().int() }),
  runners: z.array(z.object({ runnerId: z.string(), slots: z.number(), used: z.number(), seenAt: z.string() })),
});
export type ApiStatusResult = z.infer<typeof ApiStatusResultSchema>;

/** CLI -> harness: build and sign a proof bundle of a run; it lands in the bundles object store. */
export const ApiBundleRequestSchema = z.object({ v: VersionSchema, runId: RunIdSchema });
export const ApiBundleResultSchema = z.object({ runId: RunIdSchema, object: z.string(), bytes: z.number().int(), events: z.number().int(), keyId: z.string() });
export type ApiBundleResult = z.infer<typeof ApiBundleResultSchema>;

/**
 * A step held by an `ask` verdict. An approval lets the same command (same SHA-256) run once in the
 * same run: the next `exec` of it is allowed and marks the approval `used`. Rejected ones stay as a record.
 */
export const ApprovalSchema = z.object({
  runId: RunIdSchema,
  step: StepNumberSchema,
  /** The command as held (secrets redacted). */
  cmd: z.string(),
  cmdSha256: z.string(),
  rule: z.string(),
  reason: z.string(),
  requestedAt: z.string(),
  /** `expired`: nobody decided before `expiresAt` (a denial), or the run closed while the step was held or before an approval was used. */
  status: z.enum(['pending', 'approved', 'rejected', 'used', 'expired']),
  decidedBy: z.string().optional(),
  decidedAt: z.string().optional(),
  note: z.string().optional(),
  /** The step that ran under this approval. */
  usedByStep: StepNumberSchema.optional(),
  /** Who asked for the held step: nobody approves their own request. */
  requestedBy: z.string().optional(),
  /** What the decision may be (absent on records held before scopes). */
  choices: z.array(ApprovalChoiceSchema).optional(),
  /** A pending request not decided by then is a denial (`expired`). */
  expiresAt: z.string().optional(),
  /** The decision as made (`approve_run`, `reject_pause` say more than `status`). */
  decision: ApprovalDecisionSchema.optional(),
  /** `approve_run`: what later commands of this run it lets through. */
  grant: ApprovalGrantSchema.optional(),
  /** A held egress connection (policy `network.unlisted: ask`) during step `step`, not a command; its id is `<step>.<hold>`. */
  egress: EgressHoldSchema.optional(),
});
export type Approval = z.infer<typeof ApprovalSchema>;

export const ApiApprovalsRequestSchema = z.object({ v: VersionSchema, runId: RunIdSchema.optional(), all: z.boolean().optional() });
export type ApiApprovalsRequest = z.infer<typeof ApiApprovalsRequestSchema>;
export const ApiApprovalsResultSchema = z.object({ approvals: z.array(ApprovalSchema) });
export type ApiApprovalsResult = z.infer<typeof ApiApprovalsResultSchema>;

export const ApiDecideRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  step: StepNumberSchema,
  decision: ApprovalDecisionSchema,
  /** An egress hold of step `step` (its id `<step>.<hold>`), not the held command of that step. */
  hold: z.number().int().min(1).optional(),
  by: z.string().min(1).max(200),
  note: z.string().max(2000).optional(),
});
export type ApiDecideRequest = z.infer<typeof ApiDecideRequestSchema>;
