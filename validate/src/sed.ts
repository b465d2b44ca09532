/**
 * Detectors for GNU sed scripts that run shell commands, in linear time.
 *
 * They used to be the regexes below, which V8 runs by backtracking:
 * `SED_SUBSTITUTE_EXEC` is exponential in the number of backslashes inside an
 * `s` command (`s/\[\[\[…/` with 22 escapes: 180 ms, +2 escapes ≈ ×4) and
 * `SED_EXEC_COMMAND` is cubic in a run of blank lines (2,000 newlines: 4 s).
 * validate() is synchronous, so no deadline could interrupt them. The
 * functions here accept exactly the same strings (checked against the regexes
 * in fastpath.test.ts) by simulating the pattern instead of backtracking.
 */

/** The `e` command: `/(^|[;\n{}]|[0-9$/])\s*!?\s*e(\s|;|$)/`. */
export const SED_EXEC_COMMAND = /(^|[;\n{}]|[0-9$/])\s*!?\s*e(\s|;|$)/;
/** The `s///e` flag: `/(^|[;\n])\s*s(.)(?:\\.|(?!\2).)*\2(?:\\.|(?!\2).)*\2[gpIiMm0-9]*e/`. */
export const SED_SUBSTITUTE_EXEC = /(^|[;\n])\s*s(.)(?:\\.|(?!\2).)*\2(?:\\.|(?!\2).)*\2[gpIiMm0-9]*e/;

/** JavaScript's `\s` on one UTF-16 code unit. */
export function isJsSpace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

// Characters `.` does not match (no `s` flag).
function isLineTerminator(c: number): boolean {
  return c === 10 || c === 13 || c === 0x2028 || c === 0x2029;
}

// nonSpace[i]: first index >= i that is not `\s` (n when none).
function nonSpaceFrom(t: string): Int32Array {
  const n = t.length;
  const out = new Int32Array(n + 1);
  out[n] = n;
  for (let i = n - 1; i >= 0; i--) out[i] = isJsSpace(t.charCodeAt(i)) ? out[i + 1]! : i;
  return out;
}

/** Same answer as `SED_EXEC_COMMAND.test(t)`, in O(n). */
export function sedExecCommand(t: string): boolean {
  const n = t.length;
  if (!t.includes('e')) return false;
  const nonSpace = nonSpaceFrom(t);
  // p = -1 is `^`; otherwise the start group consumes t[p].
  for (let p = -1; p < n; p++) {
    if (p >= 0) {
      const c = t.charCodeAt(p);
      // ; \n { } 0-9 $ /
      if (!(c === 59 || c === 10 || c === 123 || c === 125 || (c >= 48 && c <= 57) || c === 36 || c === 47)) continue;
    }
    // \s* !? \s*: the blanks are skipped whole (the next token is not blank).
    let k = nonSpace[p + 1]!;
    if (k < n && t.charCodeAt(k) === 33) k = nonSpace[k + 1]!;
    if (k >= n || t.charCodeAt(k) !== 101) continue; // e
    if (k + 1 === n) return true;
    const next = t.charCodeAt(k + 1);
    if (next === 59 || isJsSpace(next)) return true;
  }
  return false;
}

function isSubstituteFlag(c: number): boolean {
  // g p I i M m 0-9
  return c === 103 || c === 112 || c === 73 || c === 105 || c === 77 || c === 109 || (c >= 48 && c <= 57);
}

/**
 * Same answer as `SED_SUBSTITUTE_EXEC.test(t)`. Simulates the pattern as a
 * graph over (position, which of the two `(?:\\.|(?!D).)*` groups) per
 * delimiter D, visiting each node once: O(n) per distinct delimiter.
 * Calls `tick` every 65,536 steps so the caller can enforce its deadline.
 */
export function sedSubstituteExec(t: string, tick?: () => void): boolean {
  const n = t.length;
  if (!t.includes('s') || !t.includes('e')) return false;
  const nonSpace = nonSpaceFrom(t);
  // Group the starts (index after `s` and the delimiter) by delimiter.
  const starts = new Map<number, number[]>();
  for (let p = -1; p < n; p++) {
    if (p >= 0) {
      const c = t.charCodeAt(p);
      if (c !== 59 && c !== 10) continue; // ; \n
    }
    const k = nonSpace[p + 1]!;
    if (k + 1 >= n || t.charCodeAt(k) !== 115) continue; // s
    const d = t.charCodeAt(k + 1);
    if (isLineTerminator(d)) continue;
    let list = starts.get(d);
    if (list === undefined) starts.set(d, (list = []));
    list.push(k + 2);
  }
  if (starts.size === 0) return false;
  // seen[pos] bit 1: visited inside the first group, bit 2: inside the second.
  const seen = new Uint8Array(n + 1);
  const stack: number[] = [];
  let steps = 0;
  for (const [d, list] of starts) {
    seen.fill(0);
    stack.length = 0;
    for (const s of list) stack.push(s * 2);
    while (stack.length > 0) {
      if (tick !== undefined && (++steps & 0xffff) === 0) tick();
      const state = stack.pop()!;
      const k = state >> 1;
      const second = state & 1;
      const bit = second ? 2 : 1;
      if (seen[k]! & bit) continue;
      seen[k]! |= bit;
      if (k >= n) continue;
      const c = t.charCodeAt(k);
      if (c === d) {
        if (second === 0) stack.push((k + 1) * 2 + 1);
        else {
          let j = k + 1;
          while (j < n && isSubstituteFlag(t.charCodeAt(j))) j++;
          if (j < n && t.charCodeAt(j) === 101) return true; // e
        }
      }
      // `\\.`: a backslash and any character but a line terminator.
      if (c === 92 && k + 1 < n && !isLineTerminator(t.charCodeAt(k + 1))) stack.push((k + 2) * 2 + second);
      // `(?!D).`
      if (c !== d && !isLineTerminator(c)) stack.push((k + 1) * 2 + second);
    }
  }
  return false;
}
