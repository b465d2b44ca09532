import { describe, expect, it } from 'vitest';
import { GovernancePolicySchema } from '@airlock/proto';
import { idleLimits } from './idle.ts';

describe('idleLimits: suspendWhenFull', () => {
  it('defaults to 1 minute, takes a duration, and off turns early suspension off', () => {
    expect(idleLimits(undefined)).toEqual({ idleTimeoutMs: 15 * 60_000, maxIdleMs: 24 * 3_600_000, whenFullMs: 60_000 });
    expect(idleLimits(GovernancePolicySchema.parse({ suspendWhenFull: '30s' })).whenFullMs).toBe(30_000);
    expect(idleLimits(GovernancePolicySchema.parse({ suspendWhenFull: 'off' })).whenFullMs).toBeUndefined();
  });
  it('refuses anything else in the policy', () => {
    expect(GovernancePolicySchema.safeParse({ suspendWhenFull: 'never' }).success).toBe(false);
    expect(GovernancePolicySchema.safeParse({ suspendWhenFull: 60 }).success).toBe(false);
  });
});
