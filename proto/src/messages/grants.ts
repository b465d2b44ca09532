import { z } from 'zod';
import { RunIdSchema, VersionSchema } from './common.ts';
import { SealedSecretsSchema } from './exec.ts';

/** A runner asks for the log grant of a run it opens, or holds (`subjects.logGrant(runnerId)`). */
export const LogGrantRequestSchema = z.object({
  v: VersionSchema,
  runId: RunIdSchema,
});
export type LogGrantRequest = z.infer<typeof LogGrantRequestSchema>;

/**
 * A run's log grant: a NATS user that may publish only that run's log subject. Its JWT and seed
 * travel sealed to the asking runner's curve key (the secrets' box, bound to the run and step 0,
 * which no step has), so no one else reading the bus can log in as it.
 */
export const LogGrantResultSchema = z.object({
  runId: RunIdSchema,
  /** Seals `{ jwt, seed }`. */
  sealed: SealedSecretsSchema,
  /** Reply subjects of the grant's connection start with this (only the grant may subscribe there). */
  inboxPrefix: z.string().min(1).max(128),
  /** Unix seconds: the server disconnects the grant then. */
  expiresAt: z.number().int(),
});
export type LogGrantResult = z.infer<typeof LogGrantResultSchema>;

/** The step a grant's box is bound to: none of a run's steps (they start at 1). */
export const LOG_GRANT_SEAL_STEP = 0;
