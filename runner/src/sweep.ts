// Clean-up: runs this runner no longer holds, orphan sandboxes of dead runners, and its own
// leftovers from before a restart. Every removed sandbox's workspace is given back.
import type { KV } from '@nats-io/kv';
import { RunRecordSchema, type RunRecord } from '@airlock/proto';
import type { ContainerClient } from './docker/client.ts';
import { labels } from './docker/labels.ts';
import type { LiveRun } from './live-run.ts';
import type { Logger } from './logger.ts';
import { releaseWorkspace } from './workspace.ts';
import { claimedRunId, releaseRunSlot, releaseSlot } from './pool.ts';

/** What sweeping needs from the runner service. */
export interface SweepHost {
  readonly runnerId: string;
  /** This deployment's id: sweeps never touch another deployment's sandboxes. */
  readonly deployment: string;
  readonly docker: ContainerClient;
  readonly log: Logger;
  /** The harness's run records. */
  readonly runsKv: KV;
  /** The runs this runner holds (a dropped run is deleted from it). */
  readonly runs: Map<string, LiveRun>;
}

/**
 * Periodic clean-up against the harness's run records: a run this runner holds that was closed or
 * moved elsewhere (this runner was presumed lost) is dropped; a sandbox on this Docker host whose
 * run is closed, gone, or held by another runner than its label names is an orphan of a dead
 * runner and is removed. Young sandboxes are spared: their record may not be written yet.
 */
export async function sweep(host: SweepHost): Promise<void> {
  for (const run of [...host.runs.values()]) {
    if (run.busy) continue;
    const rec = await runRecordOf(host, run.runId);
    if (rec === 'unknown') continue;
    if (rec && (rec.status === 'closed' || rec.runnerId !== host.runnerId)) {
      host.runs.delete(run.runId);
      if (run.containerId) await host.docker.remove(run.containerId).catch((err: unknown) => host.log.warn({ err, runId: run.runId }, 'could not remove the sandbox of a dropped run'));
      await releaseRunSlot(run, host.log);
      await releaseWorkspace(run.workspace).catch((err: unknown) =>
        host.log.error({ err, runId: run.runId, path: run.workspace.path }, 'could not give the workspace of a dropped run back'),
      );
      await run.closeLog();
      host.log.warn({ runId: run.runId, holder: rec.runnerId, status: rec.status }, 'dropped a run this runner no longer holds');
    }
  }
  const all = await host.docker.listManaged({ [labels.deployment]: host.deployment });
  for (const c of all) {
    const owner = c.labels[labels.runnerId] ?? '';
    if (owner === host.runnerId || Date.now() - c.createdMs < 60_000) continue;
    const pooled = c.labels[labels.pool] === '1';
    const runId = pooled ? await claimedRunId(c.labels[labels.workspace] ?? '') : (c.labels[labels.runId] ?? '');
    // An idle pooled sandbox of another runner names no run: its runner's own reap (restart) or drain removes it.
    if (pooled && !runId) continue;
    const rec = await runRecordOf(host, runId);
    // A record that cannot be read or parsed says nothing: the sandbox is left alone until it can.
    if (rec === 'unknown') continue;
    if (rec && rec.status === 'open' && rec.runnerId === owner) continue;
    await host.docker.remove(c.id).catch((err: unknown) => host.log.warn({ err, containerId: c.id, runId }, 'could not remove an orphan sandbox'));
    const path = c.labels[labels.workspace];
    if (path && pooled) {
      await releaseSlot(path, { giveBack: true }).catch((err: unknown) => host.log.error({ err, runId, path }, 'could not release the pool slot of an orphan sandbox'));
    } else if (path) {
      await releaseWorkspace({ path, ownerBack: c.labels[labels.ownerBack] ?? '', owned: c.labels[labels.ownedWorkspace] === '1' }).catch((err: unknown) =>
        host.log.error({ err, runId, path }, 'could not give the workspace of an orphan sandbox back'),
      );
    }
    host.log.info({ containerId: c.id, runId, owner }, 'removed an orphan sandbox of another runner');
  }
}

/** Removes containers labelled as this runner's that no live run owns, and gives their workspaces back. */
export async function reapOrphans(host: SweepHost): Promise<number> {
  const mine = await host.docker.listManaged({ [labels.runnerId]: host.runnerId });
  let reaped = 0;
  for (const c of mine) {
    const runId = c.labels[labels.runId] ?? '';
    if (host.runs.has(runId)) continue;
    await host.docker.remove(c.id);
    const path = c.labels[labels.workspace];
    if (path && c.labels[labels.pool] === '1') {
      // Idle, or claimed by a run this process no longer holds: unmount, and give a claimed workspace back.
      await releaseSlot(path, { giveBack: true }).catch((err: unknown) => host.log.error({ err, runId, path }, 'could not release the pool slot of an orphan sandbox'));
    } else if (path) {
      await releaseWorkspace({ path, ownerBack: c.labels[labels.ownerBack] ?? '', owned: c.labels[labels.ownedWorkspace] === '1' }).catch(
        (err: unknown) => host.log.error({ err, runId, path }, 'could not give the workspace of an orphan sandbox back'),
      );
    }
    reaped++;
  }
  if (reaped > 0) host.log.info({ reaped }, 'reaped orphan sandboxes');
  return reaped;
}

/**
 * The harness's record of a run, parsed with its schema: null when there is none (never written, or
 * deleted), 'unknown' when it cannot be read or does not parse (logged; the caller decides nothing
 * from it).
 */
export async function runRecordOf(host: Pick<SweepHost, 'runsKv' | 'log'>, runId: string): Promise<RunRecord | null | 'unknown'> {
  if (!runId) return null;
  let e;
  try {
    e = await host.runsKv.get(runId);
  } catch (err) {
    host.log.warn({ err, runId }, 'could not read the run record; treating it as unknown');
    return 'unknown';
  }
  if (!e || e.operation !== 'PUT' || e.length === 0) return null;
  let raw: unknown;
  try {
    raw = e.json<unknown>();
  } catch (err) {
    host.log.warn({ err, runId }, 'run record is not JSON; treating it as unknown');
    return 'unknown';
  }
  const parsed = RunRecordSchema.safeParse(raw);
  if (!parsed.success) {
    host.log.warn({ runId, issues: parsed.error.issues.slice(0, 5) }, 'run record does not match its schema; treating it as unknown');
    return 'unknown';
  }
  return parsed.data;
}
