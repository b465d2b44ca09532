// The MCP server's backend over today's client (`AirlockClient` of @airlock/harness). The one file
// to change when the standalone SDK (`@airlock/client`) replaces it.
import { AirlockClient } from '@airlock/harness';
import type { LogEvent, RunRecord, StepResult } from '@airlock/proto';
import type { AgentBackend, ExecRequest, OpenRunRequest, SnapshotInfo, WorkspaceDiff } from './backend.ts';

/** Connects to the Airlock deployment at `natsUrl` as an agent (no operator calls are exposed). */
export async function connectHarnessBackend(natsUrl: string): Promise<AgentBackend> {
  return new HarnessBackend(await AirlockClient.connect({ natsUrl }));
}

class HarnessBackend implements AgentBackend {
  readonly #c: AirlockClient;

  constructor(client: AirlockClient) {
    this.#c = client;
  }

  open(req: OpenRunRequest): Promise<RunRecord> {
    return this.#c.open({
      ...(req.image ? { image: req.image } : {}),
      ...(req.workspace ? { workspace: req.workspace } : {}),
      ...(req.mountPath ? { mountPath: req.mountPath } : {}),
      ...(req.fromSnapshot ? { fromSnapshot: req.fromSnapshot } : {}),
    });
  }

  async run(runId: string): Promise<RunRecord | undefined> {
    const { runs } = await this.#c.ps({ all: true });
    return runs.find((r) => r.runId === runId);
  }

  exec(runId: string, cmd: string, req: ExecRequest = {}): Promise<StepResult> {
    return this.#c.exec(runId, cmd, {
      ...(req.timeoutMs ? { timeoutMs: req.timeoutMs } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
      ...(req.onOutput ? { onOutput: req.onOutput } : {}),
      ...(req.waitForApprovalMs ? { waitForApprovalMs: req.waitForApprovalMs } : {}),
      ...(req.onHeld ? { onHeld: req.onHeld } : {}),
    });
  }

  log(runId: string, opts: { fromSeq?: number; follow?: boolean; signal?: AbortSignal } = {}): AsyncIterable<LogEvent> {
    return this.#c.log(runId, { ...opts, until: (e) => e.type === 'run.closed' });
  }

  async snapshots(runId: string): Promise<SnapshotInfo[]> {
    return (await this.#c.snapshots(runId)).map((s) => ({ step: s.step, digest: s.digest, files: s.files, totalBytes: s.totalBytes, added: s.added, modified: s.modified, deleted: s.deleted }));
  }

  async diff(runId: string, fromStep: number, toStep: number, opts: { patch: boolean }): Promise<WorkspaceDiff> {
    const [a, b] = [await this.#c.snapshotAt(runId, fromStep), await this.#c.snapshotAt(runId, toStep)];
    const d = await (await this.#c.snapshotStore()).diff(a.digest, b.digest, { patch: opts.patch });
    return {
      changes: [
        ...d.added.map((e) => ({ path: e.path, change: 'added' as const })),
        ...d.modified.map((e) => ({ path: e.path, change: 'modified' as const })),
        ...d.deleted.map((e) => ({ path: e.path, change: 'deleted' as const })),
      ],
      patches: (d.patches ?? []).map((p) => (p.kind === 'text' ? { path: p.path, kind: p.kind, patch: p.patch } : { path: p.path, kind: p.kind })),
    };
  }

  close(runId: string): Promise<RunRecord> {
    return this.#c.close(runId);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#c[Symbol.asyncDispose]();
  }
}
