// Rollback, the runner's part (issue 14): on the harness's signed order (a job token bound to the
// target snapshot), put a run's workspace back to that snapshot. The sandbox is removed first, so
// nothing of the agent's keeps running or writing; the snapshot is restored into a fresh directory
// beside the workspace and swapped in (`SnapshotStore.restore`), so only the workspace changes and a
// failure leaves it as it was; then a fresh sandbox starts on it and the workspace is snapshotted.
import { AirlockError, rollbackText, subjects } from '@airlock/proto';
import type { RunnerRollbackRequest, RunnerRollbackResult } from '@airlock/proto';
import type { SnapshotStore } from '@airlock/snapshot';
import type { ContainerClient } from './docker/client.ts';
import type { Gate } from './gate.ts';
import type { LiveRun } from './live-run.ts';
import { SANDBOX_GID, SANDBOX_UID, chownTree } from './workspace.ts';

/** What a rollback needs of the runner service. */
export interface RollbackHost {
  readonly runnerId: string;
  readonly gate: Gate;
  readonly docker: ContainerClient;
  readonly snapshots: SnapshotStore;
  run(runId: string): LiveRun;
  startSandbox(run: LiveRun): Promise<string>;
  snapshot(run: LiveRun, step: number): Promise<string | undefined>;
}

/** Restores the target snapshot into the run's workspace (refused while a step runs: `run_busy`). */
export async function serveRollback(host: RollbackHost, req: RunnerRollbackRequest): Promise<RunnerRollbackResult> {
  const run = host.run(req.runId);
  if (run.busy) throw new AirlockError('run_busy', `run ${req.runId} is executing a step; a rollback waits for it to end`);
  run.busy = true;
  try {
    await host.gate.authorize({ runId: req.runId, step: req.step, policyHash: req.policyHash, token: req.token, cmd: rollbackText(req.digest) }, subjects.runnerRollback(host.runnerId));
    if (run.containerId) {
      await host.docker.remove(run.containerId);
      run.containerId = null;
    }
    await host.snapshots.restore(req.digest, run.workspace.path);
    await chownTree(run.workspace.path, SANDBOX_UID, SANDBOX_GID);
    const containerId = await host.startSandbox(run);
    await run.log.append({ type: 'sandbox.started', containerId, reason: `rollback: the workspace was put back to snapshot ${req.digest.slice(0, 12)}; fresh sandbox on it` });
    // The next snapshot compares against the restored tree, not the one before the rollback.
    run.snap = undefined;
    const snapshot = await host.snapshot(run, req.step);
    if (!snapshot) throw new AirlockError('internal', `run ${req.runId}: the workspace was rolled back, but its snapshot failed (see the run's log)`);
    return { runId: req.runId, step: req.step, snapshot, containerId };
  } finally {
    run.busy = false;
  }
}
