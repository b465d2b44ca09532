import { describe, expect, it } from 'vitest';
import * as trust from '@airlock/trust';
import { trustErrorCodes, tokenErrorCodes, bundleProblemCodes } from './index.ts';

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

