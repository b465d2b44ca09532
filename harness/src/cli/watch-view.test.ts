import { describe, expect, it } from 'vitest';
import { AirlockError, PROTOCOL_VERSION, type LogEvent } from '@airlock/proto';
import { HarnessPartKeeper, LogFold, type HarnessPart } from './watch-view.ts';

let seq = 0;
/** A log event as stored (the fields the fold reads; the hash chain is the reader's concern). */
const ev = (e: Record<string, unknown>): LogEvent => ({ v: PROTOCOL_VERSION, runId: 'r1', seq: ++seq, ts: `2026-01-01T00:00:${String(seq).padStart(2, '0')}Z`, by: 'harness', prev: '0'.repeat(64), ...e }) as unknown as LogEvent;
const part: HarnessPart = { budgets: { steps: 10 }, held: [], closed: false };
const operator = { principal: 'olga', role: 'operator' };

describe('LogFold (the state part of a watch view, from the log)', () => {
  it('shows a pause that was resumed before anyone asked the harness: each view holds the events read so far', () => {
    const fold = new LogFold();
    fold.add(ev({ type: 'step.requested', step: 1, cmd: 'echo hi' }));
    fold.add(ev({ type: 'step.verdict', step: 1, cmd: 'echo hi', verdict: 'allow', rule: 'default' }));
    expect(fold.state('r1', part)).toMatchObject({ state: 'running', used: { steps: 1 }, stepInFlight: 1, budgets: { steps: 10 } });
    fold.add(ev({ type: 'run.control', verb: 'pause', requestId: 'p1', reason: 'look', actor: operator }));
    expect(fold.state('r1', part)).toMatchObject({ state: 'paused', paused: { reason: 'look', cause: { kind: 'operator' } }, lastControl: { verb: 'pause', requestId: 'p1' } });
    fold.add(ev({ type: 'run.control', verb: 'resume', requestId: 'r1', actor: operator }));
    const resumed = fold.state('r1', part);
    expect(resumed.state).toBe('running');
    expect(resumed.paused).toBeUndefined();
  });

  it('takes controls and governance actions only as the harness wrote them (the harness rebuild rule)', () => {
    const fold = new LogFold();
    fold.add(ev({ type: 'run.control', verb: 'pause', requestId: 'x', by: 'runner:evil', actor: operator }));
    fold.add(ev({ type: 'run.governed', action: 'pause', cause: { kind: 'loop', detector: 'repeat', steps: [1] }, reason: 'forged', by: 'runner:evil' }));
    expect(fold.state('r1', part).state).toBe('running');
    fold.add(ev({ type: 'run.governed', action: 'pause', cause: { kind: 'budget', budget: 'steps', used: 10, limit: 10 }, reason: 'used up' }));
    expect(fold.state('r1', part)).toMatchObject({ state: 'paused', paused: { reason: 'used up' } });
  });

  it('shows a raise from the log over the budgets the harness last gave, and the termination of run.closed', () => {
    const fold = new LogFold();
    fold.add(ev({ type: 'run.control', verb: 'raise', requestId: 'b1', budgets: { steps: 50 }, actor: operator }));
    expect(fold.state('r1', { ...part, budgets: { steps: 10, cost: 3 } }).budgets).toEqual({ steps: 50, cost: 3 });
    fold.add(ev({ type: 'run.closed', reason: 'done', termination: 'failed' }));
    const closed = fold.state('r1', part);
    expect(closed).toMatchObject({ state: 'closed', termination: 'failed' });
    expect(closed.stepInFlight).toBeUndefined();
  });
});

describe('HarnessPartKeeper (the harness part of a watch view)', () => {
  const answer = (budgets: HarnessPart['budgets']): HarnessPart => ({ ...part, budgets });

  it('holds a change back at most waitMs when the harness does not answer; its answer still arrives later', async () => {
    let release: ((p: HarnessPart) => void) | undefined;
    const got: HarnessPart[] = [];
    const keeper = new HarnessPartKeeper(() => new Promise<HarnessPart>((r) => (release = r)), (p) => got.push(p), new AbortController().signal);
    const t0 = Date.now();
    expect(await keeper.refresh(100)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1000);
    release!(answer({ steps: 7 }));
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([answer({ steps: 7 })]);
  });

  it('asks again while the harness is away (retryable errors), and once more for a change that came during an ask', async () => {
    let asks = 0;
    const got: number[] = [];
    const keeper = new HarnessPartKeeper(
      async () => {
        asks++;
        if (asks === 1) throw new AirlockError('no_harness', 'restarting');
        await new Promise((r) => setTimeout(r, 50));
        return answer({ steps: asks });
      },
      (p) => got.push(p.budgets.steps!),
      new AbortController().signal,
    );
    const first = keeper.refresh(5000);
    await new Promise((r) => setTimeout(r, 600));
    // A change while the second ask is on its way: its answer may predate the change, so a third ask follows.
    expect(await Promise.all([first, keeper.refresh(5000)])).toEqual([true, true]);
    expect(asks).toBe(3);
    expect(got).toEqual([2, 3]);
  });

  it('an error that is not retryable stops the asks and is thrown by the next refresh', async () => {
    const keeper = new HarnessPartKeeper(() => Promise.reject(new AirlockError('forbidden', 'no')), () => undefined, new AbortController().signal);
    await expect(keeper.refresh(1000)).rejects.toMatchObject({ code: 'forbidden' });
    await expect(keeper.refresh(1000)).rejects.toMatchObject({ code: 'forbidden' });
  });
});
