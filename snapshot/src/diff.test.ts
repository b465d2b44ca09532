import { describe, expect, it } from 'vitest';
import { diffManifests, isProbablyText, unifiedDiff } from './diff.ts';
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
