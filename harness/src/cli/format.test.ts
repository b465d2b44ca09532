import { describe, expect, it } from 'vitest';
import { exitCodeOf, parseEnvPairs } from './format.ts';

const base = { runId: '01ARZ3NDEKTSV4RRFFQ69G5FAV', step: 1, oomKilled: false, timedOut: false, sandboxDied: false, durationMs: 1, stdoutBytes: 0, stderrBytes: 0, truncated: false, logSeq: 1 };

describe('CLI helpers', () => {
  it('maps results to shell exit codes', () => {
    expect(exitCodeOf({ ...base, exitCode: 3, signal: null })).toBe(3);
    expect(exitCodeOf({ ...base, exitCode: null, signal: 'SIGKILL', sandboxDied: true })).toBe(137);
    expect(exitCodeOf({ ...base, exitCode: null, signal: null })).toBe(125);
  });

  it('parses KEY=VALUE pairs and refuses the rest', () => {
    expect(parseEnvPairs(['A=1', 'B=x=y', 'C='])).toEqual({ A: '1', B: 'x=y', C: '' });
    expect(() => parseEnvPairs(['novalue'])).toThrow(/KEY=VALUE/);
    expect(() => parseEnvPairs(['=x'])).toThrow(/KEY=VALUE/);
  });
});
