import { describe, expect, it } from 'vitest';
import * as trust from '@airlock/trust';
import { canonicalJson, sha256Hex, trustErrorCodes, tokenErrorCodes, bundleProblemCodes } from './index.ts';

describe('@airlock/trust entry', () => {
  it('exposes the public API by name through the package', () => {
    for (const name of ['Redactor', 'RedactionStream', 'redactThroughput', 'signJob', 'JobVerifier', 'newJobClaims', 'commandHash', 'generateSigningKey', 'keyId', 'buildBundle', 'verifyBundle', 'checkChain', 'chainHash', 'TokenError', 'TrustError']) {
      expect(trust, name).toHaveProperty(name);
    }
    expect(trust).not.toHaveProperty('default');
  });

  it('documents every error and problem code', () => {
    for (const table of [trustErrorCodes, tokenErrorCodes, bundleProblemCodes]) {
      for (const doc of Object.values(table)) expect(doc.length).toBeGreaterThan(20);
    }
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level, drops undefined members, and has no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: null, y: 'x' }], c: undefined } })).toBe('{"a":{"d":[3,{"y":"x","z":null}]},"b":1}');
  });

  it('refuses values JSON cannot represent faithfully', () => {
    for (const bad of [Number.NaN, Infinity, 1n, () => 1, [undefined]]) expect(() => canonicalJson(bad)).toThrow(TypeError);
  });

  it('sha256Hex hashes strings as UTF-8', () => {
    expect(sha256Hex('é')).toBe(sha256Hex(new TextEncoder().encode('é')));
  });
});
