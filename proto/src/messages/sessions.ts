import { z } from 'zod';
import { VersionSchema } from './common.ts';

/**
 * An agent's client asks for its own NATS user (`subjects.api.session`), naming a user key (`U…`)
 * whose seed it made and keeps: the JWT in the answer is useless to anyone else who sees it. The
 * deployment's agent user may publish nothing else, so every agent client talks to the harness as a
 * user of its own, with an inbox no other client may subscribe to.
 */
export const ApiSessionRequestSchema = z.object({
  v: VersionSchema,
  publicKey: z.string().regex(/^U[A-Z2-7]{55}$/, 'a NATS user public key (U…, 56 characters)'),
});
export type ApiSessionRequest = z.infer<typeof ApiSessionRequestSchema>;

/**
 * `shared`: keep the connection you have (not an agent, or a NATS without per-client users). `user`:
 * connect as this user with this inbox prefix. It does not expire: it may do nothing the harness
 * would answer without a valid credential on each request, and an expiry would make the server drop
 * the connection (and any reply in flight) once per lifetime.
 */
export const ApiSessionResultSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('shared') }),
  z.object({
    kind: z.literal('user'),
    jwt: z.string().min(1),
    inboxPrefix: z.string().min(1).max(128),
  }),
]);
export type ApiSessionResult = z.infer<typeof ApiSessionResultSchema>;
