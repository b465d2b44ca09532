// The policy hash is pinned into every run, job token and proof bundle: the same policy must keep
// the same hash across releases. Golden values over a frozen copy of the default policy as it was
// at the end of issue 11 (validate/testdata/policy-golden.yaml): the shipped default policy itself
// changes as rules are added, but a policy that does not change must keep its hash, whatever
// happens to the canonical JSON code or to new optional settings.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultPolicy, parsePolicy, policyHash } from './index.ts';

const GOLDEN = fileURLToPath(new URL('../testdata/policy-golden.yaml', import.meta.url));

describe('policyHash is stable', () => {
  it('a policy written before later settings existed keeps its hash', () => {
    expect(policyHash(parsePolicy(readFileSync(GOLDEN, 'utf8')))).toBe('063a561322d8719b8620aaa1bb2b6660211dbc3934e1821e9520281e90f4bce0');
  });

  it('a policy with non-ASCII text (and a lone surrogate) keeps its hash', () => {
    const text = readFileSync(GOLDEN, 'utf8').replace('name: airlock-default', 'name: "Zürich — 東京 😀 \\ud800"');
    const policy = parsePolicy(text);
    expect(policy.name).toBe('Zürich — 東京 😀 \ud800');
    expect(policyHash(policy)).toBe('d9d578bc858a788aa18285dcb4d81792173b09315fe0c6522d8b40158944655c');
  });

  it('formatting and key order do not change the hash; content does', async () => {
    const p = await defaultPolicy();
    const reordered = parsePolicy(JSON.stringify(Object.fromEntries(Object.entries(p).reverse()), null, 7));
    expect(policyHash(reordered)).toBe(policyHash(p));
    expect(policyHash({ ...p, name: p.name + '-x' })).not.toBe(policyHash(p));
  });
});
