import { Buffer } from 'node:buffer';
import { sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson, sha256Hex, type LogEvent } from '@airlock/proto';
import { checkChain, strictBase64, type BundleProblem } from './chain.ts';
import { TrustError } from './errors.ts';
import { exportPublicKey, importPrivateKey, importPublicKey, keyId, type PrivateKeyInput } from './keys.ts';

/** `format` of every bundle. */
export const BUNDLE_FORMAT = 'airlock-bundle';
/** `version` of the bundles this library writes and reads. */
export const BUNDLE_VERSION = 1;

/** Domain separation: a bundle signature covers this prefix plus the header digest, never a bare hash. */
const BUNDLE_DOMAIN = 'airlock-bundle-v1\n';

const HEX64 = z.string().regex(/^[0-9a-f]{64}$/);
const B64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);

/**
 * A proof bundle: one JSON document holding everything needed to check a run's log offline.
 *
 * `signature` is ed25519 (base64url) by `publicKey` over `"airlock-bundle-v1\n"` followed by the
 * SHA-256 hex of the canonical JSON of the signed header ({@link bundleHeader}): format, version,
 * runId, createdAt, publicKey, keyId, policyHash, headSeq, headHash and the sorted manifest
 * digests. The header commits to everything else by hash: every event through the hash chain
 * ending at `headHash`, the policy text through `policy.hash`, each manifest through its digest.
 * So a changed event is reported as that event, not as a bad signature.
 */
export const BundleSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  version: z.literal(BUNDLE_VERSION),
  runId: z.string().min(1),
  /** ISO-8601 time the bundle was built. */
  createdAt: z.string(),
  /** The signer's ed25519 public key, PEM (SPKI). */
  publicKey: z.string(),
  /** {@link keyId} of `publicKey`. */
  keyId: HEX64,
  /** The policy pinned to the run: its hash and its canonical JSON text. */
  policy: z.strictObject({ hash: z.string().min(1), text: z.string() }),
  /** `seq` of the last event (0 for an empty log). */
  headSeq: z.number().int().nonnegative(),
  /** SHA-256 of the last event's bytes (64 zeros for an empty log). */
  headHash: HEX64,
  /** The exact stored bytes of every event, base64, in log order. */
  events: z.array(z.strictObject({ bytes: B64 })),
  /** Snapshot manifests by digest (SHA-256 hex of the manifest bytes), base64. */
  manifests: z.record(HEX64, B64),
  /** base64url ed25519 signature, see above. */
  signature: z.string().regex(/^[A-Za-z0-9_-]+$/),
});
export type Bundle = z.infer<typeof BundleSchema>;

/** Computes a policy's hash from its text; the default is SHA-256 hex of the UTF-8 text. */
export type PolicyHashFn = (policyText: string) => string;

/** Input of {@link buildBundle}. */
export interface BuildBundleInput {
  runId: string;
  /** The exact stored bytes of every event of the run, in log order (as read from JetStream). */
  events: readonly Uint8Array[];
  /** Manifest bytes of the snapshots the log names, by digest. */
  manifests?: Readonly<Record<string, Uint8Array>> | ReadonlyMap<string, Uint8Array>;
  /** The pinned policy's canonical JSON text. */
  policyText: string;
  policyHash: string;
  /** Default: now. */
  createdAt?: Date | string;
  /** Default: SHA-256 hex of the text. */
  policyHashOf?: PolicyHashFn;
}

/** Options of {@link verifyBundle}. */
export interface VerifyBundleOptions {
  /**
   * Key id of the harness the verifier trusts. Without it, a bundle only proves it is internally
   * consistent and signed by the key it carries (anyone can make such a bundle); `trusted` is false.
   */
  trustedKeyId?: string;
  /** Default: SHA-256 hex of the text (what `@airlock/validate` computes over canonical JSON). */
  policyHashOf?: PolicyHashFn;
  /** Every `snapshot.created` event must have its manifest in the bundle. Default true. */
  requireManifests?: boolean;
}

/** Result of {@link verifyBundle}. */
export type BundleVerification =
  | {
      ok: true;
      runId: string;
      /** Number of events verified. */
      events: number;
      headHash: string;
      policyHash: string;
      manifests: number;
      keyId: string;
      /** The bundle was signed by `trustedKeyId` (false when none was given). */
      trusted: boolean;
      createdAt: string;
      /** The events that were verified, parsed, in order: use these, never a second read of the live log. */
      log: readonly LogEvent[];
      /** The policy text the run was pinned to, as verified against {@link policyHash}. */
      policyText: string;
    }
  | { ok: false; problem: BundleProblem };

/** The header that a bundle's signature covers (see {@link BundleSchema}). */
export function bundleHeader(b: Omit<Bundle, 'signature' | 'events'>): string {
  return canonicalJson({
    format: b.format,
    version: b.version,
    runId: b.runId,
    createdAt: b.createdAt,
    publicKey: b.publicKey,
    keyId: b.keyId,
    policyHash: b.policy.hash,
    headSeq: b.headSeq,
    headHash: b.headHash,
    manifestDigests: Object.keys(b.manifests).sort(),
  });
}

function signedMessage(b: Omit<Bundle, 'signature' | 'events'>): Buffer {
  return Buffer.from(BUNDLE_DOMAIN + sha256Hex(bundleHeader(b)), 'utf8');
}

/**
 * Builds and signs a proof bundle of one run. Checks the result with {@link verifyBundle} before
 * returning it and throws `TrustError('invalid_bundle_input')` (with the problem in `data`) if the
 * events do not form the run's chain, the policy text does not hash to `policyHash`, an event names
 * another policy, or a manifest is missing or does not hash to its digest.
 * Serialise it with `JSON.stringify`.
 */
export function buildBundle(input: BuildBundleInput, privateKey: PrivateKeyInput): Bundle {
  const key: KeyObject = importPrivateKey(privateKey);
  const publicKey = exportPublicKey(key, 'pem');
  const chain = checkChain(input.events, { runId: input.runId });
  if (!chain.ok) {
    throw new TrustError('invalid_bundle_input', `the events do not form the chain of run ${input.runId}: ${chain.problem.message}`, { data: { problem: chain.problem } });
  }
  const manifests: Record<string, string> = {};
  const entries = input.manifests instanceof Map ? [...input.manifests.entries()] : Object.entries(input.manifests ?? {});
  for (const [digest, bytes] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    manifests[digest] = Buffer.from(bytes).toString('base64');
  }
  const createdAt = input.createdAt === undefined ? new Date().toISOString() : typeof input.createdAt === 'string' ? input.createdAt : input.createdAt.toISOString();
  const unsigned = {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    runId: input.runId,
    createdAt,
    publicKey,
    keyId: keyId(key),
    policy: { hash: input.policyHash, text: input.policyText },
    headSeq: chain.headSeq,
    headHash: chain.headHash,
    manifests,
  } as const;
  const signature = sign(null, signedMessage(unsigned), key).toString('base64url');
  const bundle: Bundle = {
    ...unsigned,
    policy: { ...unsigned.policy },
    events: input.events.map((e) => ({ bytes: Buffer.from(e).toString('base64') })),
    signature,
  };
  const check = verifyBundle(bundle, input.policyHashOf ? { policyHashOf: input.policyHashOf } : {});
  if (!check.ok) {
    throw new TrustError('invalid_bundle_input', `the bundle would not verify: ${check.problem.message}`, { data: { problem: check.problem } });
  }
  return bundle;
}

/**
 * Verifies a proof bundle (its JSON text, its UTF-8 bytes, or the parsed object) offline and returns the first
 * problem found. Checks, in order: the format; the key id and signature of the header (and that
 * the key is `trustedKeyId`, if given); the event chain up to the signed head ({@link checkChain}:
 * parse, run, seq, prev links); that `run.opened` and `step.verdict` events name the bundle's
 * policy hash; that the policy text hashes to it; that each manifest hashes to its digest and
 * every snapshot the log names has one. Never throws for bad input.
 */
export function verifyBundle(input: string | Uint8Array | unknown, options: VerifyBundleOptions = {}): BundleVerification {
  const fail = (problem: BundleProblem): BundleVerification => ({ ok: false, problem });
  let raw: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      raw = JSON.parse(typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input));
    } catch {
      return fail({ code: 'format', message: 'the bundle is not JSON' });
    }
  }
  const parsed = BundleSchema.safeParse(raw);
  if (!parsed.success) {
    const where = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    return fail({ code: 'format', message: `not an ${BUNDLE_FORMAT} version ${BUNDLE_VERSION}: ${where.join('; ')}` });
  }
  const b = parsed.data;
  let pub: KeyObject;
  try {
    pub = importPublicKey(b.publicKey);
  } catch {
    return fail({ code: 'format', message: 'the bundle public key is not an ed25519 PEM key' });
  }
  const actualKeyId = keyId(pub);
  if (actualKeyId !== b.keyId) return fail({ code: 'signature', message: `the key id ${b.keyId.slice(0, 12)} is not the id of the bundle's key (${actualKeyId.slice(0, 12)})` });
  if (options.trustedKeyId !== undefined && options.trustedKeyId !== actualKeyId) {
    return fail({ code: 'signature', message: `signed by key ${actualKeyId.slice(0, 12)}, not by the trusted key ${options.trustedKeyId.slice(0, 12)}` });
  }
  let good = false;
  try {
    const sig = Buffer.from(b.signature, 'base64url');
    good = sig.length === 64 && verify(null, signedMessage(b), pub, sig);
  } catch {
    good = false;
  }
  if (!good) return fail({ code: 'signature', message: 'the bundle signature does not verify under its key' });

  const events: Buffer[] = [];
  for (const [index, e] of b.events.entries()) {
    const bytes = strictBase64(e.bytes);
    if (bytes === undefined) return fail({ code: 'format', seq: index + 1, index, message: `events[${index}].bytes is not base64` });
    events.push(bytes);
  }
  const chain = checkChain(events, { runId: b.runId, head: { seq: b.headSeq, hash: b.headHash } });
  if (!chain.ok) return chain;

  for (const [index, ev] of chain.parsed.entries()) {
    if ((ev.type === 'run.opened' || ev.type === 'step.verdict') && ev.policyHash !== b.policy.hash) {
      return fail({ code: 'policy_mismatch', seq: ev.seq, index, message: `event ${ev.seq} (${ev.type}) names policy ${ev.policyHash.slice(0, 12)}, not the bundle's ${b.policy.hash.slice(0, 12)}` });
    }
  }
  const policyHashOf = options.policyHashOf ?? sha256Hex;
  let computed: string;
  try {
    computed = policyHashOf(b.policy.text);
  } catch (err) {
    return fail({ code: 'policy_mismatch', message: `the policy text could not be hashed: ${err instanceof Error ? err.message : String(err)}` });
  }
  if (computed !== b.policy.hash) {
    return fail({ code: 'policy_mismatch', message: `the policy text hashes to ${computed.slice(0, 12)}, not to the bundle's policy hash ${b.policy.hash.slice(0, 12)}` });
  }

  for (const [digest, text] of Object.entries(b.manifests)) {
    const bytes = strictBase64(text);
    if (bytes === undefined || sha256Hex(bytes) !== digest) {
      return fail({ code: 'manifest_mismatch', message: `the manifest stored under ${digest.slice(0, 12)} does not hash to it` });
    }
  }
  if (options.requireManifests ?? true) {
    for (const [index, ev] of chain.parsed.entries()) {
      if (ev.type === 'snapshot.created' && !Object.hasOwn(b.manifests, ev.digest)) {
        return fail({ code: 'manifest_mismatch', seq: ev.seq, index, message: `snapshot ${ev.digest.slice(0, 12)} (event ${ev.seq}) has no manifest in the bundle` });
      }
    }
  }

  return {
    ok: true,
    runId: b.runId,
    events: chain.events,
    headHash: chain.headHash,
    policyHash: b.policy.hash,
    manifests: Object.keys(b.manifests).length,
    keyId: actualKeyId,
    trusted: options.trustedKeyId !== undefined,
    createdAt: b.createdAt,
    log: chain.parsed,
    policyText: b.policy.text,
  };
}
