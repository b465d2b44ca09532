// Long-running processes: a step started with `yieldMs` is a process the caller can poll, signal
// and list from any connection. Its id is its step number; its output is the step's output in the
// run log, so nothing is lost when a client or the harness goes away.
import { z } from 'zod';
import { RunIdSchema, StepNumberSchema, VersionSchema } from './common.ts';
import { ReplySignatureSchema, StepResultSchema } from './exec.ts';
import { MAX_WAIT_MS } from './session.ts';

/** Default cap on the output bytes one poll returns. */
export const DEFAULT_POLL_BYTES = 64 * 1024;
/** Largest cap a poll may ask for. */
export const MAX_POLL_BYTES = 512 * 1024;

/** Signals a caller may send to a process (to its whole process group). */
export const ProcessSignalSchema = z.enum(['SIGINT', 'SIGTERM', 'SIGKILL', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']);
export type ProcessSignal = z.infer<typeof ProcessSignalSchema>;

/**
 * Where a process is: `running` (started, not ended), `starting` (requested, not started yet),
 * `exited` (ended; `result` says how), `lost` (its runner was lost; the run moved on without it),
 * `refused` (validation denied it, or it is held for approval; it never ran).
 */
export const ProcessStatusSchema = z.enum(['starting', 'running', 'exited', 'lost', 'refused']);
export type ProcessStatus = z.infer<typeof ProcessStatusSchema>;

/** A piece of a process's output; `offset` counts bytes of both streams together, in log order. */
export const ProcessChunkSchema = z.object({
  stream: z.enum(['stdout', 'stderr']),
  offset: z.number().int().nonnegative(),
  /** The bytes as text when valid UTF-8, else `data` (base64). */
  text: z.string().optional(),
  data: z.string().optional(),
});
export type ProcessChunk = z.infer<typeof ProcessChunkSchema>;

/** What `exec` with `yieldMs` and `poll` answer. */
export const ProcessStateSchema = z.object({
  runId: RunIdSchema,
  /** The process id: its step number in the run. */
  pid: StepNumberSchema,
  cmd: z.string(),
  status: ProcessStatusSchema,
  /** Output from the requested offset on (at most the poll's `maxBytes`). */
  output: z.array(ProcessChunkSchema),
  /** Pass this as `fromOffset` to the next poll to get only what came after. */
  nextOffset: z.number().int().nonnegative(),
  /** More output was there than `maxBytes` allowed: poll again from `nextOffset`. */
  more: z.boolean(),
  /** How it ended, once `exited`. */
  result: StepResultSchema.optional(),
  /** Why it is `lost` or `refused`. */
  reason: z.string().optional(),
});
export type ProcessState = z.infer<typeof ProcessStateSchema>;

/** CLI/SDK -> harness: read a process's output from an offset, waiting up to `waitMs` for news. */
export const ApiPollRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  pid: StepNumberSchema,
  /** Output offset to start from (0 = all of it). */
  fromOffset: z.number().int().nonnegative().default(0),
  /** Wait up to this long for new output or the end when there is none yet (default 0). */
  waitMs: z.number().int().nonnegative().max(MAX_WAIT_MS).default(0),
  maxBytes: z.number().int().positive().max(MAX_POLL_BYTES).default(DEFAULT_POLL_BYTES),
});
export type ApiPollRequest = z.infer<typeof ApiPollRequestSchema>;

/** CLI/SDK -> harness: send a signal to a running process's process group. */
export const ApiSignalRequestSchema = z.object({ v: VersionSchema, runId: RunIdSchema, pid: StepNumberSchema, signal: ProcessSignalSchema.default('SIGTERM') });
export type ApiSignalRequest = z.infer<typeof ApiSignalRequestSchema>;

export const ApiSignalResultSchema = z.object({
  runId: RunIdSchema,
  pid: StepNumberSchema,
  signal: ProcessSignalSchema,
  /** Whether a process group received it (false: the process had already ended). */
  delivered: z.boolean(),
});
export type ApiSignalResult = z.infer<typeof ApiSignalResultSchema>;

/** CLI/SDK -> harness: the processes (steps started with `yieldMs`) of a run. */
export const ApiProcessesRequestSchema = z.object({ v: VersionSchema, runId: RunIdSchema });
export type ApiProcessesRequest = z.infer<typeof ApiProcessesRequestSchema>;

export const ProcessInfoSchema = z.object({
  pid: StepNumberSchema,
  cmd: z.string(),
  status: ProcessStatusSchema,
  /** Output bytes so far (both streams). */
  outputBytes: z.number().int().nonnegative(),
  exitCode: z.number().int().nullable().optional(),
  /** ISO time the step was requested. */
  requestedAt: z.string(),
});
export type ProcessInfo = z.infer<typeof ProcessInfoSchema>;

export const ApiProcessesResultSchema = z.object({ runId: RunIdSchema, processes: z.array(ProcessInfoSchema) });
export type ApiProcessesResult = z.infer<typeof ApiProcessesResultSchema>;

/**
 * Harness -> runner: signal the running step `step`. `token` is a job token for that step whose
 * command is {@link signalText}: only the harness can order it.
 */
export const RunnerSignalRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  step: StepNumberSchema,
  signal: ProcessSignalSchema,
  policyHash: z.string().regex(/^[0-9a-f]{64}$/),
  token: z.string().max(4096),
});
export type RunnerSignalRequest = z.infer<typeof RunnerSignalRequestSchema>;

export const RunnerSignalResultSchema = z.object({
  runId: RunIdSchema,
  step: StepNumberSchema,
  delivered: z.boolean(),
  sig: ReplySignatureSchema.optional(),
});
export type RunnerSignalResult = z.infer<typeof RunnerSignalResultSchema>;

/** The command text a signal's job token is bound to. */
export function signalText(signal: ProcessSignal): string {
  return `airlock:signal ${signal}`;
}
