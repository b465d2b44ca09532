import { describe, expect, it } from 'vitest';
import { SnapshotError } from './errors.ts';
import type { Manifest, ManifestEntry } from './manifest.ts';
import { chunkManifest, comparePaths, defaultLimits, manifestDigest, parseManifest, serializeManifest, sortEntries, validatePath } from './manifest.ts';

const sha = 'a'.repeat(64);
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof SnapshotError ? err.code : 'other';
  }
};

function bigManifest(n: number, changed = -1): Manifest {
  const entries: ManifestEntry[] = [];
  for (let d = 0; d < n / 100; d++) {
    entries.push({ path: `d${d}`, type: 'dir', mode: 0o755, size: 0 });
    for (let f = 0; f < 100; f++) {
      const i = d * 100 + f;
      entries.push({ path: `d${d}/f${f}`, type: 'file', mode: 0o644, size: i, sha256: (i === changed ? 'b' : 'a').repeat(64) });
    }
  }
  return { version: 1, entries: sortEntries(entries) };
}

describe('validatePath', () => {
  it.each(['a', 'a/b', 'a b/ü', '.hidden', '..foo', 'a/...'])('accepts %j', (p) => expect(validatePath(p)).toBe(p));
  it.each(['', '/etc/passwd', '../x', 'a/../b', 'a/./b', './a', 'a//b', 'a/', 'a\0b', `${'x'.repeat(256)}`])('rejects %j as unsafe_path', (p) => {
    expect(code(() => validatePath(p))).toBe('unsafe_path');
  });
  it('limits total length', () => expect(code(() => validatePath('a/'.repeat(3000) + 'a'))).toBe('limit_exceeded'));
});

describe('comparePaths', () => {
  it('orders by UTF-8 bytes, parents before children', () => {
    const paths = ['a/b', 'a-b', 'a', 'b', '\u{1F600}', '\uFFFD', 'é', 'Z'];
    const want = [...paths].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...paths].sort(comparePaths)).toEqual(want);
    expect(want.indexOf('a')).toBeLessThan(want.indexOf('a/b'));
  });
});

describe('parseManifest', () => {
  const H = '{"v":1,"kind":"airlock.manifest"}\n';
  it('round-trips the canonical form', () => {
    const m = bigManifest(300);
    expect(parseManifest(serializeManifest(m))).toEqual(m);
  });
  it.each([
    ['non-canonical key order', `${H}{"type":"dir","path":"a","mode":493,"size":0}\n`, 'invalid_manifest'],
    ['unsorted', `${H}{"path":"b","type":"dir","mode":493,"size":0}\n{"path":"a","type":"dir","mode":493,"size":0}\n`, 'invalid_manifest'],
    ['duplicate', `${H}{"path":"a","type":"dir","mode":493,"size":0}\n{"path":"a","type":"dir","mode":493,"size":0}\n`, 'unsafe_path'],
    ['missing parent', `${H}{"path":"a/b","type":"dir","mode":493,"size":0}\n`, 'unsafe_path'],
    ['write under symlink', `${H}{"path":"a","type":"symlink","mode":511,"size":1,"target":"/"}\n{"path":"a/b","type":"file","mode":420,"size":0,"sha256":"${sha}"}\n`, 'unsafe_path'],
    ['write under file', `${H}{"path":"a","type":"file","mode":420,"size":0,"sha256":"${sha}"}\n{"path":"a/b","type":"file","mode":420,"size":0,"sha256":"${sha}"}\n`, 'unsafe_path'],
    ['setuid bit', `${H}{"path":"a","type":"file","mode":2541,"size":0,"sha256":"${sha}"}\n`, 'invalid_manifest'],
    ['bad hash', `${H}{"path":"a","type":"file","mode":420,"size":0,"sha256":"xyz"}\n`, 'invalid_manifest'],
    ['fifo', `${H}{"path":"a","type":"fifo","mode":420,"size":0}\n`, 'unsupported_entry'],
    ['no trailing newline', `${H}{"path":"a","type":"dir","mode":493,"size":0}`, 'invalid_manifest'],
    ['bad header', `{"v":2}\n`, 'invalid_manifest'],
  ])('rejects %s', (_n, text, want) => {
    expect(code(() => parseManifest(Buffer.from(text)))).toBe(want);
  });
  it('enforces entry and byte limits', () => {
    const m = bigManifest(300);
    expect(code(() => parseManifest(serializeManifest(m), { ...defaultLimits, maxEntries: 10 }))).toBe('limit_exceeded');
    expect(code(() => parseManifest(serializeManifest(m), { ...defaultLimits, maxTotalBytes: 1000 }))).toBe('limit_exceeded');
    expect(code(() => parseManifest(serializeManifest(m), { ...defaultLimits, maxEntryBytes: 100 }))).toBe('limit_exceeded');
  });
});

describe('chunkManifest', () => {
  it('concatenates back to the canonical bytes', () => {
    const m = bigManifest(5000);
    expect(Buffer.concat(chunkManifest(m)).equals(serializeManifest(m))).toBe(true);
  });
  it('changes only one chunk when one file changes', () => {
    const a = chunkManifest(bigManifest(5000)).map((c) => c.toString());
    const b = chunkManifest(bigManifest(5000, 2345)).map((c) => c.toString());
    expect(a.length).toBe(b.length);
    expect(a.filter((c, i) => c !== b[i]).length).toBe(1);
    expect(manifestDigest(bigManifest(5000))).not.toBe(manifestDigest(bigManifest(5000, 2345)));
  });
});
