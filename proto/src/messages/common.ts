import { z } from 'zod';
import { PROTOCOL_VERSION } from '../version.ts';
import { WireErrorSchema } from '../errors.ts';
import { RUN_ID_PATTERN, RUNNER_ID_PATTERN } from '../subjects.ts';

export const VersionSchema = z.literal(PROTOCOL_VERSION);
export const RunIdSchema = z.string().regex(RUN_ID_PATTERN, 'run ids are 26-character ULIDs');
export const RunnerIdSchema = z.string().regex(RUNNER_ID_PATTERN, 'runner ids are 1-64 of [A-Za-z0-9_-]');
/** Steps are numbered 1..n within a run. */
export const StepNumberSchema = z.number().int().min(1);

/** Environment variable names a POSIX shell accepts. */
export const EnvSchema = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'invalid environment variable name'), z.string());

/** Every reply is either `{ ok: true, result }` or `{ ok: false, error }`. */
export function replySchema<T extends z.ZodType>(result: T) {
  return z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), result }),
    z.object({ ok: z.literal(false), error: WireErrorSchema }),
  ]);
}
export type Reply<T> = { ok: true; result: T } | { ok: false; error: z.infer<typeof WireErrorSchema> };
