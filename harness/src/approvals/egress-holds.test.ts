// Egress holds as approvals: their keys beside held commands', what approve-for-run grants, and the
// ids operators type (`7.1`).
import { describe, expect, it } from 'vitest';
import type { Approval } from '@airlock/proto';
import { parseHeldId, heldId } from '../cli/approval-format.ts';
import { approvalKey, egressGrant, egressGrantCovers, egressText, keyOfApproval } from './egress-holds.ts';

const RUN = '01EGRESSHOLDS0000000000000';
const base: Approval = { runId: RUN, step: 7, cmd: 'CONNECT a.test:443', cmdSha256: '0'.repeat(64), rule: 'egress.unlisted', reason: 'r', requestedAt: new Date(0).toISOString(), status: 'approved' };

describe('egress holds', () => {
  it('keys: a command at <run>.<step>, an egress hold at <run>.<step>-<hold> (one KV token, listed with the run)', () => {
    expect(approvalKey(RUN, 7)).toBe(`${RUN}.7`);
    expect(keyOfApproval({ ...base, egress: { host: 'a.test', port: 443, via: 'connect', hold: 2 } })).toBe(`${RUN}.7-2`);
  });

  it('texts and grants', () => {
    expect(egressText({ host: 'a.test', port: 443, via: 'connect' })).toBe('CONNECT a.test:443');
    expect(egressText({ host: 'a.test', port: 80, via: 'http', method: 'POST', path: '/x' })).toBe('POST http://a.test:80/x');
    const granted = { ...base, egress: { host: 'a.test', port: 443, via: 'connect' as const, hold: 1 }, grant: egressGrant({ host: 'a.test', port: 443 }) };
    expect(egressGrantCovers(granted, 'a.test', 443)).toBe(true);
    expect(egressGrantCovers(granted, 'a.test', 80)).toBe(false);
    expect(egressGrantCovers(granted, 'b.test', 443)).toBe(false);
    expect(egressGrantCovers({ ...granted, status: 'rejected' }, 'a.test', 443)).toBe(false);
    // A command's grant of the same words is not an egress grant.
    expect(egressGrantCovers({ ...base, grant: { rule: 'egress.unlisted', prefix: 'a.test:443' } }, 'a.test', 443)).toBe(false);
  });

  it('ids: 7 is a step, 7.1 an egress hold; anything else is refused', () => {
    expect(parseHeldId('7')).toEqual({ step: 7 });
    expect(parseHeldId('7.1')).toEqual({ step: 7, hold: 1 });
    for (const bad of ['7.0', '7.', 'x', '-1', '7.1.1', '']) expect(() => parseHeldId(bad)).toThrow(/a held request is a step number/);
    expect(heldId({ ...base, egress: { host: 'a.test', port: 443, via: 'connect', hold: 3 } })).toBe('7.3');
    expect(heldId(base)).toBe('7');
  });
});
