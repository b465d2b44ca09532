// Codex's exec-server methods, each answered by running Airlock steps: commands, or Airlock's file
// tools for files in the workspace. Steps of one run are serial in Airlock, so every process and
// file operation waits its turn in one queue, in the order Codex asked.
import { NOT_FOUND_EXIT, canonicalizeCommand, copyCommand, createDirectoryCommand, getMetadataCommand, parseDirectory, parseMetadata, quoteArgv, readDirectoryCommand, readFileCommand, removeCommand, shellQuote, writeFileCommand } from './fs-commands.ts';
import { RpcError, decodeParams, errorReply, notification, resultReply, rpcErrorCodes } from './jsonrpc.ts';
import type { Incoming, Outgoing } from './jsonrpc.ts';
import type { PathMap } from './paths.ts';
import { ProcessTable, type ManagedProcess } from './process-table.ts';
import {
  FsCopyParamsSchema,
  FsCreateDirectoryParamsSchema,
  FsPathParamsSchema,
  FsRemoveParamsSchema,
  FsWriteFileParamsSchema,
  InitializeParamsSchema,
  ProcessIdParamsSchema,
  ProcessReadParamsSchema,
  ProcessSignalParamsSchema,
  ProcessStartParamsSchema,
  ProcessWriteParamsSchema,
  methods,
} from './protocol.ts';
import { posix } from 'node:path';
import { MAX_LIST_ENTRIES, MAX_READ_BYTES, MAX_WRITE_BYTES as MAX_FILE_TOOL_WRITE_BYTES } from '@airlock/proto';
import type { FileOutcome, StepBackend, StepOutcome } from './backend.ts';
import type { ProcessSignal } from '@airlock/client';
import { constants as osConstants } from 'node:os';

/** Exit status Codex sees for a command the validation chain did not allow (as `./airlock exec` exits). */
export const EXIT_NOT_ALLOWED = 126;
/** Exit status for a command Airlock itself could not run (as `docker run` and `./airlock` use). */
export const EXIT_AIRLOCK_ERROR = 125;
/** After `process/terminate`'s SIGTERM, how long a step has to end before SIGKILL. */
export const TERMINATE_GRACE_MS = 2000;
/** The signals Airlock delivers to a step. */
const SIGNALS: readonly ProcessSignal[] = ['SIGINT', 'SIGTERM', 'SIGKILL', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** A started step of a process: its number once Airlock started it, and a signal asked for before that. */
interface StepHandle {
  step?: number;
  pending?: ProcessSignal;
}

export interface ServerOptions {
  backend: StepBackend;
  paths: PathMap;
  /** Lifetime of every step (Codex does not send one). */
  stepTimeoutMs: number;
  /** Writes one message to Codex. */
  send: (message: Outgoing) => void;
  /** Operational log lines (stderr), never protocol. */
  log?: (line: string) => void;
}

type Handler = (params: unknown) => Promise<unknown>;

/** Serves one Codex connection. */
export class CodexEnvServer {
  readonly #backend: StepBackend;
  readonly #paths: PathMap;
  readonly #stepTimeoutMs: number;
  readonly #send: (message: Outgoing) => void;
  readonly #log: (line: string) => void;
  readonly #processes: ProcessTable;
  readonly #cancelled = new Set<string>();
  /** Processes whose command was sent to Airlock: their step, to signal them. */
  readonly #steps = new Map<string, StepHandle>();
  readonly #stop = new AbortController();
  #queue: Promise<unknown> = Promise.resolve();
  #initialized = false;
  readonly #handlers: Record<string, Handler>;

  constructor(opts: ServerOptions) {
    this.#backend = opts.backend;
    this.#paths = opts.paths;
    this.#stepTimeoutMs = opts.stepTimeoutMs;
    this.#send = opts.send;
    this.#log = opts.log ?? (() => undefined);
    this.#processes = new ProcessTable((method, params) => this.#send(notification(method, params)));
    this.#handlers = {
      [methods.environmentInfo]: async () => ({ shell: { name: 'bash', path: '/bin/bash' }, cwd: this.#paths.toUri(this.#backend.mountPath) }),
      [methods.processStart]: (p) => this.#processStart(p),
      [methods.processRead]: (p) => this.#processRead(p),
      [methods.processWrite]: (p) => this.#processWrite(p),
      [methods.processSignal]: (p) => this.#processSignal(p),
      [methods.processTerminate]: (p) => this.#processTerminate(p),
      [methods.fsGetMetadata]: (p) => this.#fsGetMetadata(p),
      [methods.fsReadFile]: (p) => this.#fsReadFile(p),
      [methods.fsWriteFile]: (p) => this.#fsWriteFile(p),
      [methods.fsCreateDirectory]: (p) => this.#fsCreateDirectory(p),
      [methods.fsReadDirectory]: (p) => this.#fsReadDirectory(p),
      [methods.fsRemove]: (p) => this.#fsRemove(p),
      [methods.fsCopy]: (p) => this.#fsCopy(p),
      [methods.fsCanonicalize]: (p) => this.#fsCanonicalize(p),
      [methods.httpRequest]: async () => {
        throw new RpcError(rpcErrorCodes.internal, 'Airlock sandboxes have no network: http/request is not served');
      },
    };
  }

  /** Handles one message; replies (if it is a request) are sent, never thrown. */
  async handle(message: Incoming): Promise<void> {
    if (message.id === undefined) {
      if (message.method !== methods.initialized) this.#log(`ignored notification ${message.method}`);
      return;
    }
    const id = message.id;
    try {
      const result = await this.#dispatch(message.method, message.params);
      this.#send(resultReply(id, result));
    } catch (err) {
      const rpc = err instanceof RpcError ? err : new RpcError(rpcErrorCodes.internal, err instanceof Error ? err.message : String(err));
      this.#send(errorReply(id, rpc));
    }
  }

  async #dispatch(method: string, params: unknown): Promise<unknown> {
    if (method === methods.initialize) {
      decodeParams(method, InitializeParamsSchema, params);
      if (this.#initialized) throw new RpcError(rpcErrorCodes.invalidRequest, 'initialize was already called on this connection');
      this.#initialized = true;
      // The run id names the session: Codex shows it, and `airlock log RUN` replays everything it did.
      return { sessionId: this.#backend.runId };
    }
    if (!this.#initialized) throw new RpcError(rpcErrorCodes.invalidRequest, `${method} before initialize`);
    const handler = this.#handlers[method];
    if (!handler) throw new RpcError(rpcErrorCodes.methodNotFound, `method ${method} is not served by Airlock's Codex environment`);
    return handler(params);
  }

  /** Stops waiting reads (the connection is ending). Steps already sent to Airlock are not stopped here. */
  stop(): void {
    this.#stop.abort();
  }

  /** Resolves when every queued step has ended. */
  async idle(): Promise<void> {
    for (;;) {
      const tail = this.#queue;
      await tail.catch(() => undefined);
      if (tail === this.#queue) return;
    }
  }

  /** Runs `job` after every step queued before it. */
  #enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(job, job);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #processStart(params: unknown): Promise<unknown> {
    const p = decodeParams(methods.processStart, ProcessStartParamsSchema, params);
    const cwd = this.#paths.toSandbox(p.cwd);
    const cmd = commandFor(p.argv, cwd, this.#backend.mountPath);
    const proc = this.#processes.create(p.processId);
    this.#enqueue(() => this.#runProcess(proc, cmd, p.env)).catch((err: unknown) => {
      proc.finish(EXIT_AIRLOCK_ERROR, `Airlock could not run this command: ${err instanceof Error ? err.message : String(err)}`);
    });
    return { processId: p.processId };
  }

  async #runProcess(proc: ManagedProcess, cmd: string, env: Record<string, string>): Promise<void> {
    if (this.#cancelled.has(proc.processId)) return;
    proc.state = 'running';
    const handle: StepHandle = {};
    this.#steps.set(proc.processId, handle);
    const onStarted = (step: number) => {
      handle.step = step;
      if (handle.pending) this.#deliver(proc, handle.pending);
    };
    const outcome = await this.#backend.exec({ cmd, env, timeoutMs: this.#stepTimeoutMs, onOutput: (stream, data) => proc.output(stream, data), onStarted });
    this.#log(describeOutcome(this.#backend.runId, cmd, outcome));
    this.#steps.delete(proc.processId);
    finishProcess(proc, outcome, this.#backend.runId, this.#stepTimeoutMs);
  }

  async #processRead(params: unknown): Promise<unknown> {
    const p = decodeParams(methods.processRead, ProcessReadParamsSchema, params);
    return this.#processes.get(p.processId).read({ ...p, signal: this.#stop.signal });
  }

  async #processWrite(params: unknown): Promise<unknown> {
    const p = decodeParams(methods.processWrite, ProcessWriteParamsSchema, params);
    // An Airlock step has no stdin: every write is refused with the status that says so.
    return { status: this.#processes.find(p.processId) ? 'stdinClosed' : 'unknownProcess' };
  }

  async #processTerminate(params: unknown): Promise<unknown> {
    const p = decodeParams(methods.processTerminate, ProcessIdParamsSchema, params);
    const proc = this.#processes.find(p.processId);
    if (!proc || proc.state === 'done') return { running: false };
    if (proc.state === 'queued') {
      this.#cancelled.add(proc.processId);
      proc.finish(EXIT_AIRLOCK_ERROR, 'terminated before Airlock ran it: the command never ran');
      return { running: true };
    }
    // Running: SIGTERM to the step's process group, SIGKILL if it is still there after the grace.
    this.#signalRunning(proc, 'SIGTERM');
    const kill = setTimeout(() => {
      if (proc.state !== 'done') this.#signalRunning(proc, 'SIGKILL');
    }, TERMINATE_GRACE_MS);
    kill.unref();
    return { running: true };
  }

  async #processSignal(params: unknown): Promise<unknown> {
    const p = decodeParams(methods.processSignal, ProcessSignalParamsSchema, params);
    const sig = signalName(p.signal);
    const proc = this.#processes.find(p.processId);
    if (!proc) throw new RpcError(rpcErrorCodes.invalidParams, `unknown process ${p.processId}`);
    if (proc.state === 'done') return { running: false };
    if (proc.state === 'queued') {
      // Not sent to Airlock yet: a signal that ends a process ends it before it runs; others wait for nothing.
      if (sig === 'SIGKILL' || sig === 'SIGTERM' || sig === 'SIGINT' || sig === 'SIGHUP' || sig === 'SIGQUIT') {
        this.#cancelled.add(proc.processId);
        proc.finish(EXIT_AIRLOCK_ERROR, `${sig} before Airlock ran it: the command never ran`);
      }
      return { running: true };
    }
    this.#signalRunning(proc, sig);
    return { running: true };
  }

  /** Signals a running process's step now, or as soon as Airlock reports its step number. */
  #signalRunning(proc: ManagedProcess, sig: ProcessSignal): void {
    const handle = this.#steps.get(proc.processId);
    if (!handle) return;
    if (handle.step === undefined) {
      // Validated and starting: the strongest signal asked for is sent once the step starts.
      if (handle.pending !== 'SIGKILL') handle.pending = sig;
      return;
    }
    this.#deliver(proc, sig);
  }

  #deliver(proc: ManagedProcess, sig: ProcessSignal): void {
    const step = this.#steps.get(proc.processId)?.step;
    if (step === undefined) return;
    this.#backend.signal(step, sig).then(
      (delivered) => this.#log(`${sig} to step ${step} of run ${this.#backend.runId} (process ${proc.processId}): ${delivered ? 'delivered' : 'it had ended'}`),
      (err: unknown) => this.#log(`${sig} to step ${step} of run ${this.#backend.runId} failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  /** Runs a file operation as a step; stdout on success, a typed error otherwise. */
  async #fsStep(op: string, cmd: string): Promise<Buffer> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const outcome = await this.#enqueue(() =>
      this.#backend.exec({ cmd, timeoutMs: this.#stepTimeoutMs, onOutput: (stream, data) => (stream === 'stdout' ? out : err).push(data) }),
    );
    this.#log(describeOutcome(this.#backend.runId, cmd, outcome));
    if (outcome.kind === 'refused') throw new RpcError(rpcErrorCodes.internal, `${op}: ${refusalText(outcome, this.#backend.runId)}`);
    if (outcome.kind === 'failed') throw new RpcError(rpcErrorCodes.internal, `${op}: Airlock could not run it (${outcome.code}): ${outcome.message}`);
    if (outcome.exitCode === NOT_FOUND_EXIT) throw new RpcError(rpcErrorCodes.notFound, `${op}: no such file or directory`);
    if (outcome.exitCode !== 0) {
      const why = Buffer.concat(err).toString('utf8').trim().slice(0, 2000);
      throw new RpcError(rpcErrorCodes.internal, `${op} failed (exit ${outcome.exitCode}, step ${outcome.step})${why ? `: ${why}` : ''}`);
    }
    if (outcome.truncated) throw new RpcError(rpcErrorCodes.internal, `${op}: the output was over Airlock's per-step limit and was cut`);
    return Buffer.concat(out);
  }

  /** Whether a sandbox path is in the workspace, where Airlock's file tools work (elsewhere: a bash step). */
  #inWorkspace(path: string): boolean {
    const root = this.#backend.mountPath;
    return path === root || path.startsWith(root === '/' ? '/' : `${root}/`);
  }

  /** Runs a file tool in the step queue; its value, or the JSON-RPC error it deserves. */
  async #fileTool<T>(op: string, call: () => Promise<FileOutcome<T>>): Promise<T> {
    const outcome = await this.#enqueue(call);
    if (outcome.kind === 'ok') return outcome.value;
    this.#log(`run ${this.#backend.runId}: ${op}: ${outcome.kind === 'refused' ? `${outcome.verdict} (${outcome.rule})` : outcome.code}`);
    if (outcome.kind === 'refused') throw new RpcError(rpcErrorCodes.internal, `${op}: ${refusalText(outcome, this.#backend.runId)}`);
    if (outcome.code === 'file_not_found') throw new RpcError(rpcErrorCodes.notFound, `${op}: no such file or directory`);
    throw new RpcError(rpcErrorCodes.internal, `${op}: Airlock could not do it (${outcome.code}): ${outcome.message}`);
  }

  async #fsGetMetadata(params: unknown): Promise<unknown> {
    const p = decodeParams(methods.fsGetMetadata, FsPathParamsSchema, params);
    const op = `fs/getMetadata ${p.path}`;
    const path = this.#paths.toSandbox(p.path);
    if (this.#inWorkspace(path)) {
      const entry = await this.#fileTool(op, () => this.#backend.files.stat(path));
      if (!entry) throw new RpcError(rpcErrorCodes.notFound, `${op}: no such file or directory`);
      // A symlink's own entry does not say what it points to: stat it through a step, which follows it.
      if (entry.type !== 'symlink') {
        return { isDirectory: entry.type === 'dir', isFile: entry.type === 'file', isSymlink: false, size: entry.size, createdAtMs: 0, modifiedAtMs: Math.round(entry.mtimeMs) };
      }
    }
    return parseMetadata((await this.#fsStep(op, getMetadataCommand(path))).toString('utf8'));
  }

  async #fsReadFile(params: unknown): Promise<unknown> {
    const p = decodeParams(methods.fsReadFile, FsPathParamsSchema, params);
    const op = `fs/readFile ${p.path}`;
    const path = this.#paths.toSandbox(p.path);
    if (this.#inWorkspace(path)) {
      const r = await this.#fileTool(op, () => this.#backend.files.read(path, MAX_READ_BYTES));
      // Larger than one file-tool read: the whole file through a step's output instead.
      if (!r.truncated) return { dataBase64: r.binary ? (r.content ?? '') : Buffer.from(r.content ?? '', 'utf8').toString('base64') };
    }
    return { dataBase64: (await this.#fsStep(op, readFileCommand(path))).toString('base64') };
  }

  async #fsWriteFile(params: unknown): Promise<unknown> {
    const p = decodeParams(methods.fsWriteFile, FsWriteFileParamsSchema, params);
    const op = `fs/writeFile ${p.path}`;
    const data = Buffer.from(p.dataBase64, 'base64');
    if (data.toString('base64').replace(/=+$/, '') !== p.dataBase64.replace(/\s/g, '').replace(/=+$/, '')) {
      throw new RpcError(rpcErrorCodes.invalidParams, 'fs/writeFile: dataBase64 is not valid base64');
    }
    const path = this.#paths.toSandbox(p.path);
    if (this.#inWorkspace(path)) {
      if (data.length > MAX_FILE_TOOL_WRITE_BYTES) throw new RpcError(rpcErrorCodes.invalidRequest, `${op}: ${data.length} bytes is over the ${MAX_FILE_TOOL_WRITE_BYTES}-byte limit of one Airlock file write`);
      await this.#fileTool(op, () => this.#backend.files.write(path, data));
      return {};
    }
    await this.#fsStep(op, writeFileCommand(path, data));
    return {};
  }

  async #fsReadDirectory(params: unknown): Promise<unknown> {
    const p = decodeParams(methods.fsReadDirectory, FsPathParamsSchema, params);
    const op = `fs/readDirectory ${p.path}`;
    const path = this.#paths.toSandbox(p.path);
    if (this.#inWorkspace(path)) {
      const entries = await this.#fileTool(op, () => this.#backend.files.list(path));
      // A full page may be cut: list everything through a step instead.
      if (entries.length < MAX_LIST_ENTRIES) {
        return { entries: entries.map((e) => ({ fileName: posix.basename(e.path), isDirectory: e.type === 'dir', isFile: e.type === 'file' })) };
      }
    }
    return { entries: parseDirectory(await this.#fsStep(op, readDirectoryCommand(path))) };
  }

  async #fsCreateDirectory(params: unknown): Promise<unknown> {
    const p = decodeParams(methods.fsCreateDirectory, FsCreateDirectoryParamsSchema, params);
    await this.#fsStep(`fs/createDirectory ${p.path}`, createDirectoryCommand(this.#paths.toSandbox(p.path), p.recursive ?? false));
    return {};
  }

  async #fsRemove(params: unknown): Promise<unknown> {
    const p = decodeParams(methods.fsRemove, FsRemoveParamsSchema, params);
    await this.#fsStep(`fs/remove ${p.path}`, removeCommand(this.#paths.toSandbox(p.path), { recursive: p.recursive ?? false, force: p.force ?? false }));
    return {};
  }

  async #fsCopy(params: unknown): Promise<unknown> {
    const p = decodeParams(methods.fsCopy, FsCopyParamsSchema, params);
    await this.#fsStep(`fs/copy ${p.sourcePath}`, copyCommand(this.#paths.toSandbox(p.sourcePath), this.#paths.toSandbox(p.destinationPath), p.recursive));
    return {};
  }

  async #fsCanonicalize(params: unknown): Promise<unknown> {
    const p = decodeParams(methods.fsCanonicalize, FsPathParamsSchema, params);
    const stdout = await this.#fsStep(`fs/canonicalize ${p.path}`, canonicalizeCommand(this.#paths.toSandbox(p.path)));
    return { path: this.#paths.toUri(stdout.toString('utf8').replace(/\n$/, '')) };
  }
}

const SHELLS = new Set(['bash', '/bin/bash', '/usr/bin/bash', 'sh', '/bin/sh', '/usr/bin/sh']);

/**
 * The bash command line a step runs for Codex's argv. Codex runs shell commands as
 * `[bash, -lc, SCRIPT]`: the step is SCRIPT itself, so the policy judges exactly what the model wrote.
 * Anything else is quoted word by word. A working directory other than the workspace root becomes a
 * leading `cd` (Airlock steps start at the mount path).
 */
export function commandFor(argv: readonly string[], cwd: string, mountPath: string): string {
  const [shell, flag, script] = argv;
  const body = argv.length === 3 && shell !== undefined && SHELLS.has(shell) && (flag === '-c' || flag === '-lc') && script !== undefined ? script : quoteArgv(argv);
  return cwd === mountPath ? body : `cd -- ${shellQuote(cwd)} || exit 1\n${body}`;
}

/** What Codex (and through it the model) is told when the validation chain did not let a command run. */
export function refusalText(o: Extract<StepOutcome, { kind: 'refused' }>, runId: string): string {
  const where = o.step === undefined ? `run ${runId}` : `run ${runId}, step ${o.step}`;
  if (o.verdict === 'deny') return `Airlock denied this command (rule ${o.rule}): ${o.reason}. It did not run (${where}).`;
  const approve = o.step === undefined ? '' : ` An operator can approve it with \`airlock approve ${runId} ${o.step}\`; then send the same command again and it runs once.`;
  return `Airlock is holding this command for an operator's approval (rule ${o.rule}): ${o.reason}. It did not run (${where}).${approve}`;
}

function finishProcess(proc: ManagedProcess, o: StepOutcome, runId: string, timeoutMs: number): void {
  if (o.kind === 'refused') {
    const text = refusalText(o, runId);
    proc.output('stderr', Buffer.from(`${text}\n`));
    proc.finish(EXIT_NOT_ALLOWED, text);
    return;
  }
  if (o.kind === 'failed') {
    const text = `Airlock could not run this command (${o.code}): ${o.message}`;
    proc.output('stderr', Buffer.from(`${text}\n`));
    proc.finish(EXIT_AIRLOCK_ERROR, text);
    return;
  }
  const notes = [
    o.timedOut ? `airlock: step ${o.step} timed out after ${timeoutMs} ms and was stopped` : '',
    o.sandboxDied ? `airlock: step ${o.step} lost its sandbox; the next step gets a fresh one on the same workspace` : '',
    o.truncated ? `airlock: step ${o.step}'s output was over the per-step limit and was cut` : '',
  ].filter(Boolean);
  if (notes.length > 0) proc.output('stderr', Buffer.from(notes.join('\n') + '\n'));
  proc.finish(o.exitCode);
}

function describeOutcome(runId: string, cmd: string, o: StepOutcome): string {
  const head = cmd.split('\n')[0]!.slice(0, 120);
  if (o.kind === 'ran') return `run ${runId} step ${o.step}: exit ${o.exitCode}: ${head}`;
  if (o.kind === 'refused') return `run ${runId}${o.step === undefined ? '' : ` step ${o.step}`}: ${o.verdict} (${o.rule}): ${head}`;
  return `run ${runId}: ${o.code}: ${o.message}`;
}

/** A signal as Codex names it (`SIGINT`, `INT`, `2`) as Airlock takes it; one Airlock does not deliver is invalid params. */
export function signalName(sig: string | number): ProcessSignal {
  const byNumber = typeof sig === 'number' ? Object.entries(osConstants.signals).find(([, n]) => n === sig)?.[0] : undefined;
  const name = (byNumber ?? String(sig)).toUpperCase();
  const full = (name.startsWith('SIG') ? name : `SIG${name}`) as ProcessSignal;
  if (!SIGNALS.includes(full)) throw new RpcError(rpcErrorCodes.invalidParams, `signal ${String(sig)} is not one Airlock delivers (${SIGNALS.join(', ')})`);
  return full;
}
