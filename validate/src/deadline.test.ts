import { describe, expect, it } from 'vitest';
import { pastDeadline, threadCpuMicros, type Ctx } from './analyze.ts';

// The validation budget bounds the work an input can cause, not how busy the machine is: a
// validation that was descheduled (CI running docker suites on two cores) must not become an
// internal.timeout deny of an ordinary command, and one that burnt its CPU budget must stop.
const ctxAt = (o: { deadlineAgoMs: number; cpuUsedMs: number; wallAgoMs: number; budgetMs?: number }): Ctx => {
  const now = performance.now();
  return {
    deadline: now - o.deadlineAgoMs,
    cpuStart: threadCpuMicros() - o.cpuUsedMs * 1000,
    budgetMs: o.budgetMs ?? 250,
    wallStart: now - o.wallAgoMs,
  } as unknown as Ctx;
};

describe('pastDeadline', () => {
  it('before the wall deadline: not past, and no CPU clock is read', () => {
    const c = ctxAt({ deadlineAgoMs: -100, cpuUsedMs: 1e6, wallAgoMs: 0 });
    expect(pastDeadline(c)).toBe(false);
  });
  it('wall deadline passed while starved (little CPU used): the rest of the budget is granted', () => {
    const c = ctxAt({ deadlineAgoMs: 50, cpuUsedMs: 10, wallAgoMs: 300 });
    expect(pastDeadline(c)).toBe(false);
    expect(c.deadline).toBeGreaterThan(performance.now() + 200);
  });
  it('wall deadline passed with the CPU budget spent: past', () => {
    expect(pastDeadline(ctxAt({ deadlineAgoMs: 1, cpuUsedMs: 260, wallAgoMs: 300 }))).toBe(true);
  });
  it('starved beyond the hard cap (20 budgets of wall time): past anyway', () => {
    expect(pastDeadline(ctxAt({ deadlineAgoMs: 1, cpuUsedMs: 1, wallAgoMs: 250 * 21 }))).toBe(true);
  });
});
