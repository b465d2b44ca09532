import { describe, expect, it } from 'vitest';
import type { Manifest } from './manifest.ts';
import type { ScannedEntry, StatRecord } from './scan.ts';
import { sameAsManifest } from './unchanged.ts';

const stat: StatRecord = { size: 0, mtimeNs: 1n, ctimeNs: 1n, ino: 1n, dev: 1n, mode: 0 };
const SHA = 'a'.repeat(64);
const manifest: Manifest = {
  version: 1,
  entries: [
    { path: 'a.txt', type: 'file', mode: 0o644, size: 3, sha256: SHA },
    { path: 'l', type: 'symlink', mode: 0o777, size: 5, target: 'a.txt' },
    { path: 'src', type: 'dir', mode: 0o755, size: 0 },
  ],
};
const scanned = (): ScannedEntry[] => [
  { path: 'a.txt', type: 'file', mode: 0o644, size: 3, sha256: SHA, stat },
  { path: 'l', type: 'symlink', mode: 0o777, target: 'a.txt', stat },
  { path: 'src', type: 'dir', mode: 0o755, stat },
];

describe('sameAsManifest', () => {
  it('is true for the same entries with reused hashes', () => {
    expect(sameAsManifest(scanned(), manifest)).toBe(true);
  });
  it.each<[string, (s: ScannedEntry[]) => ScannedEntry[]]>([
    ['a file that needs hashing', (s) => s.map((e) => (e.type === 'file' ? { ...e, sha256: undefined } : e))],
    ['another hash', (s) => s.map((e) => (e.type === 'file' ? { ...e, sha256: 'b'.repeat(64) } : e))],
    ['another size', (s) => s.map((e) => (e.type === 'file' ? { ...e, size: 4 } : e))],
    ['another mode', (s) => s.map((e) => (e.type === 'dir' ? { ...e, mode: 0o700 } : e))],
    ['another symlink target', (s) => s.map((e) => (e.type === 'symlink' ? { ...e, target: 'src' } : e))],
    ['a missing entry', (s) => s.slice(1)],
    ['an extra entry', (s) => [...s, { path: 'z', type: 'dir', mode: 0o755, stat }]],
    ['a renamed entry', (s) => s.map((e) => (e.type === 'dir' ? { ...e, path: 'srd' } : e))],
    ['a file that became a directory', (s) => s.map((e) => (e.type === 'file' ? { path: e.path, type: 'dir', mode: e.mode, stat } : e))],
  ])('is false for %s', (_name, change) => {
    expect(sameAsManifest(change(scanned()), manifest)).toBe(false);
  });
});
