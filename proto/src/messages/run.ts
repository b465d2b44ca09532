import { z } from 'zod';
import { EnvSchema, RunIdSchema, RunnerIdSchema, VersionSchema } from './common.ts';
import { ReplySignatureSchema } from './exec.ts';
import { ActorSchema, BudgetsSchema, RunIdleFields, TerminationSchema } from './governance.ts';
import { RunSessionFields } from './session.ts';

/**
 * A runner's public keys: `nkey` (`U…`, its NATS user and signing key) and `curve` (`X…`, what
 * secrets are sealed to). A harness with pinned keys (`--runners`) only compares them; one without
 * pins the first keys it sees per runner id (development mode, logged as such).
 */
export const RunnerKeysSchema = z.object({ nkey: z.string().regex(/^U[A-Z2-7]{55}$/), curve: z.string().regex(/^X[A-Z2-7]{55}$/) });
export type RunnerKeys = z.infer<typeof RunnerKeysSchema>;

/** Resource limits of one sandbox. Defaults live in the harness config. */
export const SandboxLimitsSchema = z.object({
  memoryBytes: z.number().int().positive(),
  pids: z.number().int().positive(),
  /** CPU quota in billionths of a CPU (1e9 = one core). */
  nanoCpus: z.number().int().positive(),
  tmpfsBytes: z.number().int().positive(),
});
export type SandboxLimits = z.infer<typeof SandboxLimitsSchema>;

/** OCI runtimes a sandbox can run under: `runc`, or gVisor's `runsc`. */
export const SandboxRuntimeSchema = z.enum(['runc', 'runsc']);
export type SandboxRuntime = z.infer<typeof SandboxRuntimeSchema>;

/** Harness -> runner (queue group): create the sandbox of a new run. */
export const RunnerOpenRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  image: z.string().min(1).max(256),
  /** Absolute host path to bind-mount; absent = the runner makes a fresh workspace. */
  workspace: z.string().startsWith('/').max(4096).optional(),
  /** Where the workspace appears inside the sandbox. */
  mountPath: z.string().regex(/^\/[A-Za-z0-9._/-]*$/).max(256),
  /** Environment every step of this run receives (granted by the harness). */
  env: EnvSchema,
  limits: SandboxLimitsSchema,
  /** OCI runtime of the sandbox, from the run's pinned policy; a runner whose engine lacks it refuses the run. */
  runtime: SandboxRuntimeSchema,
  network: z.literal('none'),
  /** Policy pinned to the run (sha256 of its canonical form); the runner fetches it to re-validate. */
  policyHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** Restore this snapshot into the (fresh) workspace before the first step: fork and import. */
  fromSnapshot: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** The run already exists and moves here from a lost runner; its log goes on. */
  resume: z.object({ previousRunner: z.string(), afterStep: z.number().int().min(0), reason: z.string() }).optional(),
});
export type RunnerOpenRequest = z.infer<typeof RunnerOpenRequestSchema>;

export const RunnerOpenResultSchema = z.object({
  runId: RunIdSchema,
  runnerId: RunnerIdSchema,
  containerId: z.string(),
  /** Host path of the workspace. */
  workspace: z.string(),
  /** uid:gid the sandbox runs as. */
  user: z.string(),
  /** The runner's public keys (compared with the pinned ones). */
  keys: RunnerKeysSchema.optional(),
  /** The runner's signature over this result (see `ReplySignatureSchema`). */
  sig: ReplySignatureSchema.optional(),
});
export type RunnerOpenResult = z.infer<typeof RunnerOpenResultSchema>;

/** Harness -> runner: end a run, remove its container. */
export const RunnerCloseRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  reason: z.string().max(1024),
  /** Why the run ends (typed; the runner writes it into `run.closed`). */
  termination: TerminationSchema.optional(),
  /** Idle suspension: remove the sandbox and free the slot, but the run goes on (no `run.closed`; the harness logs `run.suspended`). */
  suspend: z.boolean().optional(),
});
export type RunnerCloseRequest = z.infer<typeof RunnerCloseRequestSchema>;

export const RunnerCloseResultSchema = z.object({
  runId: RunIdSchema,
  removed: z.boolean(),
  /**
   * Whether the workspace was given back (chowned to its owner, or deleted when the runner made it).
   * false: it was not, and `releaseError` says why; the files may still belong to the sandbox user.
   * Absent from runners that did not report it.
   */
  workspaceReleased: z.boolean().optional(),
  releaseError: z.string().optional(),
  sig: ReplySignatureSchema.optional(),
});
export type RunnerCloseResult = z.infer<typeof RunnerCloseResultSchema>;

export const RunStatusSchema = z.enum(['open', 'closed']);
export type RunStatus = z.infer<typeof RunStatusSchema>;

/** A replay's origin: which run, from which step, and whether a different policy was accepted. */
export const ReplayOfSchema = z.object({ runId: RunIdSchema, fromStep: z.number().int().min(1), originalPolicyHash: z.string(), policyChangeAllowed: z.boolean() });
export type ReplayOf = z.infer<typeof ReplayOfSchema>;

/** What the harness keeps about a run (in the runs KV bucket). */
export const RunRecordSchema = z.object({
  runId: RunIdSchema,
  runnerId: RunnerIdSchema,
  status: RunStatusSchema,
  image: z.string(),
  workspace: z.string(),
  mountPath: z.string(),
  openedAt: z.string(),
  closedAt: z.string().optional(),
  closeReason: z.string().optional(),
  /** Number of the last step requested (0 = none yet). */
  steps: z.number().int().min(0),
  /** The policy pinned at open. */
  policyHash: z.string(),
  fromSnapshot: z.string().optional(),
  /** Environment granted to every step (kept so the run can move to another runner). */
  env: z.record(z.string(), z.string()).default({}),
  /** How many times the run moved to another runner after losing one. */
  moves: z.number().int().min(0).default(0),
  replayOf: ReplayOfSchema.optional(),
  /** Who opened the run (its agent principal; the only agent that may use it). */
  openedBy: ActorSchema.optional(),
  /** Per-run budget overrides given at open (over the policy's). */
  budgets: BudgetsSchema.optional(),
  /** `paused`/`cancelling` while governed (a view of the run log's fold, for `ps`). */
  control: z.enum(['running', 'paused', 'cancelling']).optional(),
  /** Why the run ended (typed). */
  termination: TerminationSchema.optional(),
  ...RunSessionFields,
  ...RunIdleFields,
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

/** Runner -> anyone (core NATS, every few seconds): I am alive, with this much room. */
export const RunnerHeartbeatSchema = z.object({
  v: VersionSchema,
  runnerId: RunnerIdSchema,
  slots: z.number().int().nonnegative(),
  used: z.number().int().nonnegative(),
  runIds: z.array(z.string()),
  /** Runs this runner took and is still preparing: the harness re-offers them if it is lost. */
  openingRunIds: z.array(z.string()).optional(),
  ts: z.string(),
  /** The runner's public keys. */
  keys: RunnerKeysSchema.optional(),
  /** The runner's signature over this heartbeat without `sig` (kind `heartbeat`, run id `-`, step 0). */
  sig: ReplySignatureSchema.optional(),
});
export type RunnerHeartbeat = z.infer<typeof RunnerHeartbeatSchema>;
