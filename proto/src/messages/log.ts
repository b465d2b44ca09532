import { z } from 'zod';
import { StepNumberSchema, VersionSchema } from './common.ts';
import { StepResultSchema } from './exec.ts';

/** Largest payload of one output chunk, in bytes (before base64). */
export const MAX_CHUNK_BYTES = 64 * 1024;

const base = {
  v: VersionSchema,
  /** A run id, or "system" for events not tied to a run (rejected messages). */
  runId: z.string(),
  /** 1..n per run, no gaps: the writer's position in the run's log. */
  seq: z.number().int().min(1),
  /** ISO-8601 time the writer produced the event. */
  ts: z.string(),
  /** Which process wrote it: `harness` or `runner:<id>`. */
  by: z.string(),
  /** sha256 (hex) of the previous event's bytes as stored; 64 zeros for the first event of a run. */
  prev: z.string().regex(/^[0-9a-f]{64}$/),
};

/** `prev` of the first event of a run. */
export const GENESIS_HASH = '0'.repeat(64);

export const LogEventSchema = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('run.opened'),
    image: z.string(),
    runnerId: z.string(),
    workspace: z.string(),
    mountPath: z.string(),
    containerId: z.string(),
    user: z.string(),
  }),
  z.object({ ...base, type: z.literal('run.closed'), reason: z.string() }),
  z.object({ ...base, type: z.literal('step.requested'), step: StepNumberSchema, cmd: z.string() }),
  z.object({ ...base, type: z.literal('step.started'), step: StepNumberSchema, containerId: z.string() }),
  z.object({
    ...base,
    type: z.literal('step.output'),
    step: StepNumberSchema,
    stream: z.enum(['stdout', 'stderr']),
    /** Byte offset of this chunk within its stream of the step. */
    offset: z.number().int().nonnegative(),
    /** The bytes, base64. */
    data: z.string(),
  }),
  z.object({ ...base, type: z.literal('step.exited'), step: StepNumberSchema, result: StepResultSchema.omit({ logSeq: true }) }),
  z.object({ ...base, type: z.literal('sandbox.started'), containerId: z.string(), reason: z.string() }),
  z.object({
    ...base,
    type: z.literal('sandbox.died'),
    step: StepNumberSchema.optional(),
    containerId: z.string(),
    exitCode: z.number().int().nullable(),
    oomKilled: z.boolean(),
    reason: z.string(),
  }),
  z.object({
    ...base,
    type: z.literal('message.rejected'),
    subject: z.string(),
    code: z.string(),
    message: z.string(),
    bytes: z.number().int().nonnegative(),
  }),
]);
export type LogEvent = z.infer<typeof LogEventSchema>;
export type LogEventType = LogEvent['type'];

/** An event before the log writer stamps it with `v`, `seq`, `ts`, `by`. */
export type LogEventInput = LogEvent extends infer E ? (E extends LogEvent ? Omit<E, 'v' | 'seq' | 'ts' | 'by' | 'runId' | 'prev'> : never) : never;
