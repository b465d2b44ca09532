// Loaders for what only some CLI commands use. The snapshot store pulls in tar, zlib and the blob
// cache: `exec`, `log` and `--help` never load it (README "CLI start").
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { AirlockError } from '@airlock/proto';
import type { BlobReader, Manifest, SnapshotStore } from '@airlock/snapshot';
import type { Run } from '@airlock/client';

/** `SnapshotStore.open`, with @airlock/snapshot loaded on first use. */
export async function openSnapshotStore(nc: NatsConnection): Promise<SnapshotStore> {
  const { SnapshotStore: Store } = await import('@airlock/snapshot');
  return Store.open(nc);
}

/**
 * A run's snapshot after `step`, read through the harness (`api.snapshot`): what an agent, whose
 * NATS user has no right on the snapshot stores, restores and exports from. The listing is checked
 * against the digest the harness names for that step; every file is hashed as it is written
 * (`restoreTree`, `packManifest`).
 */
export async function remoteSnapshot(run: Run, step: number): Promise<{ digest: string; manifest: Manifest; readBlob: BlobReader }> {
  const { parseManifest } = await import('@airlock/snapshot');
  let digest = '';
  const parts: Uint8Array[] = [];
  for await (const piece of run.readSnapshot(step, 'manifest', { onDigest: (d) => (digest = d) })) parts.push(piece);
  const bytes = Buffer.concat(parts);
  if (createHash('sha256').update(bytes).digest('hex') !== digest) {
    throw new AirlockError('verification_failed', `the listing of run ${run.runId} after step ${step} does not hash to its snapshot ${digest.slice(0, 12)}`, { data: { runId: run.runId, step } });
  }
  return { digest, manifest: parseManifest(bytes), readBlob: (sha, signal) => run.readSnapshot(step, sha, signal ? { signal } : {}) };
}
