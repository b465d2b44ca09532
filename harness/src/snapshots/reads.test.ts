import { describe, expect, it } from 'vitest';
import { SNAPSHOT_READ_CHUNK_BYTES } from '@airlock/proto';
import type { Manifest } from '@airlock/snapshot';
import { SnapshotReads } from './reads.ts';
import type { WorkspaceDiffs } from './diff.ts';
import type { LazySnapshotStore } from './store.ts';

const RUN = '01SNAPREADS000000000000000';
const SHA = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const DIGEST = 'c'.repeat(64);
const manifest: Manifest = { version: 1, entries: [{ path: 'f', type: 'file', mode: 0o644, size: 3 * SNAPSHOT_READ_CHUNK_BYTES, sha256: SHA }] };

/** A store whose one blob is three pieces long; `returned` counts streams closed early. */
function fixture(now: { t: number }, idleMs = 60_000) {
  const state = { returned: 0 };
  const store = {
    getManifest: () => Promise.resolve(manifest),
    readBlob: () =>
      (async function* () {
        try {
          for (let i = 0; i < 3; i++) yield new Uint8Array(SNAPSHOT_READ_CHUNK_BYTES).fill(i);
        } finally {
          state.returned++;
        }
      })(),
  };
  const diffs = { snapshotAt: (_run: string, step: number) => Promise.resolve({ step, digest: DIGEST }) } as unknown as WorkspaceDiffs;
  const lazy = { get: () => Promise.resolve(store) } as unknown as LazySnapshotStore;
  return { reads: new SnapshotReads({ diffs, store: lazy }, { idleMs, perPrincipal: 2, now: () => now.t }), state };
}

const ada = { principal: 'ada', role: 'agent' as const };
const ask = (what: string, cursor?: string) => ({ v: 1 as const, runId: RUN, step: 1, what, ...(cursor ? { cursor } : {}) });

describe('snapshot reads through the harness', () => {
  it('hands a file out in pieces with a cursor, only to the caller that opened the read, and only a file the snapshot lists', async () => {
    const now = { t: 0 };
    const { reads } = fixture(now);
    const first = await reads.handle(ask(SHA), ada);
    expect(first).toMatchObject({ runId: RUN, step: 1, digest: DIGEST, done: false });
    expect(Buffer.from(first.data, 'base64').length).toBe(SNAPSHOT_READ_CHUNK_BYTES);
    await expect(reads.handle(ask(SHA, first.cursor), { principal: 'bob', role: 'agent' })).rejects.toMatchObject({ code: 'bad_request' });
    const second = await reads.handle(ask(SHA, first.cursor), ada);
    const third = await reads.handle(ask(SHA, first.cursor), ada);
    const last = await reads.handle(ask(SHA, first.cursor), ada);
    expect([second.done, third.done, last.done]).toEqual([false, false, true]);
    expect(Buffer.from(third.data, 'base64')[0]).toBe(2);
    expect(last.data).toBe('');
    expect(reads.open).toBe(0);
    await expect(reads.handle(ask(OTHER), ada)).rejects.toMatchObject({ code: 'bad_request' });
    const listing = await reads.handle(ask('manifest'), ada);
    expect(listing.done).toBe(true);
    expect(Buffer.from(listing.data, 'base64').toString()).toContain(SHA);
  });

  it('bounds the reads one caller keeps open; closes idle ones on the next request, and by itself when nobody asks', async () => {
    const now = { t: 0 };
    const { reads, state } = fixture(now);
    await reads.handle(ask(SHA), ada);
    await reads.handle(ask(SHA), ada);
    await expect(reads.handle(ask(SHA), ada)).rejects.toMatchObject({ code: 'capacity_exhausted' });
    expect(reads.open).toBe(2);
    now.t = 61_000;
    await reads.handle(ask('manifest'), ada);
    expect(reads.open).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(state.returned).toBe(2);

    // Abandoned, and no request after it: the sweeper (every idleMs / 2, at least 1 s) closes it.
    const quiet = fixture(now, 2000);
    await quiet.reads.handle(ask(SHA), ada);
    expect(quiet.reads.open).toBe(1);
    now.t += 2500;
    await new Promise((r) => setTimeout(r, 1300));
    expect(quiet.reads.open).toBe(0);
    expect(quiet.state.returned).toBe(1);
    reads.close();
    quiet.reads.close();
  });
});
