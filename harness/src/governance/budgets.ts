import { BUDGET_NAMES } from '@airlock/proto';
import type { BudgetName, Budgets } from '@airlock/proto';

/** What a run has used of its budgets. */
export interface Usage {
  steps: number;
  activeMs: number;
  outputBytes: number;
  /** CPU seconds the run's sandboxes used (summed per-step readings of their cgroups). */
  cpuSeconds: number;
  /** Sum of the cost figures the agent reported with its steps. */
  cost: number;
}

export interface Exhausted {
  budget: BudgetName;
  used: number;
  limit: number;
}

/**
 * The first budget the run has used up, or null. Checked before a step starts: a step that would be
 * the `steps+1`-th is refused, time and bytes count once they reach their limit.
 */
export function exhausted(budgets: Budgets, used: Partial<Usage>): Exhausted | null {
  for (const budget of BUDGET_NAMES) {
    const limit = budgets[budget];
    const now = used[budget] ?? 0;
    if (limit !== undefined && now >= limit) return { budget, used: roundUsage(now), limit };
  }
  return null;
}

/** The policy's budgets with a run's overrides on top (a field absent in the overrides keeps the policy's). */
export function mergeBudgets(policy: Budgets, ...overrides: Array<Budgets | undefined>): Budgets {
  let out: Budgets = { ...policy };
  for (const o of overrides) if (o) out = { ...out, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) };
  return out;
}

/** Usage as shown and logged: CPU seconds and cost to the millionth (sums of floats), the rest as is. */
export function roundUsage(n: number): number {
  return Number.isInteger(n) ? n : Math.round(n * 1e6) / 1e6;
}
