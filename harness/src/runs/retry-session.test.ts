import { describe, expect, it } from 'vitest';
import type { LogEvent } from '@airlock/proto';
import { sessionBefore } from './retry-session.ts';

const exited = (step: number, extra: { cwd?: string; env?: Record<string, string> }): LogEvent =>
  ({ v: 1, runId: 'r', seq: step, ts: '', by: 'runner:x', prev: '', type: 'step.exited', step, result: { step, exitCode: 0, durationMs: 1, stdoutBytes: 0, stderrBytes: 0, truncated: false, ...extra } }) as unknown as LogEvent;

describe('sessionBefore', () => {
  const log = [exited(1, { cwd: '/w/a', env: { A: '1' } }), exited(2, {}), exited(3, { cwd: '/w/a/b', env: { B: '2', A: '3' } }), exited(4, { cwd: '/w' })];
  it('folds only the steps before N: the last reported cwd, the exports merged in order', () => {
    expect(sessionBefore(log, 1)).toEqual({ env: {} });
    expect(sessionBefore(log, 2)).toEqual({ cwd: '/w/a', env: { A: '1' } });
    expect(sessionBefore(log, 3)).toEqual({ cwd: '/w/a', env: { A: '1' } });
    expect(sessionBefore(log, 4)).toEqual({ cwd: '/w/a/b', env: { A: '3', B: '2' } });
    expect(sessionBefore(log, 9)).toEqual({ cwd: '/w', env: { A: '3', B: '2' } });
  });
});
