// Pure parts of the snapshot from file events: the manifest chunk cache must give exactly the
// bytes, names and digest of a from-scratch chunking, and the merge must give exactly the sorted
// manifest of the changed tree.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Manifest, ManifestEntry } from './manifest.ts';
import { ManifestChunkCache, chunkManifest, defaultLimits, manifestDigest, sortEntries } from './manifest.ts';
import { mergeChanges } from './incremental.ts';
import type { Refresh } from './incremental.ts';
import type { CachedEntry, ScannedEntry, SnapshotState, StatRecord } from './scan.ts';

const hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const stat: StatRecord = { size: 1, mtimeNs: 1n, ctimeNs: 1n, ino: 1n, dev: 1n, mode: 0o100644, nlink: 1 };

function tree(n: number): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  for (let d = 0; d < n / 100; d++) {
    entries.push({ path: `pkg/mod${d}`, type: 'dir', mode: 0o755, size: 0 });
    for (let f = 0; f < 100; f++) entries.push({ path: `pkg/mod${d}/file${String(d * 100 + f).padStart(5, '0')}.txt`, type: 'file', mode: 0o644, size: f, sha256: 'a'.repeat(64) });
  }
  entries.push({ path: 'pkg', type: 'dir', mode: 0o755, size: 0 });
  return sortEntries(entries);
}

function stateOf(entries: ManifestEntry[]): SnapshotState {
  const byPath = new Map<string, CachedEntry>();
  for (const entry of entries) byPath.set(entry.path, { entry, stat });
  const manifest: Manifest = { version: 1, entries };
  return { digest: manifestDigest(manifest), manifest, startedAtNs: 0n, byPath };
}

describe('ManifestChunkCache', () => {
  it('gives the bytes, names and digest of a from-scratch chunking, rebuilding only the chunk that changed', () => {
    const cache = new ManifestChunkCache();
    const entries = tree(5000);
    const m1: Manifest = { version: 1, entries };
    const a = cache.chunk(m1, hex);
    expect(Buffer.concat(a.chunks).equals(Buffer.concat(chunkManifest(m1)))).toBe(true);
    expect(a.names).toEqual(chunkManifest(m1).map(hex));
    expect(a.digest).toBe(manifestDigest(m1));
    expect(a.chunks.length).toBeGreaterThan(40); // ~64 lines a chunk, not 256 KB ones
    const i = 2345;
    const changed = [...entries];
    changed[i] = { ...(entries[i] as Extract<ManifestEntry, { type: 'file' }>), sha256: 'b'.repeat(64) };
    const m2: Manifest = { version: 1, entries: changed };
    const b = cache.chunk(m2, hex);
    expect(b.names).toEqual(chunkManifest(m2).map(hex));
    expect(b.digest).toBe(manifestDigest(m2));
    expect(b.names.filter((n, k) => n !== a.names[k]).length).toBe(1);
    // An insertion shifts nothing but its own chunk's content either.
    const extra: ManifestEntry = { path: 'pkg/mod7/new.txt', type: 'file', mode: 0o644, size: 0, sha256: 'c'.repeat(64) };
    const inserted = sortEntries([...changed, extra]);
    const c = cache.chunk({ version: 1, entries: inserted }, hex);
    expect(c.digest).toBe(manifestDigest({ version: 1, entries: inserted }));
    expect(c.names).toEqual(chunkManifest({ version: 1, entries: inserted }).map(hex));
  });
});

describe('mergeChanges', () => {
  it('applies modifications, additions, deletions and a removed subtree, in manifest order, reusing unchanged entries', () => {
    const entries = tree(300);
    const prev = stateOf(entries);
    const file = (path: string, sha: string): ScannedEntry => ({ path, type: 'file', mode: 0o644, size: 3, sha256: sha.repeat(64), stat });
    const r: Refresh = {
      changes: new Map<string, ScannedEntry | null>([
        ['pkg/mod0/file00005.txt', file('pkg/mod0/file00005.txt', 'd')],
        ['pkg/mod0/file00006.txt', null],
        ['pkg/mod2/zz.txt', file('pkg/mod2/zz.txt', 'e')],
        ['pkg/mod1', { path: 'pkg/mod1', type: 'dir', mode: 0o700, stat }],
        ['pkg/mod1/only.txt', file('pkg/mod1/only.txt', 'f')],
        ['pkg/mod0/file00007.txt', { ...(file('pkg/mod0/file00007.txt', 'a') as Extract<ScannedEntry, { type: 'file' }>), size: 70 }],
      ]),
      removedSubtrees: new Set(['pkg/mod1']),
      skipped: [],
    };
    const expected = entries
      .filter((e) => !e.path.startsWith('pkg/mod1/') && e.path !== 'pkg/mod0/file00006.txt' && e.path !== 'pkg/mod1')
      .map((e) => (e.path === 'pkg/mod0/file00005.txt' ? { ...e, size: 3, sha256: 'd'.repeat(64) } : e.path === 'pkg/mod0/file00007.txt' ? { ...e, size: 70 } : e)) as ManifestEntry[];
    const more: ManifestEntry[] = [
      { path: 'pkg/mod2/zz.txt', type: 'file', mode: 0o644, size: 3, sha256: 'e'.repeat(64) },
      { path: 'pkg/mod1', type: 'dir', mode: 0o700, size: 0 },
      { path: 'pkg/mod1/only.txt', type: 'file', mode: 0o644, size: 3, sha256: 'f'.repeat(64) },
    ];
    expected.push(...more);
    const m = mergeChanges(prev, r, defaultLimits);
    expect(m.entries).toEqual(sortEntries(expected));
    expect({ added: m.added, modified: m.modified, deleted: m.deleted }).toEqual({ added: 2, modified: 3, deleted: 1 + 100 });
    expect(m.files).toBe(expected.filter((e) => e.type === 'file').length);
    // Unchanged entries are the same objects (the chunk cache recognises them).
    expect(m.entries.find((e) => e.path === 'pkg/mod2/file00201.txt')).toBe(entries.find((e) => e.path === 'pkg/mod2/file00201.txt'));
    expect(prev.byPath.has('pkg/mod1/file00101.txt')).toBe(false);
    expect(prev.byPath.get('pkg/mod1/only.txt')?.entry.path).toBe('pkg/mod1/only.txt');
  });
});
