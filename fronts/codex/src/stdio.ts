// `airlock codex-env`: the program Codex starts from `environments.toml`. It opens (or attaches to) an
// Airlock run, then serves Codex's exec-server JSON-RPC on stdin/stdout until Codex hangs up.
import { appendFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { connectBackend, type BackendOptions, type StepBackend } from './backend.ts';
import { LineSplitter, encodeLine, parseLine, type Outgoing } from './jsonrpc.ts';
import { PathMap } from './paths.ts';
import { CodexEnvServer } from './server.ts';

export interface CodexEnvOptions extends BackendOptions {
  /**
   * The host directory shown to the sandbox as the run's mount path. Default: the run's workspace when
   * the current directory (where Codex starts this program: its working directory) is inside it, else
   * the current directory.
   */
  root?: string;
  /** Lifetime of each step. */
  stepTimeoutMs: number;
  /** Append every JSON-RPC message, in and out, to this file (JSON lines) to see what Codex calls. */
  tracePath?: string;
  input?: Readable;
  output?: Writable;
  /** Operational messages (stderr). */
  log?: (line: string) => void;
}

/** Serves one Codex connection; resolves with the process exit code once Codex has gone. */
export async function runCodexEnv(opts: CodexEnvOptions): Promise<number> {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stdout;
  const log = opts.log ?? ((line: string) => process.stderr.write(`airlock codex-env: ${line}\n`));
  const trace = (dir: 'in' | 'out', message: unknown) => {
    if (opts.tracePath) appendFileSync(opts.tracePath, JSON.stringify({ t: new Date().toISOString(), dir, message }) + '\n');
  };
  if (!Number.isInteger(opts.stepTimeoutMs) || opts.stepTimeoutMs <= 0) {
    log(`the step timeout must be a positive number of milliseconds, got ${opts.stepTimeoutMs}`);
    return 2;
  }
  let backend: StepBackend;
  try {
    backend = await connectBackend(opts);
  } catch (err) {
    log(`cannot start: ${err instanceof Error ? err.message : String(err)}`);
    return 125;
  }
  log(`serving Codex from run ${backend.runId} (workspace ${backend.workspace} at ${backend.mountPath})`);
  // Codex gone mid-write (EPIPE) is a hang-up too. This replaces the CLI's own EPIPE handler, which
  // exits at once: here the run must be closed first.
  const hangup = new AbortController();
  output.removeAllListeners('error');
  output.on('error', (err: Error) => {
    log(`writing to Codex failed (${err.message}); treating it as a hang-up`);
    hangup.abort();
  });
  const send = (message: Outgoing) => {
    trace('out', message);
    if (!hangup.signal.aborted) output.write(encodeLine(message));
  };
  const server = new CodexEnvServer({ backend, paths: new PathMap(opts.root ?? defaultRoot(backend.workspace, process.cwd()), backend.mountPath), stepTimeoutMs: opts.stepTimeoutMs, send, log });
  try {
    await serveLines(input, hangup.signal, (line) => {
      const parsed = parseLine(line);
      trace('in', parsed.ok ? parsed.message : line);
      if (!parsed.ok) {
        send(parsed.reply);
        return;
      }
      server.handle(parsed.message).catch((err: unknown) => log(`handler failed: ${err instanceof Error ? err.message : String(err)}`));
    });
  } finally {
    server.stop();
    // Codex has gone. Closing a run we opened ends whatever step still runs and gives the workspace back.
    try {
      await backend[Symbol.asyncDispose]();
    } catch (err) {
      log(`closing run ${backend.runId} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    log(`Codex disconnected; run ${backend.runId}${opts.runId || opts.keepRun ? ' stays open' : ' closed'} (see \`airlock log ${backend.runId}\`)`);
  }
  return 0;
}

/** Feeds each line of `input` to `onLine` until the stream ends or `hangup` fires. */
function serveLines(input: Readable, hangup: AbortSignal, onLine: (line: string | { tooLong: number }) => void): Promise<void> {
  const splitter = new LineSplitter();
  return new Promise((done, fail) => {
    hangup.addEventListener('abort', () => done(), { once: true });
    // Codex ending this program (or a user's Ctrl-C) is a hang-up like end of input: the run is closed.
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(sig, () => done());
    input.on('data', (chunk: Buffer | string) => {
      for (const line of splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) onLine(line);
    });
    input.once('end', () => {
      for (const line of splitter.end()) onLine(line);
      done();
    });
    input.once('close', () => done());
    input.once('error', fail);
  });
}

/** The workspace when `cwd` is inside it (so a subdirectory maps to the same place under the mount), else `cwd`. */
export function defaultRoot(workspace: string, cwd: string): string {
  const rel = relative(workspace, cwd);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel)) ? workspace : cwd;
}
