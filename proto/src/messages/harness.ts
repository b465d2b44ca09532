import { z } from 'zod';
import { VersionSchema } from './common.ts';

/** How often the harness publishes its heartbeat, in milliseconds. */
export const HARNESS_HEARTBEAT_MS = 1000;

/**
 * Harness -> anyone (core NATS, every {@link HARNESS_HEARTBEAT_MS}): I am alive. A client waiting
 * on a reply watches these; when the instance it waited on goes silent, the wait fails at once with
 * `harness_lost` instead of hanging until the step's timeout. Not signed: a forged heartbeat can only
 * make a client wait longer, never accept a result (results come from the reply or the signed log).
 */
export const HarnessHeartbeatSchema = z.object({
  v: VersionSchema,
  /** Random per harness process: a restarted harness is another instance. */
  instance: z.string().min(1).max(64),
  startedAt: z.string(),
  ts: z.string(),
  /** Interval the harness promises, in ms: silence for a few of these means it is gone. */
  intervalMs: z.number().int().positive(),
});
export type HarnessHeartbeat = z.infer<typeof HarnessHeartbeatSchema>;
