import { z } from 'zod';
import { StepNumberSchema } from './common.ts';

/**
 * Fields of `egress.connection`: one connection (a CONNECT tunnel) or one plain-HTTP request that a
 * run's sandbox made through its egress proxy, as the proxy decided and measured it.
 */
export const EgressConnectionFields = {
  type: z.literal('egress.connection'),
  /** The step running when it happened (absent between steps: a process a step left running). */
  step: StepNumberSchema.optional(),
  host: z.string(),
  port: z.number().int().nonnegative(),
  /** `https`: one request the proxy read by ending TLS itself (hosts an edge secret is for). */
  via: z.enum(['connect', 'http', 'https']),
  method: z.string().optional(),
  /** Path without its query (a query may carry tokens); plain and intercepted HTTP only. */
  path: z.string().optional(),
  /** `held`: the harness holds it for an operator (policy `network.unlisted: ask`); the proxy logs the outcome after. */
  decision: z.enum(['allowed', 'denied', 'held']),
  /** The egress approval (`<step>.<hold>`) that held, let through or refused it. */
  approval: z.string().optional(),
  /** Why it was denied, or how an allowed one failed. */
  reason: z.string().optional(),
  /** The address the proxy dialled. */
  address: z.string().optional(),
  bytesUp: z.number().int().nonnegative(),
  bytesDown: z.number().int().nonnegative(),
  durationMs: z.number().int().nonnegative(),
  /** Edge secrets the proxy put into this request (names only). */
  secrets: z.array(z.string()).optional(),
  /** Set when a secret's placeholder was sent to a host the secret is not for (left as is): possible exfiltration. */
  flagged: z.string().optional(),
};

/** Fields of `egress.proxy`: the run's proxy process ended unasked (the next step starts a fresh one). */
export const EgressProxyFields = {
  type: z.literal('egress.proxy'),
  state: z.enum(['died', 'restarted']),
  step: StepNumberSchema.optional(),
  reason: z.string(),
};
