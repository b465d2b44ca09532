// The snapshot of an unchanged workspace (snapshot/src/unchanged.ts), against a real nats-server:
// the previous digest again without storing a manifest, and every kind of change still seen.
import { chmod, mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapshotStore } from '@airlock/snapshot';
import type { SnapshotResult } from '@airlock/snapshot';
import { NatsServer } from '../fixtures.ts';

let nats: NatsServer;
let nc: NatsConnection;
let scratch: string;
let n = 0;

beforeAll(async () => {
  nats = await NatsServer.start();
  nc = await connect({ servers: nats.url });
  scratch = await mkdtemp(join(tmpdir(), 'airlock-unchanged-'));
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
  await rm(scratch, { recursive: true, force: true });
});

/** A workspace of a few files, a directory and a symlink, and a store on its own buckets. */
async function setup(): Promise<{ dir: string; store: SnapshotStore }> {
  n++;
  const dir = join(scratch, `ws${n}`);
  await mkdir(join(dir, 'src'), { recursive: true });
  await writeFile(join(dir, 'a.txt'), 'alpha\n');
  await writeFile(join(dir, 'src', 'b.txt'), 'bravo\n');
  await symlink('a.txt', join(dir, 'link'));
  // A zero racy window: files are trusted once the clock has moved past the scan that saw them.
  const store = await SnapshotStore.open(nc, { blobBucket: `u_blobs_${process.pid}_${n}`, manifestBucket: `u_manifests_${process.pid}_${n}`, racyWindowMs: 0 });
  return { dir, store };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

/** A first snapshot, then a second one after the clock moved on (so the stat cache is trusted). */
async function settled(store: SnapshotStore, dir: string): Promise<SnapshotResult> {
  const first = await store.snapshot(dir, { group: 'g' });
  await tick();
  const second = await store.snapshot(dir, { group: 'g', previous: first.state });
  await tick();
  return second;
}

describe('snapshot of an unchanged workspace', { timeout: 60_000 }, () => {
  it('is the previous digest, hashes nothing, stores no manifest, and records a ref', async () => {
    const { dir, store } = await setup();
    const prev = await settled(store, dir);
    const refsBefore = (await store.manifests.list()).filter((o) => o.name.startsWith('r.g.')).length;
    const again = await store.snapshot(dir, { group: 'g', previous: prev.state, label: 'step-3' });
    expect(again.digest).toBe(prev.digest);
    expect(again.stats).toMatchObject({ filesHashed: 0, blobsUploaded: 0, manifestBytesUploaded: 0, added: 0, modified: 0, deleted: 0, files: 3 - 1, entries: 4 });
    expect((await store.manifests.list()).filter((o) => o.name.startsWith('r.g.')).length).toBe(refsBefore + 1);
    // Its state serves the next snapshot like any other.
    await writeFile(join(dir, 'a.txt'), 'ALPHA\n');
    const changed = await store.snapshot(dir, { group: 'g', previous: again.state });
    expect(changed.digest).not.toBe(prev.digest);
    expect(changed.stats).toMatchObject({ filesHashed: 1, modified: 1 });
  });

  it.each([
    ['same-size content change', (dir: string) => writeFile(join(dir, 'src', 'b.txt'), 'BRAVO\n')],
    ['mode change', (dir: string) => chmod(join(dir, 'a.txt'), 0o600)],
    ['deleted file', (dir: string) => unlink(join(dir, 'src', 'b.txt'))],
    ['new empty directory', (dir: string) => mkdir(join(dir, 'empty'))],
    ['symlink retargeted', async (dir: string) => { await unlink(join(dir, 'link')); await symlink('src/b.txt', join(dir, 'link')); }],
  ])('still sees a %s', async (_name, change) => {
    const { dir, store } = await setup();
    const prev = await settled(store, dir);
    await change(dir);
    const next = await store.snapshot(dir, { group: 'g', previous: prev.state });
    expect(next.digest).not.toBe(prev.digest);
    expect(next.stats.added + next.stats.modified + next.stats.deleted).toBeGreaterThan(0);
    // The same tree from scratch (no stat cache) has the same digest: the fast path decided nothing.
    const fresh = await store.snapshot(dir, {});
    expect(fresh.digest).toBe(next.digest);
  });

  it('stores the manifest again when the previous one is gone from the store', async () => {
    const { dir, store } = await setup();
    const prev = await settled(store, dir);
    await store.manifests.delete(`m.${prev.digest}`);
    const again = await store.snapshot(dir, { group: 'g', previous: prev.state });
    expect(again.digest).toBe(prev.digest);
    expect(again.stats.manifestBytesUploaded).toBeGreaterThan(0);
    expect(await store.getManifest(again.digest)).toEqual(prev.manifest);
  });
});
