import type { CloseOutcome, Termination } from '@airlock/proto';
import type { RunFold } from './fold.ts';

/** What ends a run: its agent's close, an operator's cancel or kill, or the idle limit. */
export type Ending = { kind: 'close'; outcome?: CloseOutcome | undefined } | { kind: 'cancel' } | { kind: 'kill' } | { kind: 'idle' };

/**
 * The typed termination of a run that ends now, from its fold. The rules:
 * - `killed`: an operator killed it (whatever state it was in);
 * - `budget` / `loop`: it was closed (by its agent, a cancel or the idle limit) while the harness
 *   held it paused for a used-up budget or a detected loop: nobody raised the budget or resumed it;
 * - `cancelled`: an operator cancelled it;
 * - `idle`: no step for the policy's `maxIdle`;
 * - `succeeded` / `failed`: its agent closed it, saying how its task ended (default succeeded).
 * `runner_lost` and `sandbox_lost` are decided where the loss is seen (runs/relocate.ts, runs/idle.ts).
 */
export function terminationOf(fold: Pick<RunFold, 'state' | 'paused'> | undefined, ending: Ending): Termination {
  if (ending.kind === 'kill') return 'killed';
  const cause = fold?.paused?.cause.kind;
  if (cause === 'budget' || cause === 'loop') return cause;
  if (ending.kind === 'cancel') return 'cancelled';
  if (ending.kind === 'idle') return 'idle';
  return ending.outcome ?? 'succeeded';
}
