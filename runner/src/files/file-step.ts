// A file step on the runner: read, write, edit, list or stat of a workspace file, run inside the
// sandbox by helper.py through the run's exec path, logged and snapshotted like a command step.
//
// Why inside the sandbox and not on the runner against the bind-mounted workspace: the runner runs
// as root on the host, and the workspace is the agent's, with processes of the run still running
// (a long-running process) that can swap a directory for a symlink at any moment. Resolving and
// writing on the host would make every such race a write as root anywhere on the host. Inside the
// sandbox the same race reaches only what the sandbox user can reach, in the sandbox's mount
// namespace; the files written belong to the sandbox's user (the workspace's owner, as with any
// step), and no chown is needed afterwards.
import { readFileSync } from 'node:fs';
import { AirlockError, MAX_LIST_ENTRIES, MAX_WRITE_BYTES } from '@airlock/proto';
import type { FileOp, FileResult, FileStepSummary, RunnerFileRequest } from '@airlock/proto';
import { fileChecker, type FileAccess, type FileChecker, type FileVerdict, type Validator } from '@airlock/validate';
import type { ContainerClient } from '../docker/client.ts';
import type { LiveRun } from '../live-run.ts';
import type { Logger } from '../logger.ts';
import { applyEdit } from './edit.ts';

const HELPER = readFileSync(new URL('./helper.py', import.meta.url), 'utf8');
/** A file operation's own deadline inside the sandbox. */
const HELPER_TIMEOUT_MS = 60_000;
/** Linux refuses one argv string over 128 KiB: content travels in pieces below that. */
const ARG_PIECE = 96 * 1024;
/** Most stdout a helper answer may have (a capped read in base64 and its JSON). */
const MAX_ANSWER_BYTES = 2 * 1024 * 1024;

/** What the file step needs from the runner service. */
export interface FileStepHost {
  readonly docker: ContainerClient;
  readonly log: Logger;
  startSandbox(run: LiveRun): Promise<string>;
  snapshot(run: LiveRun, step: number): Promise<string | undefined>;
  /** Records a verdict the runner reached (the run log and the reviewers' index). */
  recordVerdict(run: LiveRun, step: number, text: string, v: FileVerdict): Promise<void>;
}

const checkers = new WeakMap<Validator, FileChecker>();

/** The file checks of a run's pinned policy. */
export function checkerOf(run: Pick<LiveRun, 'validator'>): FileChecker {
  let c = checkers.get(run.validator);
  if (!c) {
    c = fileChecker(run.validator.policy);
    checkers.set(run.validator, c);
  }
  return c;
}

/** The access a file operation needs, as the policy judges it. */
export function accessOf(op: FileOp): FileAccess {
  return op.op === 'edit' ? 'write' : op.op;
}

/**
 * Runs one authorized file step. The policy is checked again here (path, then the real path a read
 * found), the operation runs in the sandbox, and the step is logged (`step.started`, `step.file`,
 * `step.exited`) and snapshotted whether it succeeded or not. Failures are typed errors after that.
 */
export async function runFileStep(host: FileStepHost, run: LiveRun, req: RunnerFileRequest, text: string, approved: boolean): Promise<FileResult> {
  const op = req.file;
  const checker = checkerOf(run);
  const first = checker.check(run.mountPath, op.path, accessOf(op));
  if (first.verdict === 'deny' || (first.verdict === 'ask' && !approved)) {
    await host.recordVerdict(run, req.step, text, { ...first, reason: `the runner's check disagrees with the harness: ${first.reason}` });
    throw new AirlockError('validation_denied', `runner refused step ${req.step} (${first.rule}): ${first.reason}`, { data: { step: req.step, rule: first.rule, reason: first.reason } });
  }
  if (!first.resolved.inside) throw new AirlockError('internal', 'unreachable: an allowed path outside the workspace');
  const target = { path: op.path, rel: first.resolved.rel, abs: first.resolved.abs, root: run.mountPath };
  if (run.containerId === null) {
    const id = await host.startSandbox(run);
    await run.log.append({ type: 'sandbox.started', containerId: id, reason: 'the previous sandbox died; fresh sandbox on the same workspace' });
  }
  await run.log.append({ type: 'step.started', step: req.step, containerId: run.containerId! });
  const started = performance.now();
  let outcome: { result: Omit<FileResult, 'runId' | 'step' | 'logSeq' | 'snapshot'>; summary: FileStepSummary } | { error: AirlockError; summary: FileStepSummary };
  try {
    outcome = await perform(host, run, op, target, checker);
  } catch (err) {
    const error = err instanceof AirlockError ? err : new AirlockError('internal', `file ${op.op} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    outcome = { error, summary: { op: op.op, path: target.rel, ok: false, code: error.code, message: error.message.slice(0, 2000) } };
  }
  if ('error' in outcome && outcome.error.code === 'validation_denied') {
    const data = outcome.error.data as { rule?: string; reason?: string } | undefined;
    await host.recordVerdict(run, req.step, text, { verdict: 'deny', rule: data?.rule ?? 'file.outside_workspace', reason: data?.reason ?? outcome.error.message });
  }
  await run.log.append({ type: 'step.file', step: req.step, file: outcome.summary });
  const exited = await run.log.append({
    type: 'step.exited',
    step: req.step,
    result: {
      runId: run.runId,
      step: req.step,
      exitCode: 'error' in outcome ? 1 : 0,
      signal: null,
      oomKilled: false,
      timedOut: false,
      sandboxDied: false,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      stdoutBytes: 0,
      stderrBytes: 0,
      truncated: false,
    },
  });
  const snapshot = await host.snapshot(run, req.step);
  if ('error' in outcome) throw outcome.error;
  return { runId: run.runId, step: req.step, ...outcome.result, logSeq: exited.seq, ...(snapshot ? { snapshot } : {}) };
}

interface Target {
  /** As the caller gave it. */
  path: string;
  rel: string;
  abs: string;
  root: string;
}

type Performed = { result: Omit<FileResult, 'runId' | 'step' | 'logSeq' | 'snapshot'>; summary: FileStepSummary };

async function perform(host: FileStepHost, run: LiveRun, op: FileOp, t: Target, checker: FileChecker): Promise<Performed> {
  switch (op.op) {
    case 'read': {
      const a = await helper(host, run, { op: 'read', ...t, maxBytes: op.maxBytes ?? 256 * 1024, fromLine: op.fromLine, toLine: op.toLine });
      const real = String(a.path);
      // A symlink inside the workspace may lead to a file the policy guards for reads.
      if (real !== t.rel) {
        const v = checker.check(t.root, real, 'read');
        if (v.verdict !== 'allow') {
          throw new AirlockError('validation_denied', `${t.path} is a symlink to ${real}: ${v.reason}`, { data: { rule: v.rule, reason: v.reason } });
        }
      }
      const bytes = Buffer.from(String(a.content), 'base64');
      const binary = a.binary === true;
      return {
        result: {
          op: 'read',
          path: real,
          content: binary ? bytes.toString('base64') : bytes.toString('utf8'),
          binary,
          truncated: a.truncated === true,
          ...num(a, 'totalLines', 'fromLine', 'toLine', 'size'),
          ...(typeof a.sha256 === 'string' ? { sha256: a.sha256 } : {}),
        },
        summary: { op: 'read', path: real, ok: true, ...num(a, 'size'), ...(typeof a.sha256 === 'string' ? { sha256: a.sha256 } : {}) },
      };
    }
    case 'write': {
      const content = op.encoding === 'base64' ? Buffer.from(op.content, 'base64') : Buffer.from(op.content, 'utf8');
      if (content.length > MAX_WRITE_BYTES) throw new AirlockError('file_too_large', `a write carries at most ${MAX_WRITE_BYTES} bytes; this one has ${content.length}`);
      const a = await write(host, run, t, content, { createDirs: op.createDirs ?? true, mode: op.mode });
      return {
        result: { op: 'write', path: t.rel, created: a.created === true, ...num(a, 'size'), sha256: String(a.sha256) },
        summary: { op: 'write', path: t.rel, ok: true, ...num(a, 'size'), sha256: String(a.sha256), ...(typeof a.before === 'string' ? { before: a.before } : {}) },
      };
    }
    case 'edit': {
      const r = await helper(host, run, { op: 'read', ...t, maxBytes: MAX_WRITE_BYTES, whole: true });
      if (r.binary === true) throw new AirlockError('bad_request', `${t.path} is not a UTF-8 text file; edit works on text (write replaces any file)`);
      const before = Buffer.from(String(r.content), 'base64').toString('utf8');
      const edited = applyEdit(before, op.search, op.replace, op.occurrence);
      if (!edited.ok) {
        const data = edited.code === 'edit_no_match' ? { nearest: edited.nearest } : { lines: edited.lines, count: edited.count };
        throw new AirlockError(edited.code, `${t.path}: ${edited.message}`, { data });
      }
      const a = await write(host, run, t, Buffer.from(edited.text, 'utf8'), { createDirs: false, expectSha256: String(r.sha256) });
      return {
        result: { op: 'edit', path: t.rel, replaced: edited.replaced, line: edited.line, ...num(a, 'size'), sha256: String(a.sha256) },
        summary: { op: 'edit', path: t.rel, ok: true, replaced: edited.replaced, ...num(a, 'size'), sha256: String(a.sha256), before: String(r.sha256) },
      };
    }
    case 'list': {
      const a = await helper(host, run, { op: 'list', ...t, depth: op.depth ?? 1, maxEntries: MAX_LIST_ENTRIES });
      const entries = (a.entries as FileResult['entries']) ?? [];
      return {
        result: { op: 'list', path: String(a.path), entries, truncated: a.truncated === true },
        summary: { op: 'list', path: String(a.path), ok: true, entries: entries.length },
      };
    }
    case 'stat': {
      const a = await helper(host, run, { op: 'stat', ...t });
      const exists = a.exists === true;
      return {
        result: { op: 'stat', path: t.rel, exists, ...(exists ? { entry: a.entry as FileResult['entry'] } : {}) },
        summary: { op: 'stat', path: t.rel, ok: true },
      };
    }
  }
}

function write(host: FileStepHost, run: LiveRun, t: Target, content: Buffer, o: { createDirs: boolean; mode?: number | undefined; expectSha256?: string }) {
  const b64 = content.toString('base64');
  const pieces: string[] = [];
  for (let i = 0; i < b64.length; i += ARG_PIECE) pieces.push(b64.slice(i, i + ARG_PIECE));
  return helper(host, run, { op: 'write', ...t, createDirs: o.createDirs, ...(o.mode !== undefined ? { mode: o.mode } : {}), ...(o.expectSha256 ? { expectSha256: o.expectSha256 } : {}) }, pieces);
}

function num(a: Record<string, unknown>, ...keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) if (typeof a[k] === 'number') out[k] = a[k];
  return out;
}

/** Helper answer codes and the wire error each becomes. */
const HELPER_ERRORS: Record<string, (message: string, a: Record<string, unknown>) => AirlockError> = {
  file_not_found: (m) => new AirlockError('file_not_found', m),
  file_too_large: (m, a) => new AirlockError('file_too_large', m, { data: { size: a.size } }),
  file_changed: (m) => new AirlockError('file_changed', m),
  path_outside_workspace: (m) => new AirlockError('validation_denied', m, { data: { rule: 'file.outside_workspace', reason: m } }),
  'file.symlink': (m) => new AirlockError('validation_denied', m, { data: { rule: 'file.symlink', reason: m } }),
  permission_denied: (m) => new AirlockError('bad_request', m),
  os_error: (m) => new AirlockError('bad_request', m),
};

/** Runs helper.py in the run's sandbox with one request; its answer, or the typed error it reports. */
async function helper(host: FileStepHost, run: LiveRun, request: Record<string, unknown>, args: string[] = []): Promise<Record<string, unknown>> {
  const exec = await host.docker.exec(run.containerId!, {
    cmd: ['python3', '-I', '-S', '-c', HELPER, JSON.stringify(request), ...args],
    env: run.env,
    user: run.workspace.user,
    workdir: run.mountPath,
    deadline: { timeoutMs: HELPER_TIMEOUT_MS, killAfterMs: 2000 },
  });
  const out: Buffer[] = [];
  let outBytes = 0;
  let err = '';
  for await (const f of exec.output) {
    if (f.stream === 'stdout') {
      outBytes += f.data.length;
      if (outBytes <= MAX_ANSWER_BYTES) out.push(f.data);
    } else if (err.length < 16_384) err += f.data.toString('utf8');
  }
  const exit = await exec.exit();
  if (exit.code === 127 || /python3: (not found|No such file)/.test(err)) {
    throw new AirlockError('file_tools_unavailable', `the sandbox image ${run.image} has no python3, which the file tools run with; use commands, or an image with python3`);
  }
  let answer: Record<string, unknown>;
  try {
    answer = JSON.parse(Buffer.concat(out).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new AirlockError('internal', `the file helper gave no answer (exit ${exit.code}${exit.timedOut ? ', timed out' : ''}): ${err.slice(0, 500)}`);
  }
  if (answer.ok === true) return answer;
  const code = String(answer.code);
  const message = String(answer.message ?? code);
  throw (HELPER_ERRORS[code] ?? ((m: string) => new AirlockError('internal', m)))(message, answer);
}
