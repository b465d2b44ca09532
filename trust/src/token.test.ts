import { Buffer } from 'node:buffer';
import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { JobVerifier, commandHash, newJobClaims, signJob, type JobClaims, type JobExpectation } from './token.ts';
import { TokenError, TrustError, tokenErrorCodes, type TokenErrorCode } from './errors.ts';
import { exportPrivateKey, exportPublicKey, generateSigningKey, importPrivateKey, importPublicKey, keyId } from './keys.ts';

const RUN = '01JABCDEFGHJKMNPQRSTVWXYZ0';
const OTHER_RUN = '01JABCDEFGHJKMNPQRSTVWXYZ1';
const POLICY = 'a'.repeat(64);
const CMD = 'ls -la /workspace';
const T0 = 1_750_000_000_000;

const harness = generateSigningKey();
const expected: JobExpectation = { runId: RUN, step: 3, policyHash: POLICY, cmdSha256: commandHash(CMD) };

function claims(over: Partial<JobClaims> = {}): JobClaims {
  return { ...newJobClaims({ runId: RUN, step: 3, policyHash: POLICY, cmd: CMD, now: T0, ttlMs: 60_000 }), ...over };
}

function verifier(opts: ConstructorParameters<typeof JobVerifier>[1] = { clockSkewMs: 0 }): JobVerifier {
  return new JobVerifier(harness.publicKey, opts);
}

function refusal(fn: () => unknown): TokenError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TokenError);
    return err as TokenError;
  }
  throw new Error('expected a TokenError');
}

describe('job tokens', () => {
  it('a token signed by the harness verifies and returns its claims', () => {
    const c = claims();
    const token = signJob(c, harness.privateKey);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(verifier().verify(token, expected, T0 + 1000)).toEqual(c);
    expect(c.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(c.exp - c.iat).toBe(60_000);
  });

  it('the claims segment is canonical JSON (sorted keys)', () => {
    const token = signJob(claims(), harness.privateKey);
    const json = Buffer.from(token.split('.')[0]!, 'base64url').toString();
    expect(Object.keys(JSON.parse(json))).toEqual(['cmdSha256', 'exp', 'iat', 'nonce', 'policyHash', 'runId', 'step']);
  });

  it('missing: no token at all', () => {
    for (const t of [undefined, null, '']) expect(refusal(() => verifier().verify(t, expected, T0)).code).toBe('missing');
  });

  it('malformed: not two base64url segments, claims that do not parse, an absurd length', () => {
    const token = signJob(claims(), harness.privateKey);
    for (const t of ['abc', 'a.b.c', `${token}.x`, `${token.replace('.', '.!')}`, 'x'.repeat(5000)]) {
      expect(refusal(() => verifier().verify(t, expected, T0)).code, t.slice(0, 20)).toBe('malformed');
    }
    // Well signed, but the claims are not JobClaims.
    const { privateKey } = harness;
    const forgedShape = signAny({ hello: 'world' }, privateKey);
    expect(refusal(() => verifier().verify(forgedShape, expected, T0)).code).toBe('malformed');
  });

  it('bad_signature: tampered claims, a truncated signature, another key', () => {
    const token = signJob(claims(), harness.privateKey);
    const [payload, sig] = token.split('.') as [string, string];
    const json = JSON.parse(Buffer.from(payload, 'base64url').toString()) as JobClaims;
    const tampered = Buffer.from(JSON.stringify({ ...json, step: 4 })).toString('base64url');
    expect(refusal(() => verifier().verify(`${tampered}.${sig}`, { ...expected, step: 4 }, T0)).code).toBe('bad_signature');
    expect(refusal(() => verifier().verify(`${payload}.${sig.slice(0, 40)}`, expected, T0)).code).toBe('bad_signature');
    const flipped = Buffer.from(sig, 'base64url');
    flipped[10]! ^= 1;
    expect(refusal(() => verifier().verify(`${payload}.${flipped.toString('base64url')}`, expected, T0)).code).toBe('bad_signature');
    const intruder = generateSigningKey();
    expect(refusal(() => verifier().verify(signJob(claims(), intruder.privateKey), expected, T0)).code).toBe('bad_signature');
  });

  it('expired: by 1 ms past exp, and clock skew extends the window exactly', () => {
    const c = claims();
    const token = signJob(c, harness.privateKey);
    expect(verifier().verify(token, expected, c.exp)).toEqual(c);
    const e = refusal(() => verifier().verify(token, expected, c.exp + 1));
    expect(e.code).toBe('expired');
    const skewed = verifier({ clockSkewMs: 5000 });
    expect(skewed.verify(token, expected, c.exp + 5000)).toEqual(c);
    expect(refusal(() => verifier({ clockSkewMs: 5000 }).verify(token, expected, c.exp + 5001)).code).toBe('expired');
  });

  it('a token issued in the future is refused unless within the clock skew', () => {
    const token = signJob(claims(), harness.privateKey);
    expect(refusal(() => verifier({ clockSkewMs: 1000 }).verify(token, expected, T0 - 1001)).code).toBe('malformed');
    expect(verifier({ clockSkewMs: 1000 }).verify(token, expected, T0 - 1000).runId).toBe(RUN);
  });

  it('a token living longer than nonceTtlMs is refused (its nonce could not be remembered long enough)', () => {
    const token = signJob(claims({ exp: T0 + 3_600_000 }), harness.privateKey);
    const e = refusal(() => verifier({ clockSkewMs: 0, nonceTtlMs: 600_000 }).verify(token, expected, T0));
    expect(e.code).toBe('malformed');
    expect(e.message).toMatch(/longer than/);
  });

  it('mismatch: a token for another run, step, policy or command names the field', () => {
    const cases: [Partial<JobExpectation>, string][] = [
      [{ runId: OTHER_RUN }, 'runId'],
      [{ step: 4 }, 'step'],
      [{ policyHash: 'b'.repeat(64) }, 'policyHash'],
      [{ cmdSha256: commandHash('rm -rf /') }, 'cmdSha256'],
    ];
    for (const [change, field] of cases) {
      const token = signJob(claims(), harness.privateKey);
      const e = refusal(() => verifier().verify(token, { ...expected, ...change }, T0));
      expect([e.code, e.field]).toEqual(['mismatch', field]);
    }
  });

  it('replayed: the same token twice; a refused token does not burn its nonce', () => {
    const v = verifier();
    const token = signJob(claims(), harness.privateKey);
    expect(refusal(() => v.verify(token, { ...expected, step: 9 }, T0)).code).toBe('mismatch');
    v.verify(token, expected, T0);
    expect(refusal(() => v.verify(token, expected, T0 + 1)).code).toBe('replayed');
    // A fresh token for the same step is fine.
    v.verify(signJob(claims(), harness.privateKey), expected, T0 + 2);
  });

  it('remembers nonces only until they expire, and never more than maxNonces', () => {
    const v = verifier({ clockSkewMs: 0, maxNonces: 3 });
    for (let i = 0; i < 3; i++) v.verify(signJob(claims({ exp: T0 + 1000 * (i + 1) }), harness.privateKey), expected, T0);
    expect(v.rememberedNonces).toBe(3);
    // Full, nothing expired: refuse rather than forget a live nonce.
    expect(refusal(() => v.verify(signJob(claims({ exp: T0 + 10_000 }), harness.privateKey), expected, T0 + 500)).code).toBe('capacity');
    // At T0 + 2500 two have expired and are forgotten.
    v.verify(signJob(claims({ exp: T0 + 10_000 }), harness.privateKey), expected, T0 + 2500);
    expect(v.rememberedNonces).toBe(2);
  });

  it('every refusal code is documented', () => {
    const codes: TokenErrorCode[] = ['missing', 'malformed', 'bad_signature', 'expired', 'replayed', 'mismatch', 'capacity'];
    expect(Object.keys(tokenErrorCodes).sort()).toEqual([...codes].sort());
    for (const c of codes) expect(tokenErrorCodes[c].length).toBeGreaterThan(20);
  });

  it('signJob refuses invalid claims', () => {
    expect(() => signJob(claims({ runId: 'not-a-ulid' }), harness.privateKey)).toThrow(TrustError);
    expect(() => signJob(claims({ nonce: 'short' }), harness.privateKey)).toThrow(expect.objectContaining({ code: 'invalid_claims' }));
  });
});

describe('keys', () => {
  it('exports and imports public keys as PEM and raw base64 with the same key id', () => {
    const pem = exportPublicKey(harness.publicKey, 'pem');
    const raw = exportPublicKey(harness.publicKey, 'raw');
    expect(pem).toContain('-----BEGIN PUBLIC KEY-----');
    expect(Buffer.from(raw, 'base64')).toHaveLength(32);
    const id = keyId(harness.publicKey);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(keyId(pem)).toBe(id);
    expect(keyId(raw)).toBe(id);
    expect(keyId(Buffer.from(raw, 'base64'))).toBe(id);
    expect(keyId(Buffer.from(raw, 'base64').toString('base64url'))).toBe(id);
    expect(keyId(harness.privateKey)).toBe(id);
    expect(keyId(generateSigningKey().publicKey)).not.toBe(id);
    // A verifier built from the raw form accepts tokens of the PEM-exported private key.
    const priv = importPrivateKey(exportPrivateKey(harness.privateKey));
    const token = signJob(claims(), priv);
    expect(new JobVerifier(raw, { clockSkewMs: 0 }).verify(token, expected, T0).step).toBe(3);
    expect(importPublicKey(pem).asymmetricKeyType).toBe('ed25519');
  });

  it('refuses non-ed25519 keys and garbage with invalid_key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => importPublicKey(rsa.publicKey)).toThrow(expect.objectContaining({ code: 'invalid_key' }));
    expect(() => importPrivateKey(rsa.privateKey)).toThrow(TrustError);
    expect(() => importPublicKey('not a key')).toThrow(TrustError);
    expect(() => importPublicKey(Buffer.alloc(31))).toThrow(TrustError);
    expect(() => importPrivateKey(harness.publicKey)).toThrow(TrustError);
    expect(() => new JobVerifier('-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----')).toThrow(TrustError);
  });
});

/** Signs arbitrary JSON the way signJob does, to test what the verifier does with wrong claims. */
function signAny(value: unknown, key: KeyObject): string {
  const payload = Buffer.from(JSON.stringify(value)).toString('base64url');
  const sig = nodeSign(null, Buffer.from(`airlock-job-v1.${payload}`), key);
  return `${payload}.${sig.toString('base64url')}`;
}
