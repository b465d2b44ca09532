// The MCP server's backend over the SDK (`@airlock/client`): the agent's calls only (diffs too are
// computed by the harness: an agent needs no access to the snapshot store).
import { Airlock } from '@airlock/client';
import { AirlockError } from '@airlock/proto';
import type { FileEntry, FileResult, LogEvent, ProcessInfo, ProcessSignal, ProcessState, RunRecord, StepResult } from '@airlock/proto';
import type { AgentBackend, ExecRequest, OpenRunRequest, SnapshotInfo, StepPlace, WorkspaceDiff } from './backend.ts';

/**
 * Output the SDK keeps per stream in its own result: the MCP server bounds and keeps output itself
 * (`onOutput`), so the SDK's copy is kept small.
 */
const SDK_KEPT_OUTPUT_BYTES = 1024;

/** Connects to the Airlock deployment at `natsUrl` (URL credentials allowed) as an agent. */
export async function connectBackend(natsUrl: string, credential?: string): Promise<AgentBackend> {
  return new ClientBackend(await Airlock.connect({ servers: natsUrl.split(','), name: 'airlock-mcp', ...(credential ? { credential } : {}) }));
}

/** The step-place options as the SDK takes them (only those given). */
function place(req: StepPlace): StepPlace {
  return { ...(req.cwd !== undefined ? { cwd: req.cwd } : {}), ...(req.keepCwd !== undefined ? { keepCwd: req.keepCwd } : {}) };
}

class ClientBackend implements AgentBackend {
  readonly #airlock: Airlock;

  constructor(airlock: Airlock) {
    this.#airlock = airlock;
  }

  async open(req: OpenRunRequest): Promise<RunRecord> {
    const run = await this.#airlock.open({
      ...(req.image ? { image: req.image } : {}),
      ...(req.workspace ? { workspace: req.workspace } : {}),
      ...(req.mountPath ? { mountPath: req.mountPath } : {}),
      ...(req.fromSnapshot ? { fromSnapshot: req.fromSnapshot } : {}),
      ...(req.fromRun ? { fromRun: req.fromRun } : {}),
      ...(req.keepCwd !== undefined ? { keepCwd: req.keepCwd } : {}),
    });
    // The run outlives this handle (and this server): the agent closes it with close_run.
    run.detach();
    if (!run.record) throw new AirlockError('internal', `the harness opened run ${run.runId} without its record`);
    return run.record;
  }

  async run(runId: string): Promise<RunRecord | undefined> {
    try {
      return await this.#airlock.run(runId).info();
    } catch (err) {
      if (err instanceof AirlockError && err.code === 'unknown_run') return undefined;
      throw err;
    }
  }

  exec(runId: string, cmd: string, req: ExecRequest = {}): Promise<StepResult> {
    return this.#airlock.run(runId).exec(cmd, {
      maxOutputBytes: SDK_KEPT_OUTPUT_BYTES,
      ...(req.timeoutMs ? { timeoutMs: req.timeoutMs } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
      ...(req.onOutput ? { onOutput: req.onOutput } : {}),
      ...(req.waitForApprovalMs ? { waitForApprovalMs: req.waitForApprovalMs } : {}),
      ...(req.onHeld ? { onHeld: req.onHeld } : {}),
      ...place(req),
    });
  }

  start(runId: string, cmd: string, req: StepPlace & { yieldMs: number; timeoutMs?: number; signal?: AbortSignal }): Promise<ProcessState> {
    return this.#airlock.run(runId).exec(cmd, { yieldMs: req.yieldMs, ...(req.timeoutMs ? { timeoutMs: req.timeoutMs } : {}), ...(req.signal ? { signal: req.signal } : {}), ...place(req) });
  }

  poll(runId: string, pid: number, req: { fromOffset?: number; waitMs?: number; maxBytes?: number; signal?: AbortSignal }): Promise<ProcessState> {
    return this.#airlock.run(runId).poll(pid, req);
  }

  signal(runId: string, pid: number, sig: ProcessSignal): Promise<boolean> {
    return this.#airlock.run(runId).signal(pid, sig);
  }

  processes(runId: string): Promise<ProcessInfo[]> {
    return this.#airlock.run(runId).processes();
  }

  readFile(runId: string, path: string, req: { fromLine?: number; toLine?: number; maxBytes?: number }): Promise<FileResult> {
    return this.#airlock.run(runId).files.read(path, req);
  }

  writeFile(runId: string, path: string, content: string | Uint8Array): Promise<FileResult> {
    return this.#airlock.run(runId).files.write(path, content);
  }

  editFile(runId: string, path: string, search: string, replace: string, req: { occurrence?: number | 'all' }): Promise<FileResult> {
    return this.#airlock.run(runId).files.edit(path, search, replace, req);
  }

  listFiles(runId: string, path: string, req: { depth?: number }): Promise<FileEntry[]> {
    return this.#airlock.run(runId).files.list(path, req);
  }

  log(runId: string, opts: { fromSeq?: number; follow?: boolean; signal?: AbortSignal } = {}): AsyncIterable<LogEvent> {
    return this.#airlock.run(runId).log({ follow: false, ...opts });
  }

  async snapshots(runId: string): Promise<SnapshotInfo[]> {
    return (await this.#airlock.run(runId).snapshots()).map((s) => ({ step: s.step, digest: s.digest, files: s.files, totalBytes: s.totalBytes, added: s.added, modified: s.modified, deleted: s.deleted }));
  }

  async diff(runId: string, fromStep: number, toStep: number, opts: { patch: boolean; paths?: string[] }): Promise<WorkspaceDiff> {
    const d = await this.#airlock.run(runId).diff({ from: fromStep, to: toStep, patch: opts.patch, ...(opts.paths ? { paths: opts.paths } : {}) });
    return {
      changes: d.changes.map((c) => ({ path: c.path, change: c.change })),
      patches: (d.patches ?? []).map((p) => (p.kind === 'text' ? { path: p.path, kind: p.kind, patch: p.patch } : { path: p.path, kind: p.kind })),
      truncated: d.truncated,
    };
  }

  close(runId: string): Promise<RunRecord> {
    return this.#airlock.close(runId);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#airlock[Symbol.asyncDispose]();
  }
}
