import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  RunnerSigner,
  createRunnerIdentity,
  openSecrets,
  parseRunnerIdentity,
  parseRunnerPublicKeys,
  publicKeysOf,
  sealSecrets,
  signHarnessLog,
  verifyHarnessLog,
  verifyLogSignature,
  verifyReply,
} from './seal.ts';
import { TrustError } from './errors.ts';
import { sha256Hex } from '@airlock/proto';
import { fromSeed } from '@nats-io/nkeys';

const a = createRunnerIdentity('runner-a');
const b = createRunnerIdentity('runner-b');
const bind = { runId: '01JABCDEFGHJKMNPQRSTVWXYZ0', step: 3 };

describe('sealed secrets', () => {
  it('open only with the recipient runner\'s curve seed, and the box does not contain the value', () => {
    const sealed = sealSecrets({ API_TOKEN: 'hunter2-very-secret' }, publicKeysOf(a).curve, bind);
    expect(JSON.stringify(sealed)).not.toContain('hunter2');
    expect(Buffer.from(sealed.box, 'base64').toString('latin1')).not.toContain('hunter2');
    expect(openSecrets(sealed, a.curveSeed, bind)).toEqual({ API_TOKEN: 'hunter2-very-secret' });
    expect(() => openSecrets(sealed, b.curveSeed, bind)).toThrow(TrustError);
    // Re-addressed to b, the box still does not open with b's key.
    expect(() => openSecrets({ ...sealed, to: publicKeysOf(b).curve }, b.curveSeed, bind)).toThrow(/do not open/);
  });

  it('refuse a box bound to another run or step, and a modified box', () => {
    const sealed = sealSecrets({ K: 'value-1234' }, publicKeysOf(a).curve, bind);
    expect(() => openSecrets(sealed, a.curveSeed, { ...bind, step: 4 })).toThrow(/bound to run/);
    const bytes = Buffer.from(sealed.box, 'base64');
    bytes[bytes.length - 1]! ^= 1;
    expect(() => openSecrets({ ...sealed, box: bytes.toString('base64') }, a.curveSeed, bind)).toThrow(/do not open/);
  });
});

describe('runner signatures', () => {
  it('verify a reply only under the signer\'s pinned key and for the same statement', () => {
    const s = { kind: 'exec' as const, runId: bind.runId, step: 3, result: { exitCode: 0, runId: bind.runId } };
    const sig = new RunnerSigner(a).signReply(s);
    expect(verifyReply(publicKeysOf(a), s, sig)).toBe(true);
    expect(verifyReply(publicKeysOf(b), s, sig)).toBe(false);
    expect(verifyReply({ ...publicKeysOf(a), runnerId: 'runner-b' }, s, sig)).toBe(false);
    expect(verifyReply(publicKeysOf(a), { ...s, result: { exitCode: 1, runId: bind.runId } }, sig)).toBe(false);
    expect(verifyReply(publicKeysOf(a), { ...s, step: 4 }, sig)).toBe(false);
    expect(verifyReply(publicKeysOf(a), s, undefined)).toBe(false);
  });

  it('verify log events by runner and by harness', () => {
    const stored = new TextEncoder().encode('{"type":"step.started"}');
    const sig = new RunnerSigner(a).signLog(stored);
    expect(verifyLogSignature(publicKeysOf(a), stored, sig)).toBe(true);
    expect(verifyLogSignature(publicKeysOf(b), stored, sig)).toBe(false);
    expect(verifyLogSignature(publicKeysOf(a), new TextEncoder().encode('{"type":"step.exited"}'), sig)).toBe(false);
    const h = generateKeyPairSync('ed25519');
    const hs = signHarnessLog(h.privateKey, stored);
    expect(verifyHarnessLog(h.publicKey, stored, hs)).toBe(true);
    expect(verifyHarnessLog(h.publicKey, stored, sig)).toBe(false);
  });

  it('sign with the nkey itself: node:crypto and nkeys agree on the keys both ways', () => {
    const data = new TextEncoder().encode('airlock');
    const pair = fromSeed(new TextEncoder().encode(a.seed));
    const viaNkeys = Buffer.from(pair.sign(new TextEncoder().encode(`airlock-log/v1\nrunner-a\n${sha256Hex(data)}`))).toString('base64url');
    expect(verifyLogSignature(publicKeysOf(a), data, viaNkeys)).toBe(true);
    const viaNode = new RunnerSigner(a).signLog(data);
    expect(pair.verify(new TextEncoder().encode(`airlock-log/v1\nrunner-a\n${sha256Hex(data)}`), new Uint8Array(Buffer.from(viaNode, 'base64url')))).toBe(true);
  });

  it('parse identities and pinned keys strictly', () => {
    expect(parseRunnerIdentity(JSON.parse(JSON.stringify(a)))).toEqual(a);
    expect(() => parseRunnerIdentity({ ...a, seed: a.curveSeed })).toThrow(TrustError);
    expect(parseRunnerPublicKeys(publicKeysOf(a))).toEqual(publicKeysOf(a));
    expect(() => parseRunnerPublicKeys({ ...publicKeysOf(a), nkey: publicKeysOf(a).curve })).toThrow(TrustError);
    expect(() => createRunnerIdentity('bad.id')).toThrow(TrustError);
  });
});
