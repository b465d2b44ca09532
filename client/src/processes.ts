// Long-running processes of a run: `run.exec(cmd, { yieldMs })` starts one and answers after at most
// `yieldMs` with its state; `run.poll`, `run.signal` and `run.processes` work on it from any client,
// after a reconnect and after a harness restart (the harness reads everything from the run's log).
import { ApiProcessesResultSchema, ApiSignalResultSchema, ProcessStateSchema, subjects } from '@airlock/proto';
import type { ProcessInfo, ProcessSignal, ProcessState } from '@airlock/proto';
import type { Link } from './link.ts';

/** Options of `run.exec` with `yieldMs` (a process). */
export interface StartOptions {
  /** How long this call waits, in ms, before answering with the process still running. */
  yieldMs: number;
  /** The process's lifetime, in ms (the harness's default when absent); not how long the call waits. */
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Start in this directory (absolute, or relative to the workspace). */
  cwd?: string;
  /** Start where the previous step ended and remember where this one ends. */
  keepCwd?: boolean;
  signal?: AbortSignal;
}

/** Options of `run.poll`. */
export interface PollOptions {
  /** Output offset to read from (the previous answer's `nextOffset`); default 0, all of it. */
  fromOffset?: number;
  /** With nothing new yet, wait up to this long (ms, at most 300000) for output or the end. */
  waitMs?: number;
  /** At most this many output bytes per answer (`more` says when there is more). */
  maxBytes?: number;
  signal?: AbortSignal;
}

export function startProcess(link: Link, runId: string, cmd: string, o: StartOptions): Promise<ProcessState> {
  const { signal, ...rest } = o;
  return link.request(subjects.api.exec, { runId, cmd, ...rest }, ProcessStateSchema, { timeoutMs: o.yieldMs + 60_000, signal, lostData: () => ({ runId }) });
}

export function pollProcess(link: Link, runId: string, pid: number, o: PollOptions): Promise<ProcessState> {
  const { signal, ...rest } = o;
  return link.request(subjects.api.poll, { runId, pid, ...rest }, ProcessStateSchema, { timeoutMs: (o.waitMs ?? 0) + 60_000, signal });
}

export async function signalProcess(link: Link, runId: string, pid: number, sig: ProcessSignal, signal?: AbortSignal): Promise<boolean> {
  return (await link.request(subjects.api.signal, { runId, pid, signal: sig }, ApiSignalResultSchema, { timeoutMs: 60_000, signal })).delivered;
}

export async function listProcesses(link: Link, runId: string, signal?: AbortSignal): Promise<ProcessInfo[]> {
  return (await link.request(subjects.api.processes, { runId }, ApiProcessesResultSchema, { timeoutMs: 60_000, signal })).processes;
}
