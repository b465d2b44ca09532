import { AirlockError, MAX_DIFF_PATCH_BYTES, MAX_DIFF_PATHS } from '@airlock/proto';
import type { ApiDiffRequest, ApiDiffResult, DiffChange, DiffPatch } from '@airlock/proto';
import type { FilePatch, ManifestEntry, SnapshotDiff } from '@airlock/snapshot';
import type { RunLogs } from '../run-logs.ts';
import type { RunRecords } from '../runs/records.ts';
import type { LazySnapshotStore } from './store.ts';

/**
 * What changed in a run's workspace between two of its steps, computed by the harness: the caller
 * needs no access to the snapshot store (an agent's NATS user has none), and the snapshots compared
 * are those the run's verified log names, so a forged `snapshot.created` cannot point a diff at
 * another run's files.
 */
export class WorkspaceDiffs {
  readonly #records: RunRecords;
  readonly #logs: RunLogs;
  readonly #store: LazySnapshotStore;

  constructor(deps: { records: RunRecords; logs: RunLogs; store: LazySnapshotStore }) {
    this.#records = deps.records;
    this.#logs = deps.logs;
    this.#store = deps.store;
  }

  async diff(req: ApiDiffRequest): Promise<ApiDiffResult> {
    const snaps = await this.snapshotsOf(req.runId);
    const from = pick(snaps, req.fromStep, req.runId);
    const to = req.toStep === undefined ? snaps.at(-1)! : pick(snaps, req.toStep, req.runId);
    const store = await this.#store.get();
    const d = await store.diff(from.digest, to.digest, { patch: req.patch ?? false });
    const { changes, truncated } = listChanges(d, req.paths);
    const out: ApiDiffResult = { runId: req.runId, from, to, changes, truncated };
    if (req.patch) out.patches = boundPatches(d.patches ?? [], new Set(changes.map((c) => c.path)));
    return out;
  }

  /** The snapshot after `step` the run's verified log names (`bad_request` when it has none). */
  async snapshotAt(runId: string, step: number): Promise<{ step: number; digest: string }> {
    return pick(await this.snapshotsOf(runId), step, runId);
  }

  /** The run's snapshots by step, from its log, only those written by someone who may write it. */
  async snapshotsOf(runId: string): Promise<Array<{ step: number; digest: string }>> {
    const { record } = await this.#records.get(runId);
    const snaps: Array<{ step: number; digest: string }> = [];
    for (const c of await this.#logs.checked(runId, record.runnerId)) {
      if (c.forged === null && c.event.type === 'snapshot.created') snaps.push({ step: c.event.step, digest: c.event.digest });
    }
    if (snaps.length === 0) throw new AirlockError('bad_request', `run ${runId} has no snapshots yet`, { data: { runId } });
    return snaps;
  }
}

function pick(snaps: Array<{ step: number; digest: string }>, step: number, runId: string): { step: number; digest: string } {
  // A step may be snapshotted again (a restore); the latest one stands for it.
  const found = snaps.findLast((s) => s.step === step);
  if (!found) throw new AirlockError('bad_request', `run ${runId} has no snapshot after step ${step}; it has ${snaps.map((s) => s.step).join(', ')}`, { data: { step } });
  return found;
}

/** Whether `path` is one of `paths` or under one of them that ends in `/`. */
function selected(path: string, paths: readonly string[] | undefined): boolean {
  if (!paths) return true;
  return paths.some((p) => (p.endsWith('/') ? path.startsWith(p) : path === p || path.startsWith(`${p}/`)));
}

function change(e: ManifestEntry, kind: DiffChange['change']): DiffChange {
  return { path: e.path, change: kind, type: e.type, size: e.size };
}

/** The changed paths (at most MAX_DIFF_PATHS of each kind), sorted by path within each kind. */
export function listChanges(d: SnapshotDiff, paths?: readonly string[]): { changes: DiffChange[]; truncated: boolean } {
  let truncated = false;
  const bounded = <T extends { path: string }>(list: readonly T[]): T[] => {
    const kept = list.filter((e) => selected(e.path, paths));
    if (kept.length > MAX_DIFF_PATHS) truncated = true;
    return kept.slice(0, MAX_DIFF_PATHS);
  };
  const changes = [
    ...bounded(d.added).map((e) => change(e, 'added')),
    ...bounded(d.modified).map((m) => ({ ...change(m.after, 'modified'), contentChanged: m.contentChanged })),
    ...bounded(d.deleted).map((e) => change(e, 'deleted')),
  ];
  return { changes, truncated };
}

/** The patches of the listed paths, in order, until MAX_DIFF_PATCH_BYTES: the rest are `omitted`. */
export function boundPatches(patches: readonly FilePatch[], listed: ReadonlySet<string>, budget = MAX_DIFF_PATCH_BYTES): DiffPatch[] {
  const out: DiffPatch[] = [];
  let used = 0;
  for (const p of patches) {
    if (!listed.has(p.path)) continue;
    if (p.kind !== 'text') {
      out.push({ path: p.path, kind: p.kind });
      continue;
    }
    const bytes = Buffer.byteLength(p.patch);
    if (used + bytes > budget) {
      out.push({ path: p.path, kind: 'omitted' });
      continue;
    }
    used += bytes;
    out.push({ path: p.path, kind: 'text', patch: p.patch });
  }
  return out;
}
