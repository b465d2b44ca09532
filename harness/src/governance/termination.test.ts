import { describe, expect, it } from 'vitest';
import { terminationOf } from './termination.ts';

const paused = (kind: 'operator' | 'budget' | 'loop') => ({
  state: 'paused' as const,
  paused: { cause: kind === 'budget' ? { kind, budget: 'steps' as const, used: 2, limit: 2 } : kind === 'loop' ? { kind, detector: 'repeat' as const, steps: [1, 2, 3, 4] } : { kind }, reason: 'r', at: 't' },
});

describe('termination rules', () => {
  it('an agent close is succeeded unless it reports failure', () => {
    expect(terminationOf({ state: 'running' }, { kind: 'close' })).toBe('succeeded');
    expect(terminationOf(undefined, { kind: 'close', outcome: 'failed' })).toBe('failed');
  });
  it('a run closed while the harness held it paused ends with that cause (budget, loop); an operator pause does not', () => {
    for (const ending of [{ kind: 'close' as const }, { kind: 'cancel' as const }, { kind: 'idle' as const }]) {
      expect(terminationOf(paused('budget'), ending)).toBe('budget');
      expect(terminationOf(paused('loop'), ending)).toBe('loop');
    }
    expect(terminationOf(paused('operator'), { kind: 'close' })).toBe('succeeded');
    expect(terminationOf(paused('operator'), { kind: 'cancel' })).toBe('cancelled');
    expect(terminationOf(paused('operator'), { kind: 'idle' })).toBe('idle');
  });
  it('kill is killed whatever the state', () => {
    expect(terminationOf(paused('budget'), { kind: 'kill' })).toBe('killed');
    expect(terminationOf({ state: 'running' }, { kind: 'kill' })).toBe('killed');
  });
});
