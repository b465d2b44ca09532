// Loaders for what only some CLI commands use. The snapshot store pulls in tar, zlib and the blob
// cache: `exec`, `log` and `--help` never load it (README "CLI start").
import type { NatsConnection } from '@nats-io/transport-node';
import type { SnapshotStore } from '@airlock/snapshot';

/** `SnapshotStore.open`, with @airlock/snapshot loaded on first use. */
export async function openSnapshotStore(nc: NatsConnection): Promise<SnapshotStore> {
  const { SnapshotStore: Store } = await import('@airlock/snapshot');
  return Store.open(nc);
}
