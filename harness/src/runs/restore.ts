import { PROTOCOL_VERSION } from '@airlock/proto';
import type { RunRecord, RunnerOpenRequest, RunnerOpenResult } from '@airlock/proto';
import type { PolicyGate } from '../policy/gate.ts';
import type { RunnerFleet } from '../routing/fleet.ts';
import type { RunLogs } from '../run-logs.ts';

/** A snapshot a run can be restored from: the workspace after `step`. */
export interface RestorePoint {
  step: number;
  digest: string;
}

/**
 * The run's last snapshot that its holder itself logged (another runner could append one), or
 * undefined when it has none.
 */
export async function lastSnapshot(logs: RunLogs, record: RunRecord): Promise<RestorePoint | undefined> {
  let last: RestorePoint | undefined;
  for (const { event: e, forged } of await logs.checked(record.runId, record.runnerId)) {
    if (e.type === 'snapshot.created' && !forged) last = { step: e.step, digest: e.digest };
  }
  return last;
}

/**
 * Opens a fresh sandbox for an existing run on whichever runner takes it, its workspace restored
 * from `from`; the runner logs `run.moved` (from `previousRunner`) and goes on with the run's log.
 * Used when a runner was lost (runs/relocate.ts) and when an idle-suspended run takes its next step
 * (runs/idle.ts). The run's pinned policy, image, mount and environment are the record's. `onFull`:
 * what may free a slot when every runner is full (the idle keeper's early suspension).
 */
export function reopenRun(
  fleet: RunnerFleet,
  gate: PolicyGate,
  record: RunRecord,
  from: RestorePoint,
  previousRunner: string,
  reason: string,
  opts: { onFull?: (fullRunners: ReadonlySet<string>) => Promise<boolean> } = {},
): Promise<RunnerOpenResult> {
  const body: RunnerOpenRequest = {
    v: PROTOCOL_VERSION,
    runId: record.runId,
    image: record.image,
    mountPath: record.mountPath,
    env: record.env,
    limits: gate.limits(),
    runtime: gate.validator.policy.runtime,
    network: 'none',
    policyHash: record.policyHash,
    fromSnapshot: from.digest,
    resume: { previousRunner, afterStep: from.step, reason },
  };
  return fleet.open(body, opts);
}
