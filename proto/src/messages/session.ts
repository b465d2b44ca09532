// Shell-session behaviour of a run's steps, as agents expect it: the working directory can persist
// from one step to the next, and a step can yield before it ends (a long-running process).
// Spread into the exec, run-record and step-result schemas; the fields are optional, so messages of
// callers and runners that do not know them keep their meaning.
import { z } from 'zod';

/** Longest a single `exec` or `poll` call waits before answering (the process keeps running). */
export const MAX_WAIT_MS = 300_000;

/** An absolute directory inside the sandbox, as a step's working directory. */
export const CwdSchema = z
  .string()
  .startsWith('/', 'a working directory is an absolute path')
  .max(4096)
  .refine((p) => !/[\0\n\x1e]/.test(p), 'a working directory has no NUL, newline or record-separator character');

/** Fields of `ApiExecRequest`. */
export const ExecSessionFields = {
  /**
   * Answer after this long even if the command still runs: the reply is the process's state (its
   * id is the step number) with the output so far, and the command goes on under its own `timeoutMs`
   * (its lifetime; `yieldMs` is only how long this call waits). Poll, signal and list work on it.
   */
  yieldMs: z.number().int().nonnegative().max(MAX_WAIT_MS).optional(),
  /** Start this step in this directory (absolute, or relative to the workspace). */
  cwd: z.string().min(1).max(4096).optional(),
  /**
   * Start where the previous step ended (its final `pwd`) and remember where this one ends; overrides
   * the run's `keepCwd`. Exported variables never carry over: each step is a fresh shell.
   */
  keepCwd: z.boolean().optional(),
  /**
   * Variables this step exports are kept for the next steps that also ask (`keepEnv`; or the run's).
   * They are replayed as `export NAME='value'; ` in front of the command, so the validation chain
   * sees them; values holding a granted secret are never kept.
   */
  keepEnv: z.boolean().optional(),
} as const;

/** Most variables a run keeps (`keepEnv`), and their total size in bytes. */
export const MAX_SESSION_VARS = 128;
export const MAX_SESSION_ENV_BYTES = 32 * 1024;

/** Variables a run keeps between steps (`keepEnv`). */
export const SessionEnvSchema = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string());

/** Fields of `RunRecord`. */
export const RunSessionFields = {
  /** Steps start where the previous one ended (the run was opened with `keepCwd`). */
  keepCwd: z.boolean().optional(),
  /** Where the last step that reported one ended (absent: the workspace). */
  cwd: CwdSchema.optional(),
  /** Exported variables carry over to the next step (the run was opened with `keepEnv`). */
  keepEnv: z.boolean().optional(),
  /** The variables kept so far (see `keepEnv`). */
  sessionEnv: SessionEnvSchema.optional(),
} as const;

/** Fields of `RunnerExecRequest`. */
export const RunnerExecSessionFields = {
  /** Report the step's final working directory in its result (`cwd`). */
  reportCwd: z.boolean().optional(),
  /** Report the variables the step's shell exported that differ from what it was started with (`env`). */
  reportEnv: z.boolean().optional(),
  /** The step is a process callers may signal: the runner records its process group. */
  process: z.boolean().optional(),
} as const;

/** Fields of `StepResult`. */
export const StepResultSessionFields = {
  /** The step's final working directory, when asked for (`reportCwd`) and its shell reported one. */
  cwd: CwdSchema.optional(),
  /** Variables the step exported that differ from its start (asked for with `reportEnv`; never a secret's value). */
  env: SessionEnvSchema.optional(),
} as const;
