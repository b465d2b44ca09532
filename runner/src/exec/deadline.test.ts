import { describe, expect, it } from 'vitest';
import { timeoutFired, underTimeout } from './deadline.ts';

const d = { timeoutMs: 1000, killAfterMs: 2000 };

describe('timeoutFired (the `timeout` fallback)', () => {
  it('needs both a `timeout` status and the deadline passed on a clock started before the exec', () => {
    expect(timeoutFired(124, 1000, d)).toBe(true);
    expect(timeoutFired(137, 3500, d)).toBe(true);
    // The command's own `exit 124` / `kill -9 $$` before its deadline is not a timeout.
    expect(timeoutFired(124, 20, d)).toBe(false);
    expect(timeoutFired(137, 999, d)).toBe(false);
    // Other statuses never are, however long the step took.
    expect(timeoutFired(143, 5000, d)).toBe(false);
    expect(timeoutFired(0, 5000, d)).toBe(false);
    expect(timeoutFired(null, 5000, d)).toBe(false);
  });

  it('wraps the argv in coreutils timeout with TERM then KILL', () => {
    expect(underTimeout(['bash', '-c', 'x'], { timeoutMs: 1500, killAfterMs: 2000 })).toEqual(['timeout', '-s', 'TERM', '-k', '2.000', '1.500', 'bash', '-c', 'x']);
  });
});
