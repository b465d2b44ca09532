// The policy hash is pinned into every run, job token and proof bundle: the same policy must keep
// the same hash across releases. Golden values, computed before canonicalJson moved to proto
// (issue 11, point 8); a change here changes the hash of every deployed policy.
// Issue 12: the default policy's `code` regexes moved into the chain (interp/), so the shipped policy and its
// hash changed (the canonical form did not: main's default.yaml still hashes to the old value).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_PATH, defaultPolicy, parsePolicy, policyHash } from './index.ts';

describe('policyHash is stable', () => {
  it('the shipped default policy keeps its hash', async () => {
    expect(policyHash(await defaultPolicy())).toBe('76b6069b3a8abf5671bffa0f9875c4710dab50bc4f9f5401fd0276b49969ccfe');
  });

  it('a policy with non-ASCII text (and a lone surrogate) keeps its hash', () => {
    const text = readFileSync(DEFAULT_POLICY_PATH, 'utf8').replace('name: airlock-default', 'name: "Zürich — 東京 😀 \\ud800"');
    const policy = parsePolicy(text);
    expect(policy.name).toBe('Zürich — 東京 😀 \ud800');
    expect(policyHash(policy)).toBe('c2d40b9862d225c3b3a73bfaa52932fed6a4679b00e09c087381d4dd4b0fad64');
  });
});
