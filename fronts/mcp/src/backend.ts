// What the MCP server needs from Airlock, and nothing more: an agent's view of its own runs.
// No approve/reject, no policy, no listing of other runs: those are operator calls and are not here,
// so no tool can reach them. `backend-client.ts` implements it with the SDK (`@airlock/client`).
import type { FileEntry, FileResult, LogEvent, ProcessInfo, ProcessSignal, ProcessState, RunRecord, StepResult } from '@airlock/proto';

/** How to open a run, as an agent may ask: the image and where its workspace comes from. */
export interface OpenRunRequest {
  image?: string;
  /** Absolute host directory to mount (already checked against the server's workspace root). */
  workspace?: string;
  /** Where the workspace appears in the sandbox (default `/workspace`). */
  mountPath?: string;
  /** Start from this snapshot digest instead (fork, restore). */
  fromSnapshot?: string;
  /** The run the snapshot is from (agents may start only from their own runs' snapshots). */
  fromRun?: string;
  /** Each step starts where the previous one ended (a `cd` persists). */
  keepCwd?: boolean;
}

/** Where a step starts: `cwd` (absolute, or relative to the workspace) and whether it follows the last step's. */
export interface StepPlace {
  cwd?: string;
  keepCwd?: boolean;
}

export interface ExecRequest extends StepPlace {
  /** The step's lifetime; the harness default when absent. */
  timeoutMs?: number;
  /** Stops the wait, never the step: the step runs on in its sandbox and its output is in the log. */
  signal?: AbortSignal;
  /** Each chunk of output, in order, as the run log stores it. */
  onOutput?: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  /** A held (`ask`) command waits this long for an operator's decision before the call returns. */
  waitForApprovalMs?: number;
  /** Called once when the command is held, with its step. */
  onHeld?: (step: number, reason: string) => void;
}

/** One workspace snapshot of a run: the state after `step` (0 = as the run opened). */
export interface SnapshotInfo {
  step: number;
  digest: string;
  files: number;
  totalBytes: number;
  added: number;
  modified: number;
  deleted: number;
}

export interface FileChange {
  path: string;
  change: 'added' | 'modified' | 'deleted';
}

export interface WorkspaceDiff {
  changes: FileChange[];
  /** Unified diffs of text files, when asked for; `omitted` past the reply's byte budget. */
  patches: Array<{ path: string; kind: 'text' | 'binary' | 'too_large' | 'omitted'; patch?: string }>;
  /** More paths changed than were listed. */
  truncated: boolean;
}

/**
 * The narrow backend of the MCP server. A command's failure (non-zero exit, timeout, sandbox death)
 * is a resolved {@link StepResult}; a command the validation chain does not allow rejects with an
 * `AirlockError` `validation_denied` / `validation_ask` whose `data` names the step and the rule.
 */
export interface AgentBackend extends AsyncDisposable {
  open(req: OpenRunRequest): Promise<RunRecord>;
  /** The run's record (any status), or undefined when no run has this id. */
  run(runId: string): Promise<RunRecord | undefined>;
  exec(runId: string, cmd: string, req?: ExecRequest): Promise<StepResult>;
  /** The run's durable log; with `follow`, waits for new events until the run closes, `signal` aborts or the reader stops. */
  log(runId: string, opts?: { fromSeq?: number; follow?: boolean; signal?: AbortSignal }): AsyncIterable<LogEvent>;
  snapshots(runId: string): Promise<SnapshotInfo[]>;
  diff(runId: string, fromStep: number, toStep: number, opts: { patch: boolean; paths?: string[] }): Promise<WorkspaceDiff>;
  close(runId: string): Promise<RunRecord>;
  /** Starts `cmd` as a process: answers after at most `yieldMs` with its state; it runs on under `timeoutMs`. */
  start(runId: string, cmd: string, req: StepPlace & { yieldMs: number; timeoutMs?: number; signal?: AbortSignal }): Promise<ProcessState>;
  poll(runId: string, pid: number, req: { fromOffset?: number; waitMs?: number; maxBytes?: number; signal?: AbortSignal }): Promise<ProcessState>;
  /** Signals the process group; false when the process had already ended. */
  signal(runId: string, pid: number, sig: ProcessSignal): Promise<boolean>;
  processes(runId: string): Promise<ProcessInfo[]>;
  readFile(runId: string, path: string, req: { fromLine?: number; toLine?: number; maxBytes?: number }): Promise<FileResult>;
  writeFile(runId: string, path: string, content: string | Uint8Array): Promise<FileResult>;
  editFile(runId: string, path: string, search: string, replace: string, req: { occurrence?: number | 'all' }): Promise<FileResult>;
  listFiles(runId: string, path: string, req: { depth?: number }): Promise<FileEntry[]>;
}
