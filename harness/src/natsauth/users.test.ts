import { describe, expect, it } from 'vitest';
import { durationNs, jwtPermissions } from './users.ts';
import { rolePermissions, runnerPermissions } from '../cli/credentials.ts';

describe('config permissions as user JWT claims', () => {
  it('keeps allow and deny lists, both list forms, and the response window in nanoseconds', () => {
    expect(jwtPermissions({ publish: ['>'], subscribe: { allow: ['a.>'], deny: ['a.b'] }, allow_responses: { max: 1, expires: '25h' } })).toEqual({
      pub: { allow: ['>'] },
      sub: { allow: ['a.>'], deny: ['a.b'] },
      resp: { max: 1, ttl: 25 * 3600 * 1e9 },
    });
    const operator = jwtPermissions(rolePermissions('operator'));
    expect(operator.pub?.deny).toContain('airlock.v1.api.admin.>');
  });

  it('reads durations and refuses what it cannot read', () => {
    expect(durationNs('500ms')).toBe(5e8);
    expect(durationNs('90s')).toBe(9e10);
    expect(() => durationNs('1d')).toThrow(/not a duration/);
  });

  it('a runner of an operator-mode deployment has no log rights of its own', () => {
    expect(JSON.stringify(runnerPermissions('r1'))).toContain('airlock.v1.log.>');
    // Of the logs only the shared system log (where a runner records the requests it refused);
    // a run's log only through that run's grant, and the request for one on its own subject.
    const granted = runnerPermissions('r1', { logs: 'granted' });
    const pub = granted.publish as { allow: string[] };
    expect(pub.allow.filter((s) => s.startsWith('airlock.v1.log.'))).toEqual(['airlock.v1.log.system']);
    expect(pub.allow.filter((s) => s.startsWith('airlock.v1.grant.'))).toEqual(['airlock.v1.grant.r1']);
  });
});
