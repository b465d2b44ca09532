import { Buffer } from 'node:buffer';
import { randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson, RunIdSchema, sha256Hex, StepNumberSchema } from '@airlock/proto';
import { TokenError, TrustError } from './errors.ts';
import { importPrivateKey, importPublicKey, keyId, type PrivateKeyInput, type PublicKeyInput } from './keys.ts';

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * What a job token grants: running exactly one command as one step of one run under one policy,
 * once, before `exp`.
 */
export const JobClaimsSchema = z.strictObject({
  runId: RunIdSchema,
  step: StepNumberSchema,
  /** Hash of the policy the harness validated the command under (the run's pinned policy). */
  policyHash: z.string().regex(HEX64),
  /** SHA-256 (hex) of the command text as UTF-8: see {@link commandHash}. */
  cmdSha256: z.string().regex(HEX64),
  /** Expiry, ms since the epoch. */
  exp: z.number().int().nonnegative(),
  /** 128 random bits, hex: makes every token unique so a verifier can refuse a replay. */
  nonce: z.string().regex(/^[0-9a-f]{32}$/),
  /** Issue time, ms since the epoch. */
  iat: z.number().int().nonnegative(),
  /**
   * An operator approved this exact command (the token is bound to its hash) after an `ask` verdict:
   * the runner then lets an `ask` of its own check through. Never a `deny`.
   */
  approved: z.strictObject({ step: StepNumberSchema, by: z.string().min(1) }).optional(),
});
export type JobClaims = z.infer<typeof JobClaimsSchema>;

/** What the runner knows independently of the token and checks the claims against. */
export interface JobExpectation {
  runId: string;
  step: number;
  policyHash: string;
  cmdSha256: string;
}

/** Default lifetime of a token made by {@link newJobClaims}: it only has to reach the runner. */
export const DEFAULT_JOB_TTL_MS = 60_000;

/**
 * Domain separation: what is signed is this prefix followed by the claims segment, so a job-token
 * signature can never be passed off as a bundle signature (or anything else the key signs).
 */
const TOKEN_DOMAIN = 'airlock-job-v1.';

/** Longest token accepted, in characters (claims are ~250 bytes); longer input is `malformed` without parsing. */
const MAX_TOKEN_LENGTH = 2048;

const B64URL = /^[A-Za-z0-9_-]+$/;

/** SHA-256 (hex) of a command's UTF-8 text: the `cmdSha256` claim. */
export function commandHash(cmd: string): string {
  return sha256Hex(cmd);
}

/** Input of {@link newJobClaims}. */
export interface NewJobClaimsInput {
  runId: string;
  step: number;
  policyHash: string;
  /** The exact command text of the exec request. */
  cmd: string;
  /** Lifetime from `now`. Default {@link DEFAULT_JOB_TTL_MS}. */
  ttlMs?: number;
  /** Issue time, ms since the epoch. Default `Date.now()`. */
  now?: number;
  /** The operator approval this step runs under (see {@link JobClaims.approved}). */
  approved?: { step: number; by: string };
}

/** Claims for one exec request, with a fresh random nonce. */
export function newJobClaims(input: NewJobClaimsInput): JobClaims {
  const now = input.now ?? Date.now();
  return {
    runId: input.runId,
    step: input.step,
    policyHash: input.policyHash,
    cmdSha256: commandHash(input.cmd),
    iat: now,
    exp: now + (input.ttlMs ?? DEFAULT_JOB_TTL_MS),
    nonce: randomBytes(16).toString('hex'),
    ...(input.approved ? { approved: { step: input.approved.step, by: input.approved.by } } : {}),
  };
}

/**
 * Signs claims into a compact token: `base64url(canonical JSON claims) + '.' + base64url(ed25519
 * signature)`, where the signature covers `"airlock-job-v1." + <claims segment>`. Throws
 * `TrustError('invalid_claims')` if the claims do not match {@link JobClaimsSchema}.
 */
export function signJob(claims: JobClaims, privateKey: PrivateKeyInput): string {
  const parsed = JobClaimsSchema.safeParse(claims);
  if (!parsed.success) {
    throw new TrustError('invalid_claims', `job claims are invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const payload = Buffer.from(canonicalJson(parsed.data), 'utf8').toString('base64url');
  const signature = sign(null, Buffer.from(TOKEN_DOMAIN + payload, 'ascii'), importPrivateKey(privateKey));
  return `${payload}.${signature.toString('base64url')}`;
}

/** Options of {@link JobVerifier}. */
export interface JobVerifierOptions {
  /** Tolerated difference between the harness's and the runner's clocks. Default 30 000 ms. */
  clockSkewMs?: number;
  /**
   * Longest token lifetime (`exp - iat`) accepted, which is also how long a nonce may have to be
   * remembered. Longer-lived tokens are `malformed`. Default 600 000 ms (10 min).
   */
  nonceTtlMs?: number;
  /**
   * Most unexpired nonces remembered. When full (after forgetting expired ones) further tokens
   * are refused with `capacity` rather than forgetting a live nonce (which would allow a replay).
   * Default 100 000 (a few MB).
   */
  maxNonces?: number;
}

/**
 * Verifies job tokens for one harness public key and refuses replays. One instance per runner
 * process (the nonce memory is what stops replays; a restarted runner still refuses tokens that
 * expired, so keep lifetimes short).
 */
export class JobVerifier {
  /** Fingerprint of the trusted harness key ({@link keyId}). */
  readonly keyId: string;
  readonly #key: KeyObject;
  readonly #skewMs: number;
  readonly #ttlMs: number;
  readonly #maxNonces: number;
  /** nonce → the time after which it can be forgotten (exp + skew). */
  readonly #nonces = new Map<string, number>();
  /** Min-heap of [forgetAt, nonce], to forget expired nonces in order. */
  readonly #heap: [number, string][] = [];

  constructor(publicKey: PublicKeyInput, options: JobVerifierOptions = {}) {
    this.#key = importPublicKey(publicKey);
    this.keyId = keyId(this.#key);
    this.#skewMs = options.clockSkewMs ?? 30_000;
    this.#ttlMs = options.nonceTtlMs ?? 600_000;
    this.#maxNonces = options.maxNonces ?? 100_000;
  }

  /** Nonces currently remembered (after the last eviction). */
  get rememberedNonces(): number {
    return this.#nonces.size;
  }

  /**
   * Checks `token` and returns its claims, or throws {@link TokenError}. In order: present
   * (`missing`), shape (`malformed`), signature (`bad_signature`), claims schema, issue time and
   * lifetime (`malformed`), expiry with skew (`expired`: valid while `now <= exp + clockSkewMs`), each
   * expected field (`mismatch`, `field` names it), then the nonce (`replayed`, or `capacity`).
   * Only a token that passes every check has its nonce remembered.
   */
  verify(token: string | null | undefined, expected: JobExpectation, now: number = Date.now()): JobClaims {
    if (token === undefined || token === null || token === '') throw new TokenError('missing', 'no job token');
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw new TokenError('malformed', 'the job token is not a string of reasonable length');
    const parts = token.split('.');
    if (parts.length !== 2 || !B64URL.test(parts[0]!) || !B64URL.test(parts[1]!)) {
      throw new TokenError('malformed', 'a job token is <base64url claims>.<base64url signature>');
    }
    const [payload, sig] = parts as [string, string];
    const signature = Buffer.from(sig, 'base64url');
    let good = false;
    try {
      good = signature.length === 64 && verify(null, Buffer.from(TOKEN_DOMAIN + payload, 'ascii'), this.#key, signature);
    } catch {
      good = false;
    }
    if (!good) throw new TokenError('bad_signature', `the job token is not signed by the harness key ${this.keyId.slice(0, 12)}`);
    let claims: JobClaims;
    try {
      claims = JobClaimsSchema.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
    } catch (cause) {
      throw new TokenError('malformed', 'the job token claims do not parse', { cause });
    }
    if (claims.iat > now + this.#skewMs) throw new TokenError('malformed', 'the job token was issued in the future (check the clocks)');
    if (claims.exp - claims.iat > this.#ttlMs) {
      throw new TokenError('malformed', `the job token lives ${claims.exp - claims.iat} ms, longer than the ${this.#ttlMs} ms accepted`);
    }
    if (now > claims.exp + this.#skewMs) throw new TokenError('expired', `the job token expired ${now - claims.exp} ms ago`);
    for (const field of ['runId', 'step', 'policyHash', 'cmdSha256'] as const) {
      if (claims[field] !== expected[field]) {
        throw new TokenError('mismatch', `the job token was signed for another ${field}`, { field });
      }
    }
    this.#evict(now);
    if (this.#nonces.has(claims.nonce)) throw new TokenError('replayed', 'this job token was already used');
    if (this.#nonces.size >= this.#maxNonces) {
      throw new TokenError('capacity', `${this.#nonces.size} unexpired job tokens are remembered already`);
    }
    const forgetAt = claims.exp + this.#skewMs;
    this.#nonces.set(claims.nonce, forgetAt);
    heapPush(this.#heap, [forgetAt, claims.nonce]);
    return claims;
  }

  /** Forgets nonces whose token can no longer pass the expiry check. */
  #evict(now: number): void {
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]![0] < now) {
      const [, nonce] = heapPop(heap)!;
      this.#nonces.delete(nonce);
    }
  }
}

function heapPush(heap: [number, string][], item: [number, string]): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (heap[p]![0] <= heap[i]![0]) break;
    [heap[p], heap[i]] = [heap[i]!, heap[p]!];
    i = p;
  }
}

function heapPop(heap: [number, string][]): [number, string] | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length > 0 && last !== undefined) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && heap[l]![0] < heap[m]![0]) m = l;
      if (r < heap.length && heap[r]![0] < heap[m]![0]) m = r;
      if (m === i) break;
      [heap[m], heap[i]] = [heap[i]!, heap[m]!];
      i = m;
    }
  }
  return top;
}
