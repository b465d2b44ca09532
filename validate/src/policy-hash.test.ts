// The policy hash is pinned into every run, job token and proof bundle: the same policy must keep
// the same hash across releases. Golden values, computed before canonicalJson moved to proto
// (issue 11, point 8); a change here changes the hash of every deployed policy. The default policy's
// own values changed once since, when it gained `network.fetch: allow` (issue 12); a policy without that
// line keeps the hash it had (last test).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_PATH, defaultPolicy, parsePolicy, policyHash } from './index.ts';

describe('policyHash is stable', () => {
  it('the shipped default policy keeps its hash', async () => {
    expect(policyHash(await defaultPolicy())).toBe('1735bfdc169d2e219eb2caed8b8b5f9d3fe05f2ecc07452ccd6dca2fe523f788');
  });

  it('a policy with non-ASCII text (and a lone surrogate) keeps its hash', () => {
    const text = readFileSync(DEFAULT_POLICY_PATH, 'utf8').replace('name: airlock-default', 'name: "Zürich — 東京 😀 \\ud800"');
    const policy = parsePolicy(text);
    expect(policy.name).toBe('Zürich — 東京 😀 \ud800');
    expect(policyHash(policy)).toBe('528a87fb8613a7f14c83e62fe66879ca3aae424f8564f9acb874ab5ace26c9ce');
  });

  it('a policy written before network.fetch existed keeps its old hash (the setting is optional, not defaulted)', () => {
    const text = readFileSync(DEFAULT_POLICY_PATH, 'utf8').replace(/\n  fetch: allow\n/, '\n');
    expect(text).not.toContain('fetch:');
    expect(policyHash(parsePolicy(text))).toBe('063a561322d8719b8620aaa1bb2b6660211dbc3934e1821e9520281e90f4bce0');
  });
});
