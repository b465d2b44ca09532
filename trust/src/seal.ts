import { Buffer } from 'node:buffer';
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { createCurve, createUser, fromCurveSeed, fromPublic, fromSeed, type KeyPair } from '@nats-io/nkeys';
import { canonicalJson, sha256Hex } from '@airlock/proto';
import { TrustError } from './errors.ts';

/**
 * A runner's own identity, made once per runner at deployment time (`./airlock up`, compose's
 * credentials step) and kept only by that runner (a 0600 file).
 *
 * - `seed` is a NATS user nkey seed (`SU…`): it logs the runner into NATS as itself, and it is an
 *   ed25519 seed, so the same key signs the runner's replies and log events.
 * - `curveSeed` is an x25519 seed (`SX…`): secrets are sealed to its public half and only this
 *   runner can open them.
 */
export interface RunnerIdentity {
  runnerId: string;
  seed: string;
  curveSeed: string;
}

/**
 * What the harness pins per runner: the public halves of {@link RunnerIdentity}. `nkey` (`U…`) is
 * also the runner's NATS user, so the NATS identity and the signing key cannot diverge.
 */
export interface RunnerPublicKeys {
  runnerId: string;
  nkey: string;
  curve: string;
}

const RUNNER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Makes a fresh identity for `runnerId`. */
export function createRunnerIdentity(runnerId: string): RunnerIdentity {
  if (!RUNNER_ID.test(runnerId)) throw new TrustError('invalid_identity', `runner id ${JSON.stringify(runnerId)} is not [A-Za-z0-9_-]{1,64}`);
  return { runnerId, seed: dec.decode(createUser().getSeed()), curveSeed: dec.decode(createCurve().getSeed()) };
}

/** The public keys of an identity (what the harness and nats-server are configured with). */
export function publicKeysOf(identity: RunnerIdentity): RunnerPublicKeys {
  return { runnerId: identity.runnerId, nkey: userPair(identity.seed).getPublicKey(), curve: curvePair(identity.curveSeed).getPublicKey() };
}

/** Parses an identity (file contents), checking that both seeds are of the right kind. */
export function parseRunnerIdentity(value: unknown): RunnerIdentity {
  const v = value as Partial<RunnerIdentity> | null;
  if (!v || typeof v.runnerId !== 'string' || typeof v.seed !== 'string' || typeof v.curveSeed !== 'string' || !RUNNER_ID.test(v.runnerId)) {
    throw new TrustError('invalid_identity', 'a runner identity is {"runnerId", "seed": "SU…", "curveSeed": "SX…"}');
  }
  const identity = { runnerId: v.runnerId, seed: v.seed, curveSeed: v.curveSeed };
  publicKeysOf(identity);
  return identity;
}

/** Parses pinned public keys, checking that `nkey` is a user key and `curve` a curve key. */
export function parseRunnerPublicKeys(value: unknown): RunnerPublicKeys {
  const v = value as Partial<RunnerPublicKeys> | null;
  if (!v || typeof v.runnerId !== 'string' || !RUNNER_ID.test(v.runnerId) || typeof v.nkey !== 'string' || typeof v.curve !== 'string' || !v.nkey.startsWith('U') || !v.curve.startsWith('X')) {
    throw new TrustError('invalid_identity', 'pinned runner keys are {"runnerId", "nkey": "U…", "curve": "X…"}');
  }
  try {
    fromPublic(v.nkey);
    fromPublic(v.curve);
  } catch (cause) {
    throw new TrustError('invalid_identity', `the keys pinned for runner ${v.runnerId} do not decode`, { cause });
  }
  return { runnerId: v.runnerId, nkey: v.nkey, curve: v.curve };
}

function userPair(seed: string): KeyPair {
  try {
    if (!seed.startsWith('SU')) throw new Error('not a user seed');
    return fromSeed(enc.encode(seed));
  } catch (cause) {
    throw new TrustError('invalid_identity', 'the runner seed is not a NATS user nkey seed (SU…)', { cause });
  }
}

function curvePair(seed: string): KeyPair {
  try {
    if (!seed.startsWith('SX')) throw new Error('not a curve seed');
    return fromCurveSeed(enc.encode(seed));
  } catch (cause) {
    throw new TrustError('invalid_identity', 'the runner curve seed is not an x25519 nkey seed (SX…)', { cause });
  }
}

/** Where sealed secrets may be opened: one step of one run. Part of the sealed plaintext. */
export interface SealBinding {
  runId: string;
  step: number;
}

/**
 * Secrets on the wire: a NaCl box (x25519 + XSalsa20-Poly1305, the nkeys curve construction) from a
 * fresh one-time sender key to the runner's curve key. Only the holder of that runner's curve seed
 * can open it; anyone else on the bus sees random bytes of about the secrets' length.
 */
export interface SealedSecrets {
  /** The one-time sender's public curve key (`X…`). */
  from: string;
  /** The recipient's public curve key (`X…`): which runner may open it. */
  to: string;
  /** The box, base64. */
  box: string;
}

/**
 * Seals `secrets` for one step to the runner whose curve public key is `recipient`. The run id and
 * step go inside the box, so a sealed blob replayed into another request does not open there.
 */
export function sealSecrets(secrets: Readonly<Record<string, string>>, recipient: string, bind: SealBinding): SealedSecrets {
  const sender = createCurve();
  try {
    const plain = enc.encode(canonicalJson({ runId: bind.runId, step: bind.step, secrets }));
    const box = sender.seal(plain, recipient);
    return { from: sender.getPublicKey(), to: recipient, box: Buffer.from(box).toString('base64') };
  } catch (cause) {
    throw new TrustError('invalid_identity', 'cannot seal to that recipient (not a curve public key X…)', { cause });
  } finally {
    sender.clear();
  }
}

/**
 * Opens secrets sealed by {@link sealSecrets}. Throws `TrustError('sealed_invalid')` when the box was
 * sealed to another key, was modified, or is bound to another run or step.
 */
export function openSecrets(sealed: SealedSecrets, curveSeed: string, bind: SealBinding): Record<string, string> {
  const me = curvePair(curveSeed);
  let plain: Uint8Array | null;
  try {
    if (sealed.to !== me.getPublicKey()) throw new TrustError('sealed_invalid', 'the secrets were sealed to another runner');
    plain = me.open(new Uint8Array(Buffer.from(sealed.box, 'base64')), sealed.from);
  } catch (cause) {
    if (cause instanceof TrustError) throw cause;
    throw new TrustError('sealed_invalid', 'the sealed secrets are malformed', { cause });
  }
  if (!plain) throw new TrustError('sealed_invalid', 'the sealed secrets do not open with this runner\'s key (tampered with, or sealed to another key)');
  let body: { runId?: unknown; step?: unknown; secrets?: unknown };
  try {
    body = JSON.parse(dec.decode(plain)) as typeof body;
  } catch (cause) {
    throw new TrustError('sealed_invalid', 'the sealed secrets are not JSON', { cause });
  }
  if (body.runId !== bind.runId || body.step !== bind.step) {
    throw new TrustError('sealed_invalid', `the sealed secrets are bound to run ${String(body.runId)} step ${String(body.step)}, not run ${bind.runId} step ${bind.step}`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((body.secrets ?? {}) as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new TrustError('sealed_invalid', `sealed secret ${k} is not a string`);
    out[k] = v;
  }
  return out;
}

/** What a runner signs for a reply: which request it answers and the hash of what it answers. */
export interface ReplyStatement {
  kind: 'open' | 'exec' | 'close' | 'heartbeat' | 'file' | 'signal' | 'rollback';
  runnerId: string;
  runId: string;
  /** Step number for `exec`; 0 otherwise. */
  step: number;
  /** The reply body without its `sig` field. */
  result: unknown;
}

function replyBytes(s: ReplyStatement): Uint8Array {
  return enc.encode(`airlock-reply/v1\n${s.kind}\n${s.runnerId}\n${s.runId}\n${s.step}\n${sha256Hex(canonicalJson(s.result))}`);
}

/** `storedSha256`: the writer's own sha256 (hex) of `stored`, when it has it (the chain needs it anyway: one hash pass per event, not two). */
function logBytes(runnerId: string, stored: Uint8Array, storedSha256?: string): Uint8Array {
  return enc.encode(`airlock-log/v1\n${runnerId}\n${storedSha256 ?? sha256Hex(stored)}`);
}

/** RFC 4648 base32 (the nkeys text encoding), no padding. */
function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new TrustError('invalid_identity', 'not an nkey (base32)');
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** DER header of a PKCS#8 ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The nkey seed as a node:crypto ed25519 key. Signing goes through node:crypto (OpenSSL): the nkeys
 * library's pure-JS tweetnacl took 17 ms per signature on this machine against 0.045 ms, and every
 * output chunk a runner logs is signed. The same ed25519 keys; the unit test checks each side
 * verifies the other's signatures.
 */
function seedKey(seed: string): KeyObject {
  userPair(seed);
  // Decoded seed: 2 prefix bytes (seed + user), the 32-byte ed25519 seed, 2 CRC bytes.
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, base32Decode(seed).subarray(2, 34)]), format: 'der', type: 'pkcs8' });
}

/** A user nkey (`U…`) as a node:crypto ed25519 public key. */
function nkeyPublicKey(nkey: string): KeyObject {
  fromPublic(nkey);
  // Decoded public key: 1 prefix byte, the 32 key bytes, 2 CRC bytes.
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base32Decode(nkey).subarray(1, 33).toString('base64url') }, format: 'jwk' });
}

/** A runner's signing key (its nkey seed), for replies and log events. */
export class RunnerSigner {
  readonly runnerId: string;
  readonly #key: KeyObject;

  constructor(identity: RunnerIdentity) {
    this.runnerId = identity.runnerId;
    this.#key = seedKey(identity.seed);
  }

  /** Signature (base64url) over a reply statement. */
  signReply(s: Omit<ReplyStatement, 'runnerId'>): string {
    return cryptoSign(null, replyBytes({ ...s, runnerId: this.runnerId }), this.#key).toString('base64url');
  }

  /** Signature (base64url) over a log event's stored bytes. */
  signLog(stored: Uint8Array, storedSha256?: string): string {
    return cryptoSign(null, logBytes(this.runnerId, stored, storedSha256), this.#key).toString('base64url');
  }
}

const publicKeys = new Map<string, KeyObject>();

function verifyWith(nkey: string, data: Uint8Array, sig: string | undefined): boolean {
  if (!sig || !/^[A-Za-z0-9_-]+$/.test(sig)) return false;
  try {
    let key = publicKeys.get(nkey);
    if (!key) {
      key = nkeyPublicKey(nkey);
      if (publicKeys.size > 4096) publicKeys.clear();
      publicKeys.set(nkey, key);
    }
    return cryptoVerify(null, data, key, Buffer.from(sig, 'base64url'));
  } catch {
    return false;
  }
}

/** Whether `sig` is the signature of runner `keys` over the reply statement. */
export function verifyReply(keys: RunnerPublicKeys, s: Omit<ReplyStatement, 'runnerId'>, sig: string | undefined): boolean {
  return verifyWith(keys.nkey, replyBytes({ ...s, runnerId: keys.runnerId }), sig);
}

/** Whether `sig` is runner `keys`' signature over a log event's stored bytes. */
export function verifyLogSignature(keys: RunnerPublicKeys, stored: Uint8Array, sig: string | undefined): boolean {
  return verifyWith(keys.nkey, logBytes(keys.runnerId, stored), sig);
}

/** The harness signs the log events it writes with its job-token key (ed25519, node:crypto). */
export function signHarnessLog(privateKey: KeyObject, stored: Uint8Array, storedSha256?: string): string {
  return cryptoSign(null, logBytes('harness', stored, storedSha256), privateKey).toString('base64url');
}

/** Whether `sig` is the harness's signature over a log event's stored bytes. */
export function verifyHarnessLog(publicKey: KeyObject, stored: Uint8Array, sig: string | undefined): boolean {
  if (!sig || !/^[A-Za-z0-9_-]+$/.test(sig)) return false;
  try {
    return cryptoVerify(null, logBytes('harness', stored), publicKey, Buffer.from(sig, 'base64url'));
  } catch {
    return false;
  }
}
