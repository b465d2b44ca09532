// The one file that talks to Airlock. Everything else in this package sees `StepBackend`: run a bash
// command line as the next step of one run and say how it ended. It is the SDK, @airlock/client: a
// wait on a dead harness fails within seconds (`harness_lost`) instead of hanging.
import { Airlock, AirlockError, type Run } from '@airlock/client';
import type { ErrorCode, FileEntry, FileResult, LogEvent, ProcessSignal, RunRecord } from '@airlock/client';
import { constants as osConstants } from 'node:os';

/** How a step ended, or why it never ran. A failed command is an outcome, not an exception. */
export type StepOutcome =
  | {
      kind: 'ran';
      step: number;
      /** Exit status as a shell reports it: the code, 128+signal when killed, 124 when timed out. */
      exitCode: number;
      timedOut: boolean;
      sandboxDied: boolean;
      /** Output beyond the per-step limit was dropped. */
      truncated: boolean;
    }
  | {
      /** The validation chain said `deny`, or `ask` and nobody approved it (in time). */
      kind: 'refused';
      verdict: 'deny' | 'ask';
      step: number | undefined;
      rule: string;
      reason: string;
      message: string;
    }
  | { kind: 'failed'; code: ErrorCode | 'unknown'; message: string };

export interface StepRequest {
  cmd: string;
  env?: Record<string, string>;
  timeoutMs: number;
  onOutput?: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  /** Called once the command passed validation and started, with its step number (what `signal` names). */
  onStarted?: (step: number) => void;
}

/** What a file tool answered, or why it did not (refused by the policy, or an Airlock error such as `file_not_found`). */
export type FileOutcome<T> = { kind: 'ok'; value: T } | Exclude<StepOutcome, { kind: 'ran' }>;

/**
 * Airlock's file tools (each a validated, snapshotted step without a shell) on paths inside the
 * workspace, absolute sandbox paths under the mount path.
 */
export interface FileTools {
  /** What is at `path`, not following a final symlink; null when nothing is there. */
  stat(path: string): Promise<FileOutcome<FileEntry | null>>;
  read(path: string, maxBytes: number): Promise<FileOutcome<FileResult>>;
  /** Replaces the file, creating missing parent directories. */
  write(path: string, data: Buffer): Promise<FileOutcome<FileResult>>;
  list(path: string): Promise<FileOutcome<FileEntry[]>>;
}

/** One Airlock run, as this server uses it. */
export interface StepBackend extends AsyncDisposable {
  readonly runId: string;
  /** Where the workspace appears inside the sandbox. */
  readonly mountPath: string;
  /** The workspace's host path (as the runner sees it). */
  readonly workspace: string;
  exec(req: StepRequest): Promise<StepOutcome>;
  /** Sends `sig` to a running step's process group; false when it had already ended. */
  signal(step: number, sig: ProcessSignal): Promise<boolean>;
  readonly files: FileTools;
}

export interface BackendOptions {
  natsUrl: string;
  /** The caller's credential for a harness that requires one (`./airlock --as agent`). */
  credential?: string;
  /** Attach to this open run (never closed by us); otherwise open one with `open`. */
  runId?: string;
  open?: { image?: string; workspace?: string; mountPath?: string; env?: Record<string, string> };
  /** Keep a run we opened when the connection ends (default: close it, which gives the workspace back). */
  keepRun?: boolean;
  /** How long a held (`ask`) command waits for an operator before it fails; 0 = fail at once. */
  waitForApprovalMs?: number;
}

/** Connects to Airlock and opens or attaches to the run. */
export async function connectBackend(opts: BackendOptions): Promise<StepBackend> {
  const airlock = await Airlock.connect({ servers: opts.natsUrl.split(','), ...(opts.credential ? { credential: opts.credential } : {}) });
  try {
    const run = opts.runId ? await attach(airlock, opts.runId) : await airlock.open(opts.open ?? {});
    const record = run.record ?? (await run.info());
    if (opts.keepRun) run.detach();
    return new SdkBackend(airlock, run, record, opts.waitForApprovalMs ?? 0);
  } catch (err) {
    await airlock[Symbol.asyncDispose]();
    throw err;
  }
}

/** A handle on an open run by id; never closed by us. */
async function attach(airlock: Airlock, runId: string): Promise<Run> {
  const run = airlock.run(runId);
  const record = await run.info();
  if (record.status !== 'open') throw new AirlockError('run_closed', `run ${runId} is closed; open a new one (leave out --run)`);
  return run;
}

/** Output is streamed to Codex as it comes; the SDK's own copy in the result is not used. */
const KEPT_OUTPUT_BYTES = 1024;

class SdkBackend implements StepBackend {
  readonly runId: string;
  readonly mountPath: string;
  readonly workspace: string;
  readonly #airlock: Airlock;
  readonly #run: Run;
  readonly #waitForApprovalMs: number;
  #disposed = false;

  constructor(airlock: Airlock, run: Run, record: RunRecord, waitForApprovalMs: number) {
    this.#airlock = airlock;
    this.#run = run;
    this.runId = record.runId;
    this.mountPath = record.mountPath;
    this.workspace = record.workspace;
    this.#waitForApprovalMs = waitForApprovalMs;
  }

  readonly files: FileTools = {
    stat: (path) => fileCall(() => this.#run.files.stat(path)),
    read: (path, maxBytes) => fileCall(() => this.#run.files.read(path, { maxBytes })),
    write: (path, data) => fileCall(() => this.#run.files.write(path, new Uint8Array(data), { createDirs: true })),
    list: (path) => fileCall(() => this.#run.files.list(path, { depth: 1 })),
  };

  async exec(req: StepRequest): Promise<StepOutcome> {
    try {
      const r = await this.#run.exec(req.cmd, {
        timeoutMs: req.timeoutMs,
        ...(req.env && Object.keys(req.env).length > 0 ? { env: req.env } : {}),
        ...(req.onOutput ? { onOutput: req.onOutput } : {}),
        // Signalable (a process of the run), so process/terminate and process/signal reach it.
        ...(req.onStarted ? { onEvent: startedOnly(req.onStarted), signalable: true } : {}),
        waitForApprovalMs: this.#waitForApprovalMs,
        maxOutputBytes: KEPT_OUTPUT_BYTES,
      });
      const signalled = r.signal ? (osConstants.signals as Record<string, number>)[r.signal] : undefined;
      const exitCode = r.exitCode ?? (r.timedOut ? 124 : signalled ? 128 + signalled : 125);
      return { kind: 'ran', step: r.step, exitCode, timedOut: r.timedOut, sandboxDied: r.sandboxDied, truncated: r.truncated };
    } catch (err) {
      return outcomeOfError(err);
    }
  }

  signal(step: number, sig: ProcessSignal): Promise<boolean> {
    return this.#run.signal(step, sig);
  }

  /** Closes the run when it came from `open` (unless kept), then the connection. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    try {
      await this.#run[Symbol.asyncDispose]();
    } finally {
      await this.#airlock[Symbol.asyncDispose]();
    }
  }
}

/** An `onEvent` that reports only the step's start. */
function startedOnly(onStarted: (step: number) => void): (e: LogEvent) => void {
  return (e) => {
    if (e.type === 'step.started') onStarted(e.step);
  };
}

async function fileCall<T>(call: () => Promise<T>): Promise<FileOutcome<T>> {
  try {
    return { kind: 'ok', value: await call() };
  } catch (err) {
    return outcomeOfError(err);
  }
}

/** Turns what `exec` threw into an outcome: refusals by the validation chain keep their rule. */
export function outcomeOfError(err: unknown): Exclude<StepOutcome, { kind: 'ran' }> {
  if (err instanceof AirlockError && (err.code === 'validation_denied' || err.code === 'validation_ask')) {
    const data = (err.data ?? {}) as { step?: unknown; rule?: unknown; reason?: unknown; verdict?: unknown };
    return {
      kind: 'refused',
      verdict: err.code === 'validation_ask' ? 'ask' : 'deny',
      step: typeof data.step === 'number' ? data.step : undefined,
      rule: typeof data.rule === 'string' ? data.rule : 'unknown',
      reason: typeof data.reason === 'string' ? data.reason : err.message,
      message: err.message,
    };
  }
  if (err instanceof AirlockError) return { kind: 'failed', code: err.code, message: err.message };
  return { kind: 'failed', code: 'unknown', message: err instanceof Error ? err.message : String(err) };
}
