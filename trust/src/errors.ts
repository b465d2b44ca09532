/**
 * Why a job token was refused. Runners answer a refused exec request with the code, never with the
 * token itself (it is a bearer credential until it expires).
 */
export const tokenErrorCodes = {
  missing: 'The request carries no job token; the harness must sign every exec request.',
  malformed: 'The token is not `<base64url claims>.<base64url signature>` with valid claims (or its lifetime is longer than the verifier accepts, or it was issued in the future).',
  bad_signature: 'The signature does not verify under the harness public key: forged, tampered with, or signed by another harness.',
  expired: 'The token expired (beyond the allowed clock skew); the harness must sign a new one.',
  replayed: 'This token (its nonce) was already accepted once; every exec request needs a fresh token.',
  mismatch: 'The token was signed for another run, step, policy or command (`field` names which).',
  capacity: 'The verifier remembers too many unexpired nonces to accept another without risking a replay; retry after tokens expire.',
} as const;

/** A stable reason a job token was refused. */
export type TokenErrorCode = keyof typeof tokenErrorCodes;

/** A refused job token. `code` is stable; `field` names the claim that did not match (code `mismatch`). */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  readonly code: TokenErrorCode;
  /** The claim that differed from what the verifier expected (`mismatch` only). */
  readonly field: string | undefined;

  constructor(code: TokenErrorCode, message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options?.field;
  }
}

/** Errors of the key helpers and builders (bad input from the caller, not an attack). */
export const trustErrorCodes = {
  invalid_key: 'The key is not an ed25519 key in a supported form (KeyObject, PEM, or 32 raw bytes as base64).',
  invalid_claims: 'The claims given to signJob do not match JobClaimsSchema (a programming error in the signer).',
  invalid_secret: 'A secret given to the redactor has no name or a value that is not a string.',
  invalid_bundle_input: 'The events, policy or manifests given to buildBundle do not form a verifiable bundle (`problem` says why).',
  invalid_identity: 'A runner identity (nkey seed, curve seed, public keys) is malformed or names another runner.',
  sealed_invalid: 'Sealed secrets could not be opened with this runner\'s curve key (sealed to another runner, tampered with, or bound to another run or step).',
  bad_signature: 'A runner signature (reply or log event) does not verify under the public key pinned for that runner.',
} as const;

/** A stable code for {@link TrustError}. */
export type TrustErrorCode = keyof typeof trustErrorCodes;

/** A caller passed something that cannot be used (a non-ed25519 key, a nameless secret, a broken log). */
export class TrustError extends Error {
  override readonly name = 'TrustError';
  readonly code: TrustErrorCode;
  /** Structured detail, e.g. the bundle problem for `invalid_bundle_input`. */
  readonly data: Record<string, unknown> | undefined;

  constructor(code: TrustErrorCode, message: string, options?: { cause?: unknown; data?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.data = options?.data;
  }
}
