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
} as const;

/** Fields of `RunRecord`. */
export const RunSessionFields = {
  /** Steps start where the previous one ended (the run was opened with `keepCwd`). */
  keepCwd: z.boolean().optional(),
  /** Where the last step that reported one ended (absent: the workspace). */
  cwd: CwdSchema.optional(),
} as const;

/** Fields of `RunnerExecRequest`. */
export const RunnerExecSessionFields = {
  /** Report the step's final working directory in its result (`cwd`). */
  reportCwd: z.boolean().optional(),
  /** The step is a process callers may signal: the runner records its process group. */
  process: z.boolean().optional(),
} as const;

/** Fields of `StepResult`. */
export const StepResultSessionFields = {
  /** The step's final working directory, when asked for (`reportCwd`) and its shell reported one. */
  cwd: CwdSchema.optional(),
} as const;
