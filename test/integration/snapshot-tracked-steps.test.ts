// Steps in a real sandbox (real dockerd, real nats-server, harness and runner in this process) on a
// named workspace: the runner snapshots after each step from file events, and every snapshot must
// equal a from-scratch walk of the workspace on the host. The kinds of change an agent's commands
// make, each in its own step: content rewritten with its mtime put back, chmod, rename, symlink
// retarget, a hardlink and a write through it, a new empty dir, delete, a file replaced by a
// directory, a new tree, a renamed tree written into.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { SnapshotStore } from '@airlock/snapshot';
import { runEvents, useStack } from '../fixtures.ts';

const stack = useStack();
const ws = mkdtempSync(join(tmpdir(), 'airlock-tracked-steps-'));
afterAll(() => rmSync(ws, { recursive: true, force: true }));

const steps: [name: string, cmd: string][] = [
  ['seed', 'mkdir -p src && printf "alpha\\n" > a.txt && printf "bravo\\n" > src/b.txt && printf "new\\n" > src/new.txt && ln -s a.txt link && touch -d @1700000000 a.txt src/b.txt'],
  ['nothing changed', 'cat a.txt src/b.txt > /dev/null; ls -R > /dev/null'],
  ['same size, mtime put back', 'printf "ALPHA\\n" > a.txt && touch -d @1700000000 a.txt'],
  ['chmod', 'chmod 600 src/b.txt'],
  ['rename', 'mv src/b.txt src/c.txt'],
  ['symlink retarget (same length)', 'ln -sfn b.txt link'],
  ['hardlink', 'ln a.txt hard.txt'],
  ['write through the hardlink, mtime put back', 'printf "HARD!\\n" > hard.txt && touch -d @1700000000 hard.txt'],
  ['new empty directory', 'mkdir empty'],
  ['delete', 'rm src/new.txt'],
  ['file replaced by a directory', 'rm src/c.txt && mkdir src/c.txt && printf "inner\\n" > src/c.txt/inner'],
  ['new tree', 'mkdir -p deep/x/y && printf "leaf\\n" > deep/x/y/leaf.txt'],
  ['renamed tree written into', 'mv deep moved && printf "moved\\n" > moved/x/y/leaf.txt'],
  ['directory replaced by a file', 'rm -r moved && printf "file\\n" > moved'],
];

describe('snapshots from file events after real sandbox steps', { timeout: 180_000 }, () => {
  it('every step: the runner\'s snapshot is the digest of a walk of the workspace, found from events', async () => {
    const nc = await connect({ servers: stack.nats.url });
    await using verifier = await SnapshotStore.open(nc, { blobBucket: `tss_blobs_${process.pid}`, manifestBucket: `tss_manifests_${process.pid}` });
    await using run = await stack.client.open({ workspace: ws });
    try {
      const digests: string[] = [];
      for (const [name, cmd] of steps) {
        const r = await run.exec(cmd);
        expect(r.exitCode, `${name}: ${r.stderr}`).toBe(0);
        const truth = await verifier.snapshot(ws);
        expect(r.snapshot, name).toBe(truth.digest);
        digests.push(truth.digest);
      }
      // Each change step changed the tree; the read-only step did not.
      expect(digests[1]).toBe(digests[0]);
      for (let i = 2; i < digests.length; i++) expect(digests[i], steps[i]![0]).not.toBe(digests[i - 1]);
      const snaps = (await runEvents(stack.client, run.runId)).filter((e) => e.type === 'snapshot.created');
      expect(snaps.map((e) => (e as { step: number }).step)).toEqual([...Array(steps.length + 1).keys()]);
      // Step 0 walks (and places the watches); every step after it comes from events.
      expect(snaps.map((e) => (e as { found?: string }).found)).toEqual(['walk', ...steps.map(() => 'events')]);
    } finally {
      await nc.close();
    }
  });
});
