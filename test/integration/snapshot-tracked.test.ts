// Snapshots from file events (WorkspaceTracker) must never miss a change a walk would see: every
// kind of edit, each checked against a from-scratch walk of the same tree and a restore, against a
// real workspace directory and a real nats-server. Then the fallbacks: a kernel queue overflow, a
// state the tracker did not produce; a write through a shared mapping (no write event: the file is
// re-stat'ed while open); and the verifying walk that names a change no event reported.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { chmod, link, mkdir, mkdtemp, readFile, readlink, rename, rm, stat, symlink, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapshotStore, WorkspaceTracker } from '@airlock/snapshot';
import type { SnapshotResult } from '@airlock/snapshot';
import { NatsServer } from '../fixtures.ts';

let nats: NatsServer;
let nc: NatsConnection;
let scratch: string;
let store: SnapshotStore;

beforeAll(async () => {
  nats = await NatsServer.start();
  nc = await connect({ servers: nats.url });
  scratch = await mkdtemp(join(tmpdir(), 'airlock-tracked-'));
  store = await SnapshotStore.open(nc, { blobBucket: `tr_blobs_${process.pid}`, manifestBucket: `tr_manifests_${process.pid}`, racyWindowMs: 0 });
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
  await rm(scratch, { recursive: true, force: true });
});

/** Lets the clock move past the previous scan so the stat cache is trusted (racy window 0). */
const tick = () => new Promise((r) => setTimeout(r, 20));

/** Same-size rewrite whose mtime (atime too) is put back: only ctime and the event tell. */
async function rewriteKeepingMtime(path: string, body: string): Promise<void> {
  const before = await stat(path, { bigint: true });
  await writeFile(path, body);
  await utimes(path, Number(before.atimeNs) / 1e9, Number(before.mtimeNs) / 1e9);
  const after = await stat(path, { bigint: true });
  expect(after.size).toBe(before.size);
  expect(after.mtimeNs).toBe(before.mtimeNs);
}

const text = (p: string) => readFile(p, 'utf8');
const gone = async (p: string) => expect(stat(p)).rejects.toThrow();

type Edit = [name: string, apply: (dir: string) => Promise<void>, check: (restored: string) => Promise<void>];

const edits: Edit[] = [
  ['create a file', (d) => writeFile(join(d, 'src', 'new.txt'), 'new\n'), async (r) => expect(await text(join(r, 'src', 'new.txt'))).toBe('new\n')],
  ['modify keeping size and mtime (utimes)', (d) => rewriteKeepingMtime(join(d, 'a.txt'), 'ALPHA\n'), async (r) => expect(await text(join(r, 'a.txt'))).toBe('ALPHA\n')],
  ['truncate', (d) => truncate(join(d, 'src', 'new.txt'), 2), async (r) => expect(await text(join(r, 'src', 'new.txt'))).toBe('ne')],
  ['chmod a file', (d) => chmod(join(d, 'src', 'b.txt'), 0o600), async (r) => expect((await stat(join(r, 'src', 'b.txt'))).mode & 0o777).toBe(0o600)],
  ['chmod a directory', (d) => chmod(join(d, 'src'), 0o700), async (r) => expect((await stat(join(r, 'src'))).mode & 0o777).toBe(0o700)],
  ['rename a file', (d) => rename(join(d, 'src', 'b.txt'), join(d, 'src', 'c.txt')), async (r) => {
    expect(await text(join(r, 'src', 'c.txt'))).toBe('bravo\n');
    await gone(join(r, 'src', 'b.txt'));
  }],
  ['delete a file', (d) => unlink(join(d, 'src', 'new.txt')), (r) => gone(join(r, 'src', 'new.txt'))],
  ['retarget a symlink (same target length)', async (d) => {
    await unlink(join(d, 'link'));
    await symlink('b.txt', join(d, 'link'));
  }, async (r) => expect(await readlink(join(r, 'link'))).toBe('b.txt')],
  ['add a hardlink', (d) => link(join(d, 'a.txt'), join(d, 'hard.txt')), async (r) => expect(await text(join(r, 'hard.txt'))).toBe('ALPHA\n')],
  ['write through the hardlink, keeping size and mtime of the other name', (d) => rewriteKeepingMtime(join(d, 'hard.txt'), 'HARD!\n'), async (r) => {
    expect(await text(join(r, 'a.txt'))).toBe('HARD!\n');
    expect(await text(join(r, 'hard.txt'))).toBe('HARD!\n');
  }],
  ['a new directory holding a new name of an old file, written through it (mtime put back)', async (d) => {
    await mkdir(join(d, 'linkdir'));
    await link(join(d, 'solo.txt'), join(d, 'linkdir', 'h'));
    await rewriteKeepingMtime(join(d, 'linkdir', 'h'), 'SOLO!\n');
  }, async (r) => {
    expect(await text(join(r, 'solo.txt'))).toBe('SOLO!\n');
    expect(await text(join(r, 'linkdir', 'h'))).toBe('SOLO!\n');
  }],
  ['add an empty directory', (d) => mkdir(join(d, 'empty')), async (r) => expect((await stat(join(r, 'empty'))).isDirectory()).toBe(true)],
  ['a new directory tree written at once (before any watch on it)', async (d) => {
    await mkdir(join(d, 'deep', 'x', 'y'), { recursive: true });
    await writeFile(join(d, 'deep', 'x', 'y', 'leaf.txt'), 'leaf\n');
    await writeFile(join(d, 'deep', 'top.txt'), 'top\n');
  }, async (r) => {
    expect(await text(join(r, 'deep', 'x', 'y', 'leaf.txt'))).toBe('leaf\n');
    expect(await text(join(r, 'deep', 'top.txt'))).toBe('top\n');
  }],
  ['write inside the new tree (its watches were placed by the last snapshot)', (d) => writeFile(join(d, 'deep', 'x', 'y', 'leaf.txt'), 'LEAF\n'), async (r) => expect(await text(join(r, 'deep', 'x', 'y', 'leaf.txt'))).toBe('LEAF\n')],
  ['rename a directory, then write inside it', async (d) => {
    await rename(join(d, 'deep'), join(d, 'moved'));
    await writeFile(join(d, 'moved', 'x', 'y', 'leaf.txt'), 'moved\n');
  }, async (r) => {
    expect(await text(join(r, 'moved', 'x', 'y', 'leaf.txt'))).toBe('moved\n');
    await gone(join(r, 'deep'));
  }],
  ['write inside the renamed directory (watched under its new name)', (d) => writeFile(join(d, 'moved', 'top.txt'), 'TOP\n'), async (r) => expect(await text(join(r, 'moved', 'top.txt'))).toBe('TOP\n')],
  ['replace a file by a directory', async (d) => {
    await unlink(join(d, 'src', 'c.txt'));
    await mkdir(join(d, 'src', 'c.txt'));
    await writeFile(join(d, 'src', 'c.txt', 'inner'), 'inner\n');
  }, async (r) => expect(await text(join(r, 'src', 'c.txt', 'inner'))).toBe('inner\n')],
  ['replace a directory by a file', async (d) => {
    await rm(join(d, 'moved'), { recursive: true });
    await writeFile(join(d, 'moved'), 'now a file\n');
  }, async (r) => expect(await text(join(r, 'moved'))).toBe('now a file\n')],
  ['replace a directory by a symlink to outside (never followed)', async (d) => {
    await rm(join(d, 'src', 'c.txt'), { recursive: true });
    await symlink('/etc', join(d, 'src', 'c.txt'));
  }, async (r) => expect(await readlink(join(r, 'src', 'c.txt'))).toBe('/etc')],
  ['remove a directory tree', (d) => rm(join(d, 'src'), { recursive: true }), (r) => gone(join(r, 'src'))],
];

/** A tracker whose verification is not due during the test: every snapshot below comes from events. */
const eventsOnly = { verifyEvery: 1_000_000, verifyAfterMs: 1e12 };

describe('snapshots from file events', { timeout: 180_000 }, () => {
  it('see every kind of edit: each equals a from-scratch walk and restores exactly', async () => {
    const dir = join(scratch, 'ws');
    await mkdir(join(dir, 'src'), { recursive: true });
    await writeFile(join(dir, 'a.txt'), 'alpha\n');
    await writeFile(join(dir, 'src', 'b.txt'), 'bravo\n');
    await writeFile(join(dir, 'solo.txt'), 'solo!\n');
    await symlink('a.txt', join(dir, 'link'));
    for (const f of ['a.txt', 'src/b.txt', 'solo.txt']) await utimes(join(dir, f), 1_700_000_000, 1_700_000_000);
    using tracker = new WorkspaceTracker(dir, eventsOnly);
    expect(tracker.available, 'inotify must be available on this host').toBe(true);
    let prev: SnapshotResult = await store.snapshot(dir, { tracker });
    expect(prev.stats.tracking).toMatchObject({ mode: 'walk', fallback: 'not_started' });
    await tick();
    for (const [i, [name, apply, check]] of edits.entries()) {
      const idle = await store.snapshot(dir, { previous: prev.state, tracker });
      expect(idle.stats.tracking?.mode, `before ${name}`).toBe('events');
      expect(idle.digest, `before ${name}`).toBe(prev.digest);
      expect(idle.stats.filesHashed, `before ${name}`).toBe(0);
      await tick();
      await apply(dir);
      const next = await store.snapshot(dir, { previous: idle.state, tracker });
      expect(next.stats.tracking?.mode, name).toBe('events');
      expect(next.digest, name).not.toBe(prev.digest);
      expect(next.stats.added + next.stats.modified + next.stats.deleted, name).toBeGreaterThan(0);
      const fresh = await store.snapshot(dir);
      expect(fresh.digest, `${name}: events vs a walk with no cache`).toBe(next.digest);
      const restored = join(scratch, `restored-${i}`);
      await store.restore(next.digest, restored);
      await check(restored);
      prev = next;
      await tick();
    }
  });

  it('a fifo is skipped, not opened, and stays reported', async () => {
    const dir = join(scratch, 'fifo');
    await mkdir(dir);
    await writeFile(join(dir, 'f.txt'), 'f\n');
    using tracker = new WorkspaceTracker(dir, eventsOnly);
    const first = await store.snapshot(dir, { tracker });
    await tick();
    const mk = spawn('mkfifo', [join(dir, 'pipe')]);
    expect(await new Promise((r) => mk.on('exit', r))).toBe(0);
    const a = await store.snapshot(dir, { previous: first.state, tracker });
    expect(a.stats.tracking?.mode).toBe('events');
    expect(a.digest).toBe(first.digest);
    expect(a.stats.skipped).toContainEqual({ path: 'pipe', reason: 'fifo' });
    const b = await store.snapshot(dir, { previous: a.state, tracker });
    expect(b.stats.skipped).toContainEqual({ path: 'pipe', reason: 'fifo' });
  });

  it('falls back to a walk after a kernel queue overflow, and after a state it did not produce', async () => {
    const dir = join(scratch, 'overflow');
    await mkdir(join(dir, 'many'), { recursive: true });
    using tracker = new WorkspaceTracker(dir, eventsOnly);
    const first = await store.snapshot(dir, { tracker });
    // Synchronously: the event loop cannot drain in between, so the 16,384-event queue overflows
    // (each new file raises create, open, modify and close).
    for (let i = 0; i < 4_500; i++) writeFileSync(join(dir, 'many', `f${i}`), 'same');
    const after = await store.snapshot(dir, { previous: first.state, tracker });
    expect(after.stats.tracking).toMatchObject({ mode: 'walk', fallback: 'overflow' });
    expect(after.stats.files).toBe(4_500);
    expect(after.digest).toBe((await store.snapshot(dir)).digest);
    await tick();
    writeFileSync(join(dir, 'many', 'f1'), 'changed');
    const tracked = await store.snapshot(dir, { previous: after.state, tracker });
    expect(tracked.stats.tracking?.mode).toBe('events');
    expect(tracked.stats.modified).toBe(1);
    // A previous state from elsewhere (e.g. a runner restart's manifest): walk.
    const other = await store.snapshot(dir, { previous: first.state, tracker });
    expect(other.stats.tracking).toMatchObject({ mode: 'walk', fallback: 'other_state' });
    expect(other.digest).toBe(tracked.digest);
  });

  it('a write through a shared mapping after its fd was closed (no write event): the file is still open, so it is re-stat\'ed', async () => {
    const dir = join(scratch, 'mmap');
    await mkdir(dir);
    await writeFile(join(dir, 'm.bin'), 'aaaaaaaaaaaaaaaa');
    await writeFile(join(dir, 'other.txt'), 'x');
    // The third snapshot after the walk verifies; the first two come from events.
    using tracker = new WorkspaceTracker(dir, { verifyEvery: 2, verifyAfterMs: 1e12 });
    const first = await store.snapshot(dir, { tracker });
    await tick();
    // python maps the file writable, closes the fd, then writes through the map on request.
    const py = spawn('python3', ['-c', [
      'import mmap, os, sys',
      `fd = os.open(${JSON.stringify(join(dir, 'm.bin'))}, os.O_RDWR)`,
      'm = mmap.mmap(fd, 16)',
      'os.close(fd)',
      'print("ready", flush=True)',
      'sys.stdin.readline()',
      'm[0:4] = b"ZZZZ"',
      'm.flush()',
      'print("done", flush=True)',
      'sys.stdin.readline()',
    ].join('\n')], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
      expect((await lines.next()).value, 'python3 must run on this host').toBe('ready');
      const mapped = await store.snapshot(dir, { previous: first.state, tracker });
      expect(mapped.stats.tracking?.mode).toBe('events');
      expect(mapped.digest).toBe(first.digest);
      expect([...tracker.open.keys()]).toEqual(['m.bin']);
      await new Promise((r) => setTimeout(r, 100)); // a later timestamp tick for the write fault
      py.stdin.write('go\n');
      expect((await lines.next()).value).toBe('done');
      const written = await store.snapshot(dir, { previous: mapped.state, tracker });
      expect(written.stats.tracking?.mode).toBe('events');
      expect(written.stats.modified).toBe(1);
      const truth = await store.snapshot(dir);
      expect(written.digest).toBe(truth.digest);
      const verify = await store.snapshot(dir, { previous: written.state, tracker });
      expect(verify.stats.tracking).toEqual({ mode: 'walk', verified: true, missed: [] });
      expect(verify.digest).toBe(truth.digest);
    } finally {
      py.kill();
    }
  });

  it('the verifying walk names a change no event reported and returns the true tree', async () => {
    const dir = join(scratch, 'verify');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'sub', 'f.txt'), 'one\n');
    using tracker = new WorkspaceTracker(dir, { verifyEvery: 2, verifyAfterMs: 1e12 });
    const first = await store.snapshot(dir, { tracker });
    await tick();
    // Its directory's watch dropped (as a lost event would), the change raises nothing.
    tracker.forgetSubtree('sub');
    await writeFile(join(dir, 'sub', 'f.txt'), 'two\n');
    const a = await store.snapshot(dir, { previous: first.state, tracker });
    expect(a.stats.tracking?.mode).toBe('events');
    const b = await store.snapshot(dir, { previous: a.state, tracker });
    expect(b.stats.tracking?.mode).toBe('events');
    expect(b.digest, 'events alone cannot see it').toBe(first.digest);
    const v = await store.snapshot(dir, { previous: b.state, tracker });
    expect(v.stats.tracking).toEqual({ mode: 'walk', verified: true, missed: ['sub/f.txt'] });
    expect(v.digest).toBe((await store.snapshot(dir)).digest);
    expect(v.digest).not.toBe(first.digest);
    // The walk placed the watch again: the next change comes from events.
    await tick();
    await writeFile(join(dir, 'sub', 'f.txt'), 'three\n');
    const c = await store.snapshot(dir, { previous: v.state, tracker });
    expect(c.stats.tracking?.mode).toBe('events');
    expect(c.digest).toBe((await store.snapshot(dir)).digest);
  });
});
