import { describe, expect, it } from 'vitest';
import { diffManifests, isProbablyText, myersDiff, unifiedDiff } from './diff.ts';
import type { Manifest } from './manifest.ts';

describe('unifiedDiff', () => {
  it('matches diff -u output for a change, an insertion and a deletion', () => {
    const a = 'one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n';
    const b = 'zero\none\ntwo\nthree\nFOUR\nfive\nsix\nseven\neight\nten\n';
    expect(unifiedDiff(a, b, { oldName: 'a/f', newName: 'b/f' })).toBe(
      ['--- a/f', '+++ b/f', '@@ -1,10 +1,10 @@', '+zero', ' one', ' two', ' three', '-four', '+FOUR', ' five', ' six', ' seven', ' eight', '-nine', ' ten', ''].join('\n'),
    );
  });
  it('splits distant changes into hunks', () => {
    const lines = Array.from({ length: 30 }, (_, i) => `l${i}`);
    const b = [...lines];
    b[2] = 'X';
    b[25] = 'Y';
    const out = unifiedDiff(lines.join('\n') + '\n', b.join('\n') + '\n') ?? '';
    expect(out.match(/^@@/gm)?.length).toBe(2);
    expect(out).toContain('@@ -1,6 +1,6 @@');
    expect(out).toContain('@@ -23,7 +23,7 @@');
  });
  it('marks a missing final newline', () => {
    expect(unifiedDiff('a\n', 'a')).toBe('--- a\n+++ b\n@@ -1 +1 @@\n-a\n+a\n\\ No newline at end of file\n');
  });
  it('returns empty for equal texts and null beyond maxEdits', () => {
    expect(unifiedDiff('x\n', 'x\n')).toBe('');
    expect(unifiedDiff('a\nb\nc\n', 'x\ny\nz\n', { maxEdits: 2 })).toBeNull();
  });
});

describe('diffManifests', () => {
  it('classifies added, modified (content or mode) and deleted paths', () => {
    const sha = (c: string): string => c.repeat(64);
    const a: Manifest = {
      version: 1,
      entries: [
        { path: 'a', type: 'file', mode: 0o644, size: 1, sha256: sha('a') },
        { path: 'b', type: 'file', mode: 0o644, size: 1, sha256: sha('b') },
        { path: 'c', type: 'file', mode: 0o644, size: 1, sha256: sha('c') },
      ],
    };
    const b: Manifest = {
      version: 1,
      entries: [
        { path: 'a', type: 'file', mode: 0o755, size: 1, sha256: sha('a') },
        { path: 'c', type: 'file', mode: 0o644, size: 1, sha256: sha('d') },
        { path: 'd', type: 'symlink', mode: 0o777, size: 1, target: 'c' },
      ],
    };
    const d = diffManifests(a, b);
    expect(d.added.map((e) => e.path)).toEqual(['d']);
    expect(d.deleted.map((e) => e.path)).toEqual(['b']);
    expect(d.modified.map((m) => [m.path, m.contentChanged])).toEqual([
      ['a', false],
      ['c', true],
    ]);
  });
  it('detects text', () => {
    expect(isProbablyText(Buffer.from('héllo\n'))).toBe(true);
    expect(isProbablyText(Buffer.from([0x68, 0, 0x69]))).toBe(false);
    expect(isProbablyText(Buffer.from([0xff, 0xfe]))).toBe(false);
  });
});

/** Edit distance by the textbook LCS table: the shortest script has n + m - 2·LCS edits. */
function minimalEdits(a: readonly string[], b: readonly string[]): number {
  const t = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) t[i]![j] = a[i] === b[j] ? t[i + 1]![j + 1]! + 1 : Math.max(t[i + 1]![j]!, t[i]![j + 1]!);
  return a.length + b.length - 2 * t[0]![0]!;
}

describe('myersDiff', () => {
  it('gives a shortest script that turns a into b, for generated pairs (shared heads and tails, pure insertions and deletions)', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const lines = (len: number) => Array.from({ length: len }, () => 'abcd'[rand(4)]!);
    for (let round = 0; round < 400; round++) {
      const shared = lines(rand(4));
      const a = [...shared, ...lines(rand(12)), ...shared];
      const b = round % 5 === 0 ? [...a.slice(0, rand(a.length + 1))] : round % 7 === 0 ? [...a, ...lines(rand(6))] : [...shared, ...lines(rand(12)), ...shared];
      const ops = myersDiff(a, b);
      expect(ops).not.toBeNull();
      expect(ops!.filter((o) => o.kind !== '+').map((o) => a[o.a])).toEqual(a);
      expect(ops!.filter((o) => o.kind !== '-').map((o) => b[o.b])).toEqual(b);
      expect(ops!.filter((o) => o.kind !== ' ').length).toBe(minimalEdits(a, b));
    }
  });

  it('patches a new file of any length at once, and a change deep inside a long file', () => {
    const big = Array.from({ length: 50_000 }, (_, i) => `line ${i}`);
    const t0 = performance.now();
    const added = unifiedDiff('', big.join('\n') + '\n');
    expect(added?.split('\n').filter((l) => l.startsWith('+')).length).toBe(50_001);
    const changed = [...big];
    changed[40_000] = 'changed';
    expect(unifiedDiff(big.join('\n'), changed.join('\n'))).toContain('-line 40000\n+changed');
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
