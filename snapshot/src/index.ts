/**
 * Workspace snapshots: content-addressed manifests + blobs in a JetStream Object Store, restore,
 * diff, tar export/import. Every input from the store or from an archive is treated as hostile.
 */
export { SnapshotStore } from './store.ts';
export type {
  SnapshotStoreOptions,
  SnapshotOptions,
  SnapshotResult,
  SnapshotStats,
  SnapshotRef,
  SnapshotDiff,
  FilePatch,
  GcOptions,
  GcStats,
} from './store.ts';
export { SnapshotError, snapshotErrorCodes, isSnapshotError } from './errors.ts';
export type { SnapshotErrorCode } from './errors.ts';
export {
  defaultLimits,
  entryTypes,
  validatePath,
  comparePaths,
  serializeManifest,
  manifestDigest,
  parseManifest,
  validateManifest,
  chunkManifest,
  isSha256,
} from './manifest.ts';
export type { Manifest, ManifestEntry, EntryType, SnapshotLimits } from './manifest.ts';
export { stateFromManifest, canReuseHash, scanWorkspace } from './scan.ts';
export { WorkspaceTracker } from './tracker.ts';
export type { TrackerOptions, TrackerFallback } from './tracker.ts';
export type { SnapshotState, StatRecord, CachedEntry, SkippedEntry, SkipReason, ScanResult, ScannedEntry } from './scan.ts';
export { diffManifests, unifiedDiff, myersDiff, isProbablyText } from './diff.ts';
export type { ManifestDiff, ModifiedEntry } from './diff.ts';
export { restoreTree, EMPTY_SHA256 } from './restore.ts';
export type { RestoreStats, RestoreTreeOptions, BlobReader } from './restore.ts';
export { packManifest, unpackToManifest } from './tar.ts';
export type { ImportOptions, ImportStats, BlobSink } from './tar.ts';
export { ObjectBucket } from './bucket.ts';
export { LocalBlobCache } from './cache.ts';
export type { ObjectMeta, BucketOptions } from './bucket.ts';
