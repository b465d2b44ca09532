import { describe, expect, it } from 'vitest';
import type { LogEvent } from '@airlock/proto';
import { formatEvent } from './format.ts';
import { egressAuditRow } from './format-egress.ts';

const denied: Extract<LogEvent, { type: 'egress.connection' }> = {
  v: 1, runId: '01JAAAAAAAAAAAAAAAAAAAAAAA', seq: 7, ts: '2026-12-01T23:00:00.000Z', by: 'runner:r1', prev: '0'.repeat(64),
  type: 'egress.connection', step: 3, host: 'evil.test', port: 443, via: 'connect', decision: 'denied', reason: "evil.test is not on the run's network allowlist", bytesUp: 0, bytesDown: 0, durationMs: 1,
};

describe('egress in the CLI', () => {
  it('audit lists a denied connection as egress.denied with its target', () => {
    const [row, target] = egressAuditRow(denied).split('\n');
    expect(row).toMatch(/^2026-12-01T23:00:00.000Z\s+01JAAAAAAAAAAAAAAAAAAAAAAA\s+3\s+DENY\s+egress.denied\s+runner:r1\s+evil.test is not on the run's network allowlist$/);
    expect(target!.trim()).toBe('→ CONNECT evil.test:443');
  });
  it('logs show allowed ones with bytes and flagged secrets', () => {
    expect(formatEvent(denied)).toBe("#7 2026-12-01T23:00:00.000Z step 3 egress DENIED CONNECT evil.test:443: evil.test is not on the run's network allowlist\n");
    expect(formatEvent({ ...denied, via: 'http', method: 'GET', path: '/simple/', decision: 'allowed', reason: undefined, bytesUp: 10, bytesDown: 2048, durationMs: 12 })).toBe(
      '#7 2026-12-01T23:00:00.000Z step 3 egress ALLOWED GET http://evil.test:443/simple/, 10 B up, 2048 B down in 12 ms\n',
    );
    expect(formatEvent({ ...denied, decision: 'allowed', reason: undefined, flagged: 'the placeholder of T was sent to evil.test' })).toContain(' FLAGGED: the placeholder of T was sent to evil.test');
  });
});
