// The one file that talks to Airlock. Everything else in this package sees `StepBackend`: run a bash
// command line as the next step of one run and say how it ended. Today it is `AirlockClient` from
// @airlock/harness; when @airlock/client lands, only this file changes.
import { constants as osConstants } from 'node:os';
import { AirlockClient } from '@airlock/harness';
import { AirlockError } from '@airlock/proto';
import type { ErrorCode, RunRecord } from '@airlock/proto';

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
}

/** One Airlock run, as this server uses it. */
export interface StepBackend extends AsyncDisposable {
  readonly runId: string;
  /** Where the workspace appears inside the sandbox. */
  readonly mountPath: string;
  /** The workspace's host path (as the runner sees it). */
  readonly workspace: string;
  exec(req: StepRequest): Promise<StepOutcome>;
}

export interface BackendOptions {
  natsUrl: string;
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
  const client = await AirlockClient.connect({ natsUrl: opts.natsUrl });
  try {
    const record = opts.runId ? await attach(client, opts.runId) : await client.open(opts.open ?? {});
    return new AirlockClientBackend(client, record, { close: !opts.runId && !opts.keepRun, waitForApprovalMs: opts.waitForApprovalMs ?? 0 });
  } catch (err) {
    await client[Symbol.asyncDispose]();
    throw err;
  }
}

async function attach(client: AirlockClient, runId: string): Promise<RunRecord> {
  const { runs } = await client.ps();
  const record = runs.find((r) => r.runId === runId);
  if (!record) throw new AirlockError('unknown_run', `no open run ${runId}; list them with \`airlock ps\``);
  return record;
}

class AirlockClientBackend implements StepBackend {
  readonly runId: string;
  readonly mountPath: string;
  readonly workspace: string;
  readonly #client: AirlockClient;
  readonly #close: boolean;
  readonly #waitForApprovalMs: number;
  #disposed = false;

  constructor(client: AirlockClient, record: RunRecord, opts: { close: boolean; waitForApprovalMs: number }) {
    this.#client = client;
    this.runId = record.runId;
    this.mountPath = record.mountPath;
    this.workspace = record.workspace;
    this.#close = opts.close;
    this.#waitForApprovalMs = opts.waitForApprovalMs;
  }

  async exec(req: StepRequest): Promise<StepOutcome> {
    try {
      const r = await this.#client.exec(this.runId, req.cmd, {
        timeoutMs: req.timeoutMs,
        ...(req.env && Object.keys(req.env).length > 0 ? { env: req.env } : {}),
        ...(req.onOutput ? { onOutput: req.onOutput } : {}),
        waitForApprovalMs: this.#waitForApprovalMs,
      });
      const signalled = r.signal ? (osConstants.signals as Record<string, number>)[r.signal] : undefined;
      const exitCode = r.exitCode ?? (r.timedOut ? 124 : signalled ? 128 + signalled : 125);
      return { kind: 'ran', step: r.step, exitCode, timedOut: r.timedOut, sandboxDied: r.sandboxDied, truncated: r.truncated };
    } catch (err) {
      return outcomeOfError(err);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    try {
      if (this.#close) await this.#client.close(this.runId);
    } finally {
      await this.#client[Symbol.asyncDispose]();
    }
  }
}

/** Turns what `exec` threw into an outcome: refusals by the validation chain keep their rule. */
export function outcomeOfError(err: unknown): StepOutcome {
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
