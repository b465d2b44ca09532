import { z } from 'zod';
import { EnvSchema, RunIdSchema, StepNumberSchema, VersionSchema } from './common.ts';
import { RunnerExecSessionFields, StepResultSessionFields } from './session.ts';

/** Largest command text accepted, in bytes of UTF-8. */
export const MAX_COMMAND_BYTES = 64 * 1024;

/** What the validation chain decided: only `allow` ever reaches a container. */
export const VerdictKindSchema = z.enum(['allow', 'ask', 'deny']);
export type VerdictKind = z.infer<typeof VerdictKindSchema>;

/** Secrets sealed to one runner's curve (x25519) key, for one step of one run (`@airlock/trust` sealSecrets). */
export const SealedSecretsSchema = z.object({
  /** One-time sender public curve key (`X…`). */
  from: z.string().regex(/^X[A-Z2-7]{55}$/),
  /** The runner's public curve key it is sealed to (`X…`). */
  to: z.string().regex(/^X[A-Z2-7]{55}$/),
  /** NaCl box, base64. */
  box: z.string().max(1024 * 1024),
});
export type SealedSecrets = z.infer<typeof SealedSecretsSchema>;

/**
 * A runner's signature (base64url, ed25519 with its nkey) over what a reply answers: kind, runner,
 * run, step and the sha256 of the reply without this field. The harness verifies it against the key
 * pinned for the runner that holds the run.
 */
export const ReplySignatureSchema = z.string().regex(/^[A-Za-z0-9_-]{80,100}$/);

/** Harness -> runner: execute step `step` of run `runId`. */
export const RunnerExecRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  step: StepNumberSchema,
  cmd: z.string().min(1).max(MAX_COMMAND_BYTES),
  /** Environment of this step only, on top of the run's. */
  env: EnvSchema,
  timeoutMs: z.number().int().positive().max(24 * 3600 * 1000),
  /** The policy the harness validated under; must equal the run's pinned policy. */
  policyHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** Job token: ed25519-signed by the harness over run, step, policy hash, command hash, expiry and nonce. */
  token: z.string().max(4096),
  /**
   * Secret values granted to this step only, sealed to the target runner's curve key (only that
   * runner can open them; nobody else on the bus sees them). Absent when the step has no secret.
   */
  sealed: SealedSecretsSchema.optional(),
  /**
   * Never on the wire: must be empty in a request (plaintext secrets are refused). The runner fills
   * it with what `sealed` opens to, passes those to this exec alone and redacts every one of them
   * (and their encodings) from everything it logs.
   */
  secrets: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string())
    .default({})
    .refine((s) => Object.keys(s).length === 0, { message: 'secrets travel sealed to the runner (`sealed`), never in plaintext' }),
  ...RunnerExecSessionFields,
});
export type RunnerExecRequest = z.infer<typeof RunnerExecRequestSchema>;

/** How a step ended. A failed command is a result, not an error. */
export const StepResultSchema = z.object({
  runId: RunIdSchema,
  step: StepNumberSchema,
  /** Exit code of the command; null when it was killed before reporting one. */
  exitCode: z.number().int().nullable(),
  /** Signal that ended the command or its sandbox, e.g. "SIGKILL". */
  signal: z.string().nullable(),
  oomKilled: z.boolean(),
  timedOut: z.boolean(),
  /** The sandbox container stopped during the step; the next step gets a fresh one on the same workspace. */
  sandboxDied: z.boolean(),
  durationMs: z.number().nonnegative(),
  stdoutBytes: z.number().int().nonnegative(),
  stderrBytes: z.number().int().nonnegative(),
  /** Output beyond the per-step limit was dropped (and said so in the log). */
  truncated: z.boolean(),
  /**
   * The step's output could not be stored in the run log (JetStream did not acknowledge within the
   * writer's retries): the runner stopped the step there. The log holds the output up to that point.
   */
  logLost: z.boolean().optional(),
  /** Log sequence of the step's `step.exited` event: readers have everything once they reach it. */
  logSeq: z.number().int().nonnegative(),
  /** Digest of the workspace snapshot taken after the step (absent if it failed; the log says why). */
  snapshot: z.string().optional(),
  /** CPU time the sandbox used since the previous reading (its cgroup's cpu.stat usage_usec), seconds; absent when it could not be read. */
  cpuSeconds: z.number().nonnegative().optional(),
  ...StepResultSessionFields,
  /** The runner's signature over this result (see {@link ReplySignatureSchema}). */
  sig: ReplySignatureSchema.optional(),
});
export type StepResult = z.infer<typeof StepResultSchema>;
