import { Buffer } from 'node:buffer';
import { sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, GENESIS_HASH, sha256Hex, type LogEvent, type LogEventInput } from '@airlock/proto';
import { BundleSchema, buildBundle, bundleHeader, verifyBundle, type Bundle, type BundleVerification } from './bundle.ts';
import { bundleProblemCodes, chainHash, checkChain, type BundleProblemCode } from './chain.ts';
import { TrustError } from './errors.ts';
import { generateSigningKey, keyId } from './keys.ts';

const RUN = '01JABCDEFGHJKMNPQRSTVWXYZ0';
const OTHER_RUN = '01JABCDEFGHJKMNPQRSTVWXYZ1';
const POLICY_TEXT = canonicalJson({ name: 'default', rules: [{ id: 'exec.remote_code', verdict: 'deny' }], version: 1 });
const POLICY = sha256Hex(POLICY_TEXT);
const MANIFEST = Buffer.from(canonicalJson({ entries: [{ path: 'a.txt', sha256: 'f'.repeat(64), size: 3 }] }));
const DIGEST = sha256Hex(MANIFEST);
const key = generateSigningKey();

/** Encodes events the way the ledger writer does: JSON bytes, each naming the sha256 of the previous one's bytes. */
function chain(inputs: LogEventInput[], runId = RUN): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = GENESIS_HASH;
  inputs.forEach((input, i) => {
    const event = { ...input, v: 1, runId, seq: i + 1, ts: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), by: i % 2 ? 'harness' : 'runner:r1', prev } as LogEvent;
    const bytes = new TextEncoder().encode(JSON.stringify(event));
    out.push(bytes);
    prev = chainHash(bytes);
  });
  return out;
}

function runEvents(policyHash = POLICY): LogEventInput[] {
  return [
    { type: 'run.opened', image: 'airlock/base', runnerId: 'r1', workspace: '/w', mountPath: '/workspace', containerId: 'c1', user: '1000:1000', policyHash },
    { type: 'step.requested', step: 1, cmd: 'echo hi > a.txt' },
    { type: 'step.verdict', step: 1, cmd: 'echo hi > a.txt', verdict: 'allow', rule: 'policy.allow', reason: 'no rule matched', policyHash },
    { type: 'step.started', step: 1, containerId: 'c1' },
    { type: 'step.output', step: 1, stream: 'stdout', offset: 0, data: Buffer.from('hi\n').toString('base64') },
    { type: 'step.exited', step: 1, result: { runId: RUN, step: 1, exitCode: 0, signal: null, oomKilled: false, timedOut: false, sandboxDied: false, durationMs: 12, stdoutBytes: 3, stderrBytes: 0, truncated: false } },
    { type: 'snapshot.created', step: 1, digest: DIGEST, files: 1, totalBytes: 3, added: 1, modified: 0, deleted: 0, bytesUploaded: 3, durationMs: 4 },
    { type: 'run.closed', reason: 'done' },
  ] as LogEventInput[];
}

const EVENTS = chain(runEvents());
const N = EVENTS.length;

function build(events: Uint8Array[] = EVENTS, over: Partial<Parameters<typeof buildBundle>[0]> = {}): Bundle {
  return buildBundle({ runId: RUN, events, manifests: { [DIGEST]: MANIFEST }, policyText: POLICY_TEXT, policyHash: POLICY, createdAt: '2026-01-01T00:00:10.000Z', ...over }, key.privateKey);
}

/** The bundle with its events replaced (the header and signature untouched). */
function withEvents(b: Bundle, events: Uint8Array[]): Bundle {
  return { ...b, events: events.map((e) => ({ bytes: Buffer.from(e).toString('base64') })) };
}

function problem(v: BundleVerification): { code: BundleProblemCode; seq?: number; index?: number } {
  if (v.ok) throw new Error('expected the bundle to fail verification');
  const { code, seq, index } = v.problem;
  return { code, ...(seq === undefined ? {} : { seq }), ...(index === undefined ? {} : { index }) };
}

describe('proof bundles: building and verifying', () => {
  const bundle = build();

  it('a built bundle verifies, as an object and as JSON text, and is trusted under its key id', () => {
    expect(BundleSchema.parse(bundle)).toEqual(bundle);
    const text = JSON.stringify(bundle);
    const v = verifyBundle(text, { trustedKeyId: keyId(key.publicKey) });
    expect(v).toEqual({
      ok: true,
      runId: RUN,
      events: N,
      headHash: chainHash(EVENTS[N - 1]!),
      policyHash: POLICY,
      manifests: 1,
      keyId: keyId(key.publicKey),
      trusted: true,
      createdAt: '2026-01-01T00:00:10.000Z',
      // The verified events themselves, so callers (replay) use what was verified, not a second read.
      log: EVENTS.map((e) => JSON.parse(Buffer.from(e).toString('utf8')) as unknown),
      policyText: bundle.policy.text,
    });
    expect(verifyBundle(bundle)).toMatchObject({ ok: true, trusted: false });
    expect(verifyBundle(Buffer.from(text))).toMatchObject({ ok: true });
    expect(bundle.headSeq).toBe(N);
    expect(Buffer.from(bundle.events[2]!.bytes, 'base64').equals(Buffer.from(EVENTS[2]!))).toBe(true);
  });

  it('an empty run makes a valid bundle whose head is the genesis hash', () => {
    const empty = buildBundle({ runId: RUN, events: [], policyText: POLICY_TEXT, policyHash: POLICY }, key.privateKey);
    expect(empty.headHash).toBe(GENESIS_HASH);
    expect(verifyBundle(empty)).toMatchObject({ ok: true, events: 0 });
  });

  it('flipping any one byte of any event is reported as modified_event naming that event', () => {
    for (let k = 0; k < N; k++) {
      const original = EVENTS[k]!;
      for (let p = 0; p < original.length; p++) {
        const events = EVENTS.map((e) => Uint8Array.from(e));
        events[k]![p]! ^= 0x01;
        expect(problem(verifyBundle(withEvents(bundle, events))), `event ${k + 1}, byte ${p} (${String.fromCharCode(original[p]!)})`).toEqual({ code: 'modified_event', seq: k + 1, index: k });
      }
    }
  });

  it('with two events modified, the first one is reported', () => {
    const events = EVENTS.map((e) => Uint8Array.from(e));
    events[1]![events[1]!.indexOf(0x68 /* h */)]! ^= 1;
    events[4]![10]! ^= 1;
    expect(problem(verifyBundle(withEvents(bundle, events)))).toEqual({ code: 'modified_event', seq: 2, index: 1 });
  });

  it('rewriting the last event (valid JSON, right seq and prev) is caught by the signed head', () => {
    const last = JSON.parse(Buffer.from(EVENTS[N - 1]!).toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...last, reason: 'nothing to see' }));
    expect(problem(verifyBundle(withEvents(bundle, [...EVENTS.slice(0, -1), forged])))).toEqual({ code: 'modified_event', seq: N, index: N - 1 });
  });

  it('rewriting a middle event consistently (every later prev recomputed) is still caught by the signed head', () => {
    const inputs = runEvents();
    (inputs[1] as { cmd: string }).cmd = 'echo innocent';
    const rechained = chain(inputs);
    const v = problem(verifyBundle(withEvents(bundle, rechained)));
    expect(v.code).toBe('modified_event');
  });

  it('dropping one event is reported as missing_event naming it, wherever it was', () => {
    for (let k = 0; k < N; k++) {
      const events = EVENTS.filter((_e, i) => i !== k);
      expect(problem(verifyBundle(withEvents(bundle, events))), `drop ${k + 1}`).toMatchObject({ code: 'missing_event', seq: k + 1 });
    }
    expect(problem(verifyBundle(withEvents(bundle, EVENTS.slice(0, 3))))).toMatchObject({ code: 'missing_event', seq: 4 });
  });

  it('swapping two events is reported as out_of_order naming the first event out of place', () => {
    const swap = (a: number, b: number) => {
      const events = [...EVENTS];
      [events[a], events[b]] = [events[b]!, events[a]!];
      return events;
    };
    expect(problem(verifyBundle(withEvents(bundle, swap(2, 3))))).toEqual({ code: 'out_of_order', seq: 4, index: 2 });
    expect(problem(verifyBundle(withEvents(bundle, swap(0, 1))))).toEqual({ code: 'out_of_order', seq: 2, index: 0 });
    expect(problem(verifyBundle(withEvents(bundle, swap(1, 6))))).toEqual({ code: 'out_of_order', seq: 7, index: 1 });
    const dup = [...EVENTS.slice(0, 4), EVENTS[3]!, ...EVENTS.slice(4)];
    expect(problem(verifyBundle(withEvents(bundle, dup)))).toEqual({ code: 'out_of_order', seq: 4, index: 4 });
  });

  it('an event appended after the signed head is reported, even when correctly chained', () => {
    const extra = chain([...runEvents(), { type: 'run.closed', reason: 'again' } as LogEventInput]);
    expect(problem(verifyBundle(withEvents(bundle, extra)))).toEqual({ code: 'modified_event', seq: N + 1, index: N });
  });

  it('a tampered signature or signed header field fails the signature check', () => {
    const sig = Buffer.from(bundle.signature, 'base64url');
    sig[5]! ^= 0x80;
    expect(problem(verifyBundle({ ...bundle, signature: sig.toString('base64url') }))).toEqual({ code: 'signature' });
    expect(problem(verifyBundle({ ...bundle, signature: bundle.signature.slice(0, 20) }))).toEqual({ code: 'signature' });
    expect(problem(verifyBundle({ ...bundle, createdAt: '2030-01-01T00:00:00.000Z' }))).toEqual({ code: 'signature' });
    expect(problem(verifyBundle({ ...bundle, runId: OTHER_RUN }))).toEqual({ code: 'signature' });
    expect(problem(verifyBundle({ ...bundle, headSeq: N - 1 }))).toEqual({ code: 'signature' });
    expect(problem(verifyBundle({ ...bundle, policy: { hash: 'b'.repeat(64), text: bundle.policy.text } }))).toEqual({ code: 'signature' });
    const { [DIGEST]: _gone, ...noManifest } = bundle.manifests;
    expect(problem(verifyBundle({ ...bundle, manifests: noManifest }))).toEqual({ code: 'signature' });
  });

  it('a bundle signed by another key fails against the trusted key id, and a key id that is not its key fails always', () => {
    const intruder = generateSigningKey();
    const forged = buildBundle({ runId: RUN, events: EVENTS, manifests: { [DIGEST]: MANIFEST }, policyText: POLICY_TEXT, policyHash: POLICY }, intruder.privateKey);
    expect(verifyBundle(forged)).toMatchObject({ ok: true, trusted: false });
    expect(problem(verifyBundle(forged, { trustedKeyId: keyId(key.publicKey) }))).toEqual({ code: 'signature' });
    // Claiming the trusted key id while carrying another key.
    expect(problem(verifyBundle({ ...forged, keyId: keyId(key.publicKey) }, { trustedKeyId: keyId(key.publicKey) }))).toEqual({ code: 'signature' });
    // Swapping in the trusted public key without its private half.
    const swapped = { ...forged, publicKey: bundle.publicKey, keyId: bundle.keyId };
    expect(problem(verifyBundle(swapped, { trustedKeyId: keyId(key.publicKey) }))).toEqual({ code: 'signature' });
  });

  it('a policy text that does not hash to the policy hash is policy_mismatch', () => {
    const text = POLICY_TEXT.replace('deny', 'allow');
    expect(problem(verifyBundle({ ...bundle, policy: { hash: POLICY, text } }))).toEqual({ code: 'policy_mismatch' });
    expect(() => build(EVENTS, { policyText: text })).toThrow(TrustError);
  });

  it('an event naming another policy is policy_mismatch, naming the event', () => {
    const events = chain(runEvents('c'.repeat(64)));
    try {
      build(events);
      throw new Error('expected buildBundle to refuse');
    } catch (err) {
      expect(err).toBeInstanceOf(TrustError);
      expect((err as TrustError).data?.problem).toMatchObject({ code: 'policy_mismatch', seq: 1, index: 0 });
    }
  });

  it('the policy hash function is injectable', () => {
    const policyHashOf = (t: string) => sha256Hex(`v2:${t}`);
    const hash = policyHashOf(POLICY_TEXT);
    const b = build(chain(runEvents(hash)), { policyHash: hash, policyHashOf });
    expect(verifyBundle(b, { policyHashOf })).toMatchObject({ ok: true });
    expect(problem(verifyBundle(b))).toEqual({ code: 'policy_mismatch' });
  });

  it('a manifest that does not hash to its digest is manifest_mismatch; a snapshot without a manifest too', () => {
    const bad = Buffer.from(MANIFEST);
    bad[3]! ^= 1;
    expect(problem(verifyBundle({ ...bundle, manifests: { [DIGEST]: bad.toString('base64') } }))).toEqual({ code: 'manifest_mismatch' });
    expect(() => build(EVENTS, { manifests: {} })).toThrow(expect.objectContaining({ code: 'invalid_bundle_input' }));
    // Signed without the manifest, the bundle is still complete when the verifier does not require manifests.
    const header = { ...bundle, manifests: {} };
    const signature = sign(null, Buffer.from(`airlock-bundle-v1\n${sha256Hex(bundleHeader(header))}`), key.privateKey).toString('base64url');
    const unsignedManifests = { ...header, signature };
    expect(problem(verifyBundle(unsignedManifests))).toEqual({ code: 'manifest_mismatch', seq: 7, index: 6 });
    expect(verifyBundle(unsignedManifests, { requireManifests: false })).toMatchObject({ ok: true });
    // Manifests given as a Map work the same.
    expect(verifyBundle(build(EVENTS, { manifests: new Map([[DIGEST, MANIFEST]]) }))).toMatchObject({ ok: true });
  });

  it('events of another run are wrong_run', () => {
    const other = chain(runEvents(), OTHER_RUN);
    expect(() => build(other)).toThrow(expect.objectContaining({ code: 'invalid_bundle_input', data: { problem: expect.objectContaining({ code: 'wrong_run', seq: 1 }) } }));
    expect(checkChain(other, { runId: RUN })).toMatchObject({ ok: false, problem: { code: 'wrong_run', seq: 1, index: 0 } });
  });

  it('anything that is not a version 1 bundle is a format problem', () => {
    expect(problem(verifyBundle('{not json'))).toEqual({ code: 'format' });
    expect(problem(verifyBundle({ ...bundle, version: 2 }))).toEqual({ code: 'format' });
    expect(problem(verifyBundle({ ...bundle, format: 'zip' }))).toEqual({ code: 'format' });
    expect(problem(verifyBundle({ ...bundle, extra: 1 }))).toEqual({ code: 'format' });
    expect(problem(verifyBundle({ ...bundle, publicKey: 'nope' }))).toEqual({ code: 'format' });
    expect(problem(verifyBundle({ ...bundle, events: [{ bytes: 'a' }] }))).toMatchObject({ code: 'format', index: 0 });
    expect(problem(verifyBundle(null))).toEqual({ code: 'format' });
    expect(problem(verifyBundle(Buffer.from([0xff, 0xfe])))).toEqual({ code: 'format' });
  });

  it('every problem code is documented', () => {
    const codes: BundleProblemCode[] = ['format', 'signature', 'missing_event', 'modified_event', 'out_of_order', 'policy_mismatch', 'manifest_mismatch', 'wrong_run'];
    expect(Object.keys(bundleProblemCodes).sort()).toEqual([...codes].sort());
  });
});

describe('checkChain', () => {
  it('accepts a chain and returns its head', () => {
    const r = checkChain(EVENTS);
    expect(r).toMatchObject({ ok: true, events: N, headSeq: N, headHash: chainHash(EVENTS[N - 1]!) });
    if (r.ok) expect(r.parsed.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(checkChain([])).toMatchObject({ ok: true, events: 0, headHash: GENESIS_HASH });
  });

  it('without a head cannot see a change to the last event, with one it can', () => {
    const last = Buffer.from(EVENTS[N - 1]!);
    last[last.indexOf('done')]! ^= 1; // 'done' -> 'eone': still a valid event
    const events = [...EVENTS.slice(0, -1), last];
    expect(checkChain(events).ok).toBe(true);
    expect(checkChain(events, { head: { seq: N, hash: chainHash(EVENTS[N - 1]!) } })).toMatchObject({ ok: false, problem: { code: 'modified_event', seq: N } });
  });

  it('attributes a change of the first event to the first event', () => {
    const first = Buffer.from(EVENTS[0]!);
    first[first.indexOf('airlock/base')]! ^= 2;
    expect(checkChain([first, ...EVENTS.slice(1)])).toMatchObject({ ok: false, problem: { code: 'modified_event', seq: 1, index: 0 } });
  });

  it('a correctly chained event of an unknown type is a format problem, not a modification', () => {
    const events = chain([...runEvents().slice(0, 2), { type: 'step.teleported', step: 1 } as unknown as LogEventInput, ...runEvents().slice(2)]);
    expect(checkChain(events)).toMatchObject({ ok: false, problem: { code: 'format', seq: 3, index: 2 } });
  });

  it('chainHash is the sha256 of the exact bytes, as the ledger writer computes prev', () => {
    const second = JSON.parse(Buffer.from(EVENTS[1]!).toString()) as { prev: string };
    expect(second.prev).toBe(chainHash(EVENTS[0]!));
    expect(chainHash(new Uint8Array())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});
