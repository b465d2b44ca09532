// The policy hash is pinned into every run, job token and proof bundle: the same policy must keep
// the same hash across releases. Golden values, computed before canonicalJson moved to proto
// (issue 11, point 8); a change here changes the hash of every deployed policy.
// Issue 12 changed the shipped policy's content (env rules moved to env-table.ts, secret paths): new golden values.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_PATH, defaultPolicy, parsePolicy, policyHash } from './index.ts';

describe('policyHash is stable', () => {
  it('the shipped default policy keeps its hash', async () => {
    expect(policyHash(await defaultPolicy())).toBe('3c0f256806e3c960c5f4a1705b868d0cf43aa6dcdaef340d9cdfef9b1eaef756');
  });

  it('a policy with non-ASCII text (and a lone surrogate) keeps its hash', () => {
    const text = readFileSync(DEFAULT_POLICY_PATH, 'utf8').replace('name: airlock-default', 'name: "Zürich — 東京 😀 \\ud800"');
    const policy = parsePolicy(text);
    expect(policy.name).toBe('Zürich — 東京 😀 \ud800');
    expect(policyHash(policy)).toBe('adbe3efb0b8088f644b0e198d9b6e34c37b00c012474d089b8d829257fa8cc13');
  });
});
