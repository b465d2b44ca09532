import { z } from 'zod';
import { RunIdSchema, StepNumberSchema, VersionSchema } from './common.ts';

/**
 * Who may do what (issue 14). `agent`: open its runs, run steps in them, read them. `operator`:
 * everything on runs (approve, reject, pause, resume, cancel, kill, raise budgets). `reviewer`:
 * read-only (audit, logs, bundles, snapshots, approvals). `admin`: policy, runners, keys, and what
 * an operator may do.
 */
export const ROLES = ['agent', 'operator', 'reviewer', 'admin'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

/** Who made a request, as the harness established it (a verified credential, or `open` mode's stated name). */
export const ActorSchema = z.object({ principal: z.string().min(1).max(200), role: RoleSchema });
export type Actor = z.infer<typeof ActorSchema>;

/** Limits of one run's loop; every field optional (absent = unlimited). Checked before each step. */
export const BudgetsSchema = z.strictObject({
  /** Steps dispatched (requested and allowed), over the whole run. */
  steps: z.number().int().positive().optional(),
  /** Sum of the steps' wall time, ms (time paused or idle does not count). */
  activeMs: z.number().int().positive().optional(),
  /** Output bytes (stdout + stderr) of all steps. */
  outputBytes: z.number().int().positive().optional(),
});
export type Budgets = z.infer<typeof BudgetsSchema>;
export const BUDGET_NAMES = ['steps', 'activeMs', 'outputBytes'] as const;
export type BudgetName = (typeof BUDGET_NAMES)[number];

/** Loop detectors: what they look for is in `harness/src/governance/loops.ts`. */
export const LOOP_DETECTORS = ['repeat', 'repeat_error', 'alternation', 'denials', 'stagnation'] as const;
export type LoopDetector = (typeof LOOP_DETECTORS)[number];

/** What a detection does: pause the run, only record a warning, or nothing. */
export const GovernActionSchema = z.enum(['pause', 'warn', 'off']);
export type GovernAction = z.infer<typeof GovernActionSchema>;

/**
 * The policy's `governance` section (optional: absent keeps a policy's hash and means the defaults
 * below). Per-run budget overrides come with `open`.
 */
export const GovernancePolicySchema = z.strictObject({
  budgets: BudgetsSchema.default({}),
  /** How long a held request waits for a decision, ms, before it expires as a denial (absent: 24 h; no default here, so older policies keep their hash). */
  approvalExpiryMs: z.number().int().positive().optional(),
  /** Whether a rollback needs a second operator to approve it (the two-person rule; absent: true). */
  rollbackTwoPerson: z.boolean().optional(),
  loops: z
    .strictObject({
      /** Same command with the same result this many times in a row. */
      repeat: z.strictObject({ threshold: z.number().int().min(2).default(4), action: GovernActionSchema.default('pause') }).default({ threshold: 4, action: 'pause' }),
      /** Same command failing with the same exit code this many times in a row (output may differ). */
      repeat_error: z.strictObject({ threshold: z.number().int().min(2).default(3), action: GovernActionSchema.default('pause') }).default({ threshold: 3, action: 'pause' }),
      /** A,B,A,B,… (command and result) over this many steps. */
      alternation: z.strictObject({ threshold: z.number().int().min(4).default(6), action: GovernActionSchema.default('pause') }).default({ threshold: 6, action: 'pause' }),
      /** This many denied steps in a row (held ones do not count: they wait for a person). */
      denials: z.strictObject({ threshold: z.number().int().min(2).default(3), action: GovernActionSchema.default('pause') }).default({ threshold: 3, action: 'pause' }),
      /** The workspace unchanged (same snapshot digest) for this many steps, made of at most two distinct command+result pairs. */
      stagnation: z.strictObject({ threshold: z.number().int().min(3).default(12), action: GovernActionSchema.default('warn') }).default({ threshold: 12, action: 'warn' }),
    })
    .default({
      repeat: { threshold: 4, action: 'pause' },
      repeat_error: { threshold: 3, action: 'pause' },
      alternation: { threshold: 6, action: 'pause' },
      denials: { threshold: 3, action: 'pause' },
      stagnation: { threshold: 12, action: 'warn' },
    }),
});
export type GovernancePolicy = z.infer<typeof GovernancePolicySchema>;

/** Operator controls on a run. Each is an idempotent request (same `requestId` = same answer) stored in the run's log. */
export const CONTROL_VERBS = ['pause', 'resume', 'cancel', 'kill', 'raise'] as const;
export const ControlVerbSchema = z.enum(CONTROL_VERBS);
export type ControlVerb = z.infer<typeof ControlVerbSchema>;

/** Why a run ended. */
export const TERMINATIONS = ['succeeded', 'failed', 'cancelled', 'killed', 'budget', 'loop', 'sandbox_lost', 'runner_lost'] as const;
export const TerminationSchema = z.enum(TERMINATIONS);
export type Termination = z.infer<typeof TerminationSchema>;

/** Why a run is paused: an operator, or the harness (a budget ran out, a loop was detected). */
export const PauseCauseSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('operator') }),
  z.object({ kind: z.literal('budget'), budget: z.enum(BUDGET_NAMES), used: z.number(), limit: z.number() }),
  z.object({ kind: z.literal('loop'), detector: z.enum(LOOP_DETECTORS), steps: z.array(StepNumberSchema) }),
]);
export type PauseCause = z.infer<typeof PauseCauseSchema>;

/** CLI/SDK -> harness (operators): a control on one run. */
export const ApiControlRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  verb: ControlVerbSchema,
  /** Caller-chosen id: the same request sent again gets the same answer and is stored once. */
  requestId: z.string().regex(/^[A-Za-z0-9_.:-]{8,128}$/),
  reason: z.string().max(2000).optional(),
  /** `raise`: the new limits (each at least what is used). */
  budgets: BudgetsSchema.optional(),
  /** `pause`: also interrupt the running step (SIGINT to its process group, then SIGTERM after `graceMs`). */
  interrupt: z.boolean().optional(),
  /** `pause` with `interrupt`: how long the step has to end after SIGINT before SIGTERM (default `DEFAULT_INTERRUPT_GRACE_MS`, controls.ts). */
  graceMs: z.number().int().min(0).max(600_000).optional(),
});
export type ApiControlRequest = z.infer<typeof ApiControlRequestSchema>;

/** CLI/SDK -> harness: a run's governance state (`watch`). */
export const ApiRunStateRequestSchema = z.object({ v: VersionSchema, runId: RunIdSchema });
export type ApiRunStateRequest = z.infer<typeof ApiRunStateRequestSchema>;

/** A run's state as the fold of its log: what `watch` shows and every control answers with. */
export const RunStateSchema = z.object({
  runId: RunIdSchema,
  state: z.enum(['running', 'paused', 'cancelling', 'closed']),
  paused: z.object({ cause: PauseCauseSchema, by: ActorSchema.optional(), reason: z.string(), at: z.string() }).optional(),
  termination: TerminationSchema.optional(),
  budgets: BudgetsSchema,
  used: z.object({ steps: z.number().int(), activeMs: z.number(), outputBytes: z.number().int() }),
  /** Loop warnings recorded (detections whose action is `warn`). */
  warnings: z.number().int(),
  /** The step executing now, if any. */
  stepInFlight: StepNumberSchema.optional(),
  /** The control request ids applied, newest last (idempotency). */
  lastControl: z.object({ verb: ControlVerbSchema, requestId: z.string(), by: ActorSchema, at: z.string() }).optional(),
});
export type RunState = z.infer<typeof RunStateSchema>;
