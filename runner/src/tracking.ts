// Change tracking of the workspaces this runner snapshots: one WorkspaceTracker per prepared
// workspace, created at its first snapshot and closed when the workspace is given back, so steps
// are snapshotted from file events instead of a walk (snapshot/src/tracker.ts). AIRLOCK_SNAPSHOT_EVENTS=off
// turns it off (every snapshot walks, as before).
import { WorkspaceTracker } from '@airlock/snapshot';
import type { PreparedWorkspace } from './workspace.ts';

const trackers = new WeakMap<object, WorkspaceTracker>();

/** The tracker of `ws`, made on first use; undefined when tracking is turned off. */
export function trackerOf(ws: PreparedWorkspace): WorkspaceTracker | undefined {
  if (process.env.AIRLOCK_SNAPSHOT_EVENTS === 'off') return undefined;
  let t = trackers.get(ws);
  if (t === undefined) {
    t = new WorkspaceTracker(ws.path);
    trackers.set(ws, t);
  }
  return t;
}

/** Stops tracking `ws` (its watches go). Idempotent. */
export function stopTracking(ws: object): void {
  trackers.get(ws)?.close();
  trackers.delete(ws);
}
