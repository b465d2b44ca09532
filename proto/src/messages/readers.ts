import { z } from 'zod';
import { RunIdSchema, VersionSchema } from './common.ts';

/**
 * A client asks for the right to read one run's log (`subjects.api.reader`). It names a NATS user
 * key (`U…`) whose seed it made and keeps: the harness answers with a JWT for that key, which is
 * useless to anyone else who sees the reply on the bus (the seed never travels).
 */
export const ApiReaderRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
  publicKey: z.string().regex(/^U[A-Z2-7]{55}$/, 'a NATS user public key (U…, 56 characters)'),
});
export type ApiReaderRequest = z.infer<typeof ApiReaderRequestSchema>;

/**
 * `shared`: read with the connection you have (the caller's NATS user may read every run: operators,
 * reviewers, admins, or a NATS without per-run readers). `user`: connect a second time as this user,
 * which may read only the run's log, with this inbox prefix, until `expiresAt` (ask again before then).
 */
export const ApiReaderResultSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('shared') }),
  z.object({
    kind: z.literal('user'),
    runId: RunIdSchema,
    jwt: z.string().min(1),
    inboxPrefix: z.string().min(1).max(128),
    /** Unix seconds: the server disconnects the reader then. */
    expiresAt: z.number().int(),
  }),
]);
export type ApiReaderResult = z.infer<typeof ApiReaderResultSchema>;
