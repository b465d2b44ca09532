import type { GovernancePolicy, LoopDetector } from '@airlock/proto';

/** What the loop detectors know of one step: fingerprints, never the output itself. */
export interface StepTrace {
  step: number;
  /** Fingerprint of the command text (whitespace-normalised). */
  cmd: string;
  /** Fingerprint of the result (exit code, signal, timeout, output sizes); null for a step that never ran. */
  result: string | null;
  /** Exit code; null when killed or when the step never ran. */
  exitCode: number | null;
  /** The validation chain denied it (a step held for approval is not refused). */
  refused: boolean;
  /** Digest of the workspace snapshot after the step, if one was taken. */
  snapshot?: string;
  /** A bare `sleep`: waiting is not repeating (polling allowance); only stagnation may count it. */
  wait?: boolean;
}

/** One detection: which detector, the steps that make the pattern (the evidence), and a sentence for people. */
export interface LoopDetection {
  detector: LoopDetector;
  steps: number[];
  reason: string;
}

type LoopsConfig = GovernancePolicy['loops'];

/**
 * Runs every enabled detector over the steps since the last operator input (oldest first) and returns
 * the first pattern found ending at the newest step, or null. Only patterns that end at the newest step
 * count: a pattern reported once is not reported again on the next step unless it goes on.
 */
export function detectLoop(trace: readonly StepTrace[], cfg: LoopsConfig): LoopDetection | null {
  const checks: Array<[LoopDetector, (t: readonly StepTrace[], n: number) => LoopDetection | null]> = [
    ['denials', denials],
    ['repeat', repeat],
    ['repeat_error', repeatError],
    ['alternation', alternation],
    ['stagnation', stagnation],
  ];
  for (const [name, check] of checks) {
    const c = cfg[name];
    if (c.action === 'off') continue;
    const found = check(trace, c.threshold);
    if (found) return found;
  }
  return null;
}

/** The last `n` steps, or null when there are fewer. */
function tail(trace: readonly StepTrace[], n: number): readonly StepTrace[] | null {
  return trace.length >= n ? trace.slice(-n) : null;
}

const stepsOf = (t: readonly StepTrace[]) => t.map((s) => s.step);

/** The same command with the same result `n` times in a row. */
function repeat(trace: readonly StepTrace[], n: number): LoopDetection | null {
  const last = tail(trace, n);
  if (!last || last[0]!.result === null || last[0]!.wait) return null;
  const same = last.every((s) => s.cmd === last[0]!.cmd && s.result === last[0]!.result);
  return same ? { detector: 'repeat', steps: stepsOf(last), reason: `the same command gave the same result ${n} times in a row` } : null;
}

/** The same command failing with the same exit code `n` times in a row (its output may change). */
function repeatError(trace: readonly StepTrace[], n: number): LoopDetection | null {
  const last = tail(trace, n);
  if (!last) return null;
  const first = last[0]!;
  const failing = (s: StepTrace) => s.result !== null && s.exitCode !== 0;
  const same = last.every((s) => failing(s) && s.cmd === first.cmd && s.exitCode === first.exitCode);
  return same ? { detector: 'repeat_error', steps: stepsOf(last), reason: `the same command failed with exit ${String(first.exitCode)} ${n} times in a row` } : null;
}

/** A,B,A,B,… over `n` steps: two different command+result pairs taking turns. */
function alternation(trace: readonly StepTrace[], n: number): LoopDetection | null {
  const last = tail(trace, n);
  if (!last) return null;
  const key = (s: StepTrace) => `${s.cmd}|${s.result ?? 'refused'}`;
  const [a, b] = [key(last[0]!), key(last[1]!)];
  // Check, sleep, check, sleep: a wait for something outside the run (a stagnation warning at most).
  if (a === b || last[0]!.wait || last[1]!.wait) return null;
  const turns = last.every((s, i) => key(s) === (i % 2 === 0 ? a : b));
  return turns ? { detector: 'alternation', steps: stepsOf(last), reason: `two commands took turns with the same results over ${n} steps` } : null;
}

/** `n` denied steps in a row: probing the policy with rephrasings. */
function denials(trace: readonly StepTrace[], n: number): LoopDetection | null {
  const last = tail(trace, n);
  if (!last || !last.every((s) => s.refused)) return null;
  return { detector: 'denials', steps: stepsOf(last), reason: `${n} steps in a row were denied by the policy` };
}

/**
 * The workspace unchanged for `n` steps that ran, made of at most two distinct command+result pairs:
 * commands keep running and nothing moves. (Reading many different files is exploration, not this.)
 */
function stagnation(trace: readonly StepTrace[], n: number): LoopDetection | null {
  const ran = trace.filter((s) => s.result !== null);
  const last = tail(ran, n);
  if (!last || last.some((s) => s.snapshot === undefined || s.snapshot !== last[0]!.snapshot)) return null;
  const distinct = new Set(last.map((s) => `${s.cmd}|${s.result}`));
  if (distinct.size > 2) return null;
  return { detector: 'stagnation', steps: stepsOf(last), reason: `the workspace did not change for ${n} steps of at most two different commands` };
}
