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
  /** CPU time the run's sandboxes used (their cgroup's `cpu.stat` usage_usec, read by the runner after each step), seconds. */
  cpuSeconds: z.number().positive().optional(),
  /** Sum of the cost figures the agent reported with its steps (`exec` option `cost`; any unit the deployment agrees on). */
  cost: z.number().positive().optional(),
});
export type Budgets = z.infer<typeof BudgetsSchema>;
export const BUDGET_NAMES = ['steps', 'activeMs', 'outputBytes', 'cpuSeconds', 'cost'] as const;
export type BudgetName = (typeof BUDGET_NAMES)[number];

/** Loop detectors: what they look for is in `harness/src/governance/loops.ts`. */
export const LOOP_DETECTORS = ['repeat', 'repeat_error', 'alternation', 'denials', 'stagnation'] as const;
export type LoopDetector = (typeof LOOP_DETECTORS)[number];

/** What a detection does: pause the run, only record a warning, or nothing. */
export const GovernActionSchema = z.enum(['pause', 'warn', 'off']);
export type GovernAction = z.infer<typeof GovernActionSchema>;

/** A duration in a policy: `500ms`, `30s`, `15m`, `24h`, `7d`. */
export const DurationSchema = z.string().regex(/^\d{1,9}(ms|s|m|h|d)$/, 'a duration like 500ms, 30s, 15m, 24h or 7d');

/** A policy duration in ms. */
export function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return Number(m[1]) * { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
}

/** Defaults of the idle settings (the policy fields are optional, so older policies keep their hash). */
export const DEFAULT_IDLE_TIMEOUT = '15m';
export const DEFAULT_MAX_IDLE = '24h';
/** A run idle this long may be suspended early when a new run finds every runner slot busy. */
export const DEFAULT_SUSPEND_WHEN_FULL = '1m';

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
  /**
   * A run with no step for this long is suspended: its sandbox is removed and its runner slot freed;
   * its next step restores it from its last snapshot (default 15m; absent = the default).
   */
  idleTimeout: DurationSchema.optional(),
  /** A run with no step for this long is closed (termination `idle`; default 24h). */
  maxIdle: DurationSchema.optional(),
  /**
   * When a new run finds every runner slot busy, the run idle longest (at least this long) is
   * suspended early, as `idleTimeout` would, to free its slot (default 1m; `off`: the open waits,
   * then is refused with `capacity_exhausted`).
   */
  suspendWhenFull: z.union([DurationSchema, z.literal('off')]).optional(),
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

/**
 * Why a run ended (the rules are in `harness/src/governance/termination.ts`): `succeeded`/`failed`
 * closed by its agent (as it reported the outcome), `cancelled`/`killed` by an operator, `budget`/
 * `loop` closed while the harness held it paused for that cause, `sandbox_lost` its sandbox could not
 * be restored, `runner_lost` its runner died and no other could take it, `idle` no step for `maxIdle`.
 */
export const TERMINATIONS = ['succeeded', 'failed', 'cancelled', 'killed', 'budget', 'loop', 'sandbox_lost', 'runner_lost', 'idle'] as const;
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

/** A run suspended for idleness: where its next step restores it from. */
export const SuspendedSchema = z.object({
  at: z.string(),
  /** The snapshot (after this step) the next step restores. */
  afterStep: z.number().int().min(0),
  snapshot: z.string().regex(/^[0-9a-f]{64}$/),
  /** The runner that held it. */
  runnerId: z.string(),
});
export type Suspended = z.infer<typeof SuspendedSchema>;

/** A run's state as the fold of its log: what `watch` shows and every control answers with. */
export const RunStateSchema = z.object({
  runId: RunIdSchema,
  state: z.enum(['running', 'paused', 'cancelling', 'closed']),
  paused: z.object({ cause: PauseCauseSchema, by: ActorSchema.optional(), reason: z.string(), at: z.string() }).optional(),
  termination: TerminationSchema.optional(),
  budgets: BudgetsSchema,
  used: z.object({ steps: z.number().int(), activeMs: z.number(), outputBytes: z.number().int(), cpuSeconds: z.number().default(0), cost: z.number().default(0) }),
  /** When the run's last step (or its open, or a control) happened: the idle clock starts there. */
  lastActiveAt: z.string().optional(),
  /** Set while the run is suspended for idleness (no sandbox, no slot; the next step restores it). */
  suspended: SuspendedSchema.optional(),
  /** Loop warnings recorded (detections whose action is `warn`). */
  warnings: z.number().int(),
  /** The step executing now, if any. */
  stepInFlight: StepNumberSchema.optional(),
  /** The control request ids applied, newest last (idempotency). */
  lastControl: z.object({ verb: ControlVerbSchema, requestId: z.string(), by: ActorSchema, at: z.string() }).optional(),
});
export type RunState = z.infer<typeof RunStateSchema>;

/** `RunRecord` fields of idle suspension (spread into its schema; optional, so older records parse). */
export const RunIdleFields = {
  /** Set while the run is suspended (`ps` shows it); its `runnerId` no longer holds a sandbox for it. */
  suspended: SuspendedSchema.optional(),
} as const;

/** How a run's agent says its task ended when it closes the run (`close --failed`); default succeeded. */
export const CloseOutcomeSchema = z.enum(['succeeded', 'failed']);
export type CloseOutcome = z.infer<typeof CloseOutcomeSchema>;

/** A cost figure an agent reports with a step (summed into the `cost` budget). */
export const StepCostSchema = z.number().nonnegative().max(1e12);
