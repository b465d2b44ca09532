/**
 * `tokensIntersect` keeps its walk's state in module variables and a reused memo (it runs for every glob
 * argument against every protected pattern). This checks it against the straightforward closure-and-fresh-table
 * version it replaced, on generated glob pairs and on the default policy's protected names.
 */
import { describe, expect, it } from 'vitest';
import { argumentGlob, policyGlob, tokensIntersect, type GlobTokens, type Tok } from './compile.ts';
import { compilePolicy } from './compile.ts';
import { defaultPolicy } from './policy.ts';

/** The version before the shared memo (session 7), kept as the reference. */
function referenceIntersect(ta: GlobTokens, tb: GlobTokens): boolean {
  const w = tb.length + 1;
  const memo = new Uint8Array((ta.length + 1) * w);
  const go = (i: number, j: number): boolean => {
    const key = i * w + j;
    const hit = memo[key]!;
    if (hit !== 0) return hit === 2;
    memo[key] = 1;
    let r: boolean;
    const x = ta[i];
    const y = tb[j];
    if (x === undefined && y === undefined) r = true;
    else if (x !== undefined && x.star) {
      r = go(i + 1, j) || (y !== undefined && (y.star ? go(i, j + 1) : (x.deep || !y.set.has('/') || y.neg) && go(i, j + 1)));
    } else if (y !== undefined && y.star) {
      r = go(i, j + 1) || (x !== undefined && (y.deep || !x.set.has('/') || x.neg) && go(i + 1, j));
    } else if (x === undefined || y === undefined) r = false;
    else r = referenceOverlap(x, y) && go(i + 1, j + 1);
    memo[key] = r ? 2 : 1;
    return r;
  };
  return go(0, 0);
}

function referenceOverlap(x: Tok, y: Tok): boolean {
  if (!x.neg && !y.neg) {
    for (const c of x.set) if (y.set.has(c)) return true;
    return false;
  }
  if (x.neg && y.neg) return true;
  const [pos, neg] = x.neg ? [y, x] : [x, y];
  for (const c of pos.set) if (!neg.set.has(c)) return true;
  return false;
}

/** A small deterministic generator (xorshift), so a failure names a reproducible pair. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const PIECES = ['a', 'b', 'E', '.', '/', '*', '**', '?', '[ab]', '[!a]', '[^/]', '[a-c]', '\\*', 'env', 'ssh', 'id_', '~', '.env', '/.ssh/', '-'];

function glob(next: () => number): string {
  const n = 1 + Math.floor(next() * 9);
  let s = '';
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(next() * PIECES.length)];
  return s;
}

describe('tokensIntersect equals the reference walk', () => {
  it('on 40,000 generated pairs (both kinds of tokenising)', () => {
    const next = rng(20261202);
    let differ = 0;
    let yes = 0;
    for (let k = 0; k < 40_000; k++) {
      const a = argumentGlob(glob(next));
      const b = k % 2 === 0 ? policyGlob(glob(next)) : argumentGlob(glob(next));
      const got = tokensIntersect(a, b);
      if (got !== referenceIntersect(a, b)) differ++;
      if (got) yes++;
    }
    expect(differ).toBe(0);
    // Both answers occur often enough for the comparison to mean something.
    expect(yes).toBeGreaterThan(1_000);
    expect(yes).toBeLessThan(38_000);
  });

  it("on the default policy's protected patterns against generated arguments, after a long pair grew the memo", async () => {
    const p = compilePolicy(await defaultPolicy());
    const patterns = [...p.readRules.rules, ...p.writeRules.rules].flatMap((r) => r.patterns);
    expect(patterns.length).toBeGreaterThan(50);
    tokensIntersect(argumentGlob('*'.repeat(300)), policyGlob('a'.repeat(300)));
    const next = rng(7);
    let differ = 0;
    for (let k = 0; k < 300; k++) {
      const a = argumentGlob(glob(next));
      for (const pat of patterns) {
        const b = policyGlob(pat);
        if (tokensIntersect(a, b) !== referenceIntersect(a, b)) differ++;
      }
    }
    expect(differ).toBe(0);
  });
});
