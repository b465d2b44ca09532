// Egress approvals (policy `network.unlisted: ask`): the runner's proxy holds a connection to a host
// no allowlist rule names and asks the harness, which holds it as an approval like an `ask`ed
// command (same bucket, same operators' verbs, same roles) until an operator decides or it expires.
import { z } from 'zod';
import { RunIdSchema, StepNumberSchema, VersionSchema } from './common.ts';

/** How the sandbox asked: a tunnel (CONNECT), a plain-HTTP request, or a request the proxy read by ending TLS. */
export const EgressViaSchema = z.enum(['connect', 'http', 'https']);

/** A DNS name as the proxy received it (lowercase; IP literals never reach an ask). */
const HostSchema = z.string().regex(/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/);

/** What was asked for: the name and port, and for plain HTTP the method and path (no query). */
export const EgressTargetSchema = z.object({
  host: HostSchema,
  port: z.number().int().min(1).max(65_535),
  via: EgressViaSchema,
  method: z.string().max(32).optional(),
  path: z.string().max(2048).optional(),
});
export type EgressTarget = z.infer<typeof EgressTargetSchema>;

/**
 * Runner -> harness (`subjects.egressAsk(runnerId)`, only that runner's user may publish there):
 * step `step` of a run this runner holds wants `host:port`, which no allowlist rule names. The
 * runner waits at most `waitMs` (the policy's `askWaitMs`, cut to the step's time left).
 */
export const EgressAskRequestSchema = EgressTargetSchema.extend({
  v: VersionSchema,
  runId: RunIdSchema,
  step: StepNumberSchema,
  waitMs: z.number().int().positive().max(3_600_000),
});
export type EgressAskRequest = z.infer<typeof EgressAskRequestSchema>;

/** The harness's answer: let the connection through or not, and the approval that said so (`<step>.<hold>`). */
export const EgressAskResultSchema = z.object({
  allowed: z.boolean(),
  reason: z.string(),
  approval: z.string().optional(),
  /** `approve_run`: later connections of this run to the same host and port pass without asking. */
  forRun: z.boolean().optional(),
});
export type EgressAskResult = z.infer<typeof EgressAskResultSchema>;

/** On an approval record: the held connection, and which of its step's egress holds it is (1, 2, …). */
export const EgressHoldSchema = EgressTargetSchema.extend({ hold: z.number().int().min(1) });
export type EgressHold = z.infer<typeof EgressHoldSchema>;

/** The id operators use for an egress hold (`airlock approve RUN 7.1`): its step, a dot, its hold number. */
export function egressApprovalId(step: number, hold: number): string {
  return `${step}.${hold}`;
}

/** Fields of `egress.decided`: an operator (or the harness, on expiry) decided a held connection. */
export const EgressDecidedFields = {
  type: z.literal('egress.decided'),
  step: StepNumberSchema,
  hold: z.number().int().min(1),
  host: z.string(),
  port: z.number().int().nonnegative(),
  /** `expired`: nobody decided in time (`decidedBy` is `harness`); a denial. */
  decision: z.enum(['approved', 'rejected', 'expired']),
  decidedBy: z.string(),
  note: z.string().optional(),
  /** `approve_run`: the host and port pass for the rest of the run. */
  forRun: z.boolean().optional(),
  /** `reject_pause`: the run was paused with the denial. */
  pause: z.boolean().optional(),
};
