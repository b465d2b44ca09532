// The policy hash is pinned into every run, job token and proof bundle: the same policy must keep
// the same hash across releases. Golden values, computed before canonicalJson moved to proto
// (issue 11, point 8); a change here changes the hash of every deployed policy.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_PATH, defaultPolicy, parsePolicy, policyHash } from './index.ts';

describe('policyHash is stable', () => {
  it('the shipped default policy keeps its hash', async () => {
    expect(policyHash(await defaultPolicy())).toBe('063a561322d8719b8620aaa1bb2b6660211dbc3934e1821e9520281e90f4bce0');
  });

  it('a policy with non-ASCII text (and a lone surrogate) keeps its hash', () => {
    const text = readFileSync(DEFAULT_POLICY_PATH, 'utf8').replace('name: airlock-default', 'name: "Zürich — 東京 😀 \\ud800"');
    const policy = parsePolicy(text);
    expect(policy.name).toBe('Zürich — 東京 😀 \ud800');
    expect(policyHash(policy)).toBe('d9d578bc858a788aa18285dcb4d81792173b09315fe0c6522d8b40158944655c');
  });
});
