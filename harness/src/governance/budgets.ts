import { BUDGET_NAMES } from '@airlock/proto';
import type { BudgetName, Budgets } from '@airlock/proto';

/** What a run has used of its budgets. */
export interface Usage {
  steps: number;
  activeMs: number;
  outputBytes: number;
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
export function exhausted(budgets: Budgets, used: Usage): Exhausted | null {
  for (const budget of BUDGET_NAMES) {
    const limit = budgets[budget];
    if (limit !== undefined && used[budget] >= limit) return { budget, used: used[budget], limit };
  }
  return null;
}

/** The policy's budgets with a run's overrides on top (a field absent in the overrides keeps the policy's). */
export function mergeBudgets(policy: Budgets, ...overrides: Array<Budgets | undefined>): Budgets {
  let out: Budgets = { ...policy };
  for (const o of overrides) if (o) out = { ...out, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) };
  return out;
}
