import { Buffer } from 'node:buffer';
import { sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { AirlockError, RoleSchema, RunIdSchema, canonicalJson } from '@airlock/proto';
import type { Role } from '@airlock/proto';

/**
 * Credentials of callers of the harness API: a claim set (principal, role, optionally the runs it
 * is limited to, and an expiry) signed with the harness's ed25519 key. The CLI and SDK present it in
 * the {@link CREDENTIAL_HEADER} header of every request; the harness verifies it and checks the role
 * against the verb. NATS permissions (one user per role) are the other, independent check.
 */
export const CREDENTIAL_HEADER = 'Airlock-Credential';

/** Domain separation: a credential signature can never pass for a job token or a bundle signature. */
const DOMAIN = 'airlock-credential-v1.';
const MAX_LENGTH = 4096;

export const CredentialClaimsSchema = z.strictObject({
  /** Who: a person or an agent's name, recorded as the actor of everything done with it. */
  sub: z.string().min(1).max(200),
  role: RoleSchema,
  /** Only these runs (run-scoped agent credential), plus runs it opens itself. */
  runs: z.array(RunIdSchema).max(1000).optional(),
  /** Expiry, ms since the epoch; absent = does not expire (deployment credentials; rotate by re-keying). */
  exp: z.number().int().positive().optional(),
  iat: z.number().int().nonnegative(),
});
export type CredentialClaims = z.infer<typeof CredentialClaimsSchema>;

/** A caller the harness established from a verified credential (or, in `open` mode, trusted as stated). */
export interface Caller {
  principal: string;
  role: Role;
  /** Limited to these runs (and the ones it opens); absent = every run its role may touch. */
  runs?: readonly string[];
}

/** Signs a credential with the harness key. */
export function issueCredential(key: KeyObject, claims: { principal: string; role: Role; runs?: readonly string[]; ttlMs?: number; now?: number }): string {
  const now = claims.now ?? Date.now();
  const body: CredentialClaims = CredentialClaimsSchema.parse({
    sub: claims.principal,
    role: claims.role,
    ...(claims.runs ? { runs: [...claims.runs] } : {}),
    ...(claims.ttlMs !== undefined ? { exp: now + claims.ttlMs } : {}),
    iat: now,
  });
  const segment = Buffer.from(canonicalJson(body)).toString('base64url');
  const sig = sign(null, Buffer.from(DOMAIN + segment), key).toString('base64url');
  return `${segment}.${sig}`;
}

/** Checks a credential's signature, shape and expiry; `forbidden` with the reason otherwise. */
export function verifyCredential(publicKey: KeyObject, token: string, now = Date.now()): Caller {
  const refuse = (why: string): never => {
    throw new AirlockError('forbidden', `credential refused: ${why}`);
  };
  if (token.length > MAX_LENGTH) refuse('too long');
  const parts = token.split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) refuse('malformed');
  const [segment, sig] = parts as [string, string];
  let ok = false;
  try {
    ok = verify(null, Buffer.from(DOMAIN + segment), publicKey, Buffer.from(sig, 'base64url'));
  } catch {
    ok = false;
  }
  if (!ok) refuse('not signed by this harness');
  let claims: CredentialClaims;
  try {
    claims = CredentialClaimsSchema.parse(JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')));
  } catch {
    return refuse('malformed claims');
  }
  if (claims.exp !== undefined && claims.exp <= now) refuse(`expired at ${new Date(claims.exp).toISOString()}`);
  return { principal: claims.sub, role: claims.role, ...(claims.runs ? { runs: claims.runs } : {}) };
}
