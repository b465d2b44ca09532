import { describe, expect, it } from 'vitest';
import type { StatRecord } from './scan.ts';
import { canReuseHash } from './scan.ts';

const s = 1_000_000_000n;
const base: StatRecord = { size: 10, mtimeNs: 100n * s, ctimeNs: 100n * s, ino: 7n, dev: 1n, mode: 0o100644 };

describe('canReuseHash (stat fast path + racy git)', () => {
  it('reuses an unchanged stat recorded safely before the previous scan', () => {
    expect(canReuseHash(base, { ...base }, 110n * s, 2n * s)).toBe(true);
  });
  it.each([
    ['size', { size: 11 }],
    ['mtime', { mtimeNs: 101n * s }],
    ['ctime', { ctimeNs: 101n * s }],
    ['inode', { ino: 8n }],
    ['device', { dev: 2n }],
    ['mode', { mode: 0o100755 }],
  ])('rehashes when %s changed', (_n, diff) => {
    expect(canReuseHash(base, { ...base, ...diff }, 110n * s, 2n * s)).toBe(false);
  });
  it('rehashes a file whose identical stat lies in the same tick as the previous scan (racy)', () => {
    // Everything identical, including ctime (coarse filesystem clock): only the racy rule catches a
    // same-size rewrite made right after the scan started.
    expect(canReuseHash(base, { ...base }, 100n * s, 0n)).toBe(false);
    expect(canReuseHash(base, { ...base }, 101n * s, 2n * s)).toBe(false);
    expect(canReuseHash(base, { ...base }, 102n * s + 1n, 2n * s)).toBe(true);
  });
  it('rehashes when there is no cached stat (state rebuilt from a manifest)', () => {
    expect(canReuseHash(undefined, base, 110n * s, 0n)).toBe(false);
  });
});
