// Every kind of edit an agent step can make is captured by the next incremental snapshot (the stat
// fast path must never hide one), proven by a real restore round trip against a real nats-server.
// One long-lived stat cache is carried across all edits, as the runner does between steps.
import { chmod, link, mkdir, mkdtemp, readFile, rename, rm, rmdir, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
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

beforeAll(async () => {
  nats = await NatsServer.start();
  nc = await connect({ servers: nats.url });
  scratch = await mkdtemp(join(tmpdir(), 'airlock-edit-kinds-'));
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
  await rm(scratch, { recursive: true, force: true });
});

/** Lets the clock move past the previous scan so the stat cache is trusted (racy window 0). */
const tick = () => new Promise((r) => setTimeout(r, 20));

/** Same-size rewrite whose mtime (atime too) is put back: only ctime tells. */
async function rewriteKeepingMtime(path: string, body: string): Promise<void> {
  const before = await stat(path, { bigint: true });
  await writeFile(path, body);
  await utimes(path, Number(before.atimeNs) / 1e9, Number(before.mtimeNs) / 1e9);
  const after = await stat(path, { bigint: true });
  expect(after.size).toBe(before.size);
  expect(after.mtimeNs).toBe(before.mtimeNs);
}

type Edit = [name: string, apply: (dir: string) => Promise<void>, check: (restored: string) => Promise<void>];

const edits: Edit[] = [
  ['create a file', (d) => writeFile(join(d, 'src', 'new.txt'), 'new\n'), async (r) => expect(await readFile(join(r, 'src', 'new.txt'), 'utf8')).toBe('new\n')],
  ['modify keeping size and mtime (utimes)', (d) => rewriteKeepingMtime(join(d, 'a.txt'), 'ALPHA\n'), async (r) => expect(await readFile(join(r, 'a.txt'), 'utf8')).toBe('ALPHA\n')],
  ['chmod', (d) => chmod(join(d, 'src', 'b.txt'), 0o600), async (r) => expect((await stat(join(r, 'src', 'b.txt'))).mode & 0o777).toBe(0o600)],
  ['rename', (d) => rename(join(d, 'src', 'b.txt'), join(d, 'src', 'c.txt')), async (r) => {
    expect(await readFile(join(r, 'src', 'c.txt'), 'utf8')).toBe('bravo\n');
    await expect(stat(join(r, 'src', 'b.txt'))).rejects.toThrow();
  }],
  ['delete a file', (d) => unlink(join(d, 'src', 'new.txt')), async (r) => await expect(stat(join(r, 'src', 'new.txt'))).rejects.toThrow()],
  ['retarget a symlink (same target length)', async (d) => {
    await unlink(join(d, 'link'));
    await symlink('b.txt', join(d, 'link'));
  }, async (r) => expect((await import('node:fs/promises')).readlink(join(r, 'link'))).resolves.toBe('b.txt')],
  ['add an empty directory', (d) => mkdir(join(d, 'empty')), async (r) => expect((await stat(join(r, 'empty'))).isDirectory()).toBe(true)],
  ['remove an empty directory', (d) => rmdir(join(d, 'empty')), async (r) => await expect(stat(join(r, 'empty'))).rejects.toThrow()],
  ['add a hardlink', (d) => link(join(d, 'a.txt'), join(d, 'hard.txt')), async (r) => expect(await readFile(join(r, 'hard.txt'), 'utf8')).toBe('ALPHA\n')],
  ['write through the hardlink, keeping size and mtime of the other name', (d) => rewriteKeepingMtime(join(d, 'hard.txt'), 'HARD!\n'), async (r) => {
    expect(await readFile(join(r, 'a.txt'), 'utf8')).toBe('HARD!\n');
    expect(await readFile(join(r, 'hard.txt'), 'utf8')).toBe('HARD!\n');
  }],
];

describe('incremental snapshots capture every kind of edit', { timeout: 120_000 }, () => {
  it('each edit changes the digest, matches a from-scratch snapshot, and restores exactly', async () => {
    const dir = join(scratch, 'ws');
    await mkdir(join(dir, 'src'), { recursive: true });
    await writeFile(join(dir, 'a.txt'), 'alpha\n');
    await writeFile(join(dir, 'src', 'b.txt'), 'bravo\n');
    await symlink('a.txt', join(dir, 'link'));
    // Whole-second times, so utimes can put an mtime back to the exact nanosecond.
    for (const f of ['a.txt', 'src/b.txt']) await utimes(join(dir, f), 1_700_000_000, 1_700_000_000);
    const store = await SnapshotStore.open(nc, { blobBucket: `ek_blobs_${process.pid}`, manifestBucket: `ek_manifests_${process.pid}`, racyWindowMs: 0 });
    let prev: SnapshotResult = await store.snapshot(dir);
    await tick();
    prev = await store.snapshot(dir, { previous: prev.state });
    await tick();
    for (const [name, apply, check] of edits) {
      // The stat cache is warm: nothing changed yet, so the fast path returns the same digest.
      const idle = await store.snapshot(dir, { previous: prev.state });
      expect(idle.digest, `before ${name}`).toBe(prev.digest);
      expect(idle.stats.filesHashed, `before ${name}`).toBe(0);
      await tick();
      await apply(dir);
      const next = await store.snapshot(dir, { previous: idle.state });
      expect(next.digest, name).not.toBe(prev.digest);
      expect(next.stats.added + next.stats.modified + next.stats.deleted, name).toBeGreaterThan(0);
      // No stat cache at all: the digest the fast path produced must be the true one.
      const fresh = await store.snapshot(dir);
      expect(fresh.digest, name).toBe(next.digest);
      const restored = join(scratch, `restored-${edits.findIndex((e) => e[0] === name)}`);
      await store.restore(next.digest, restored);
      await check(restored);
      expect((await store.snapshot(restored)).digest, `${name}: restored tree`).toBe(next.digest);
      prev = next;
      await tick();
    }
  });
});
