// Long-running processes. A process is a step started with `yieldMs`: `exec` answers after that long
// with the process's id (its step number) and the output so far, and the step goes on under its own
// `timeoutMs` (its lifetime). The run's log holds everything, so `poll`, `processes` and `signal` work
// from any client connection and after a harness restart.
//
// A process is still a step of its run: steps of one run are serial, so while it runs, the run's
// next command or file step is refused with `run_busy` (retryable), and its snapshot is taken when it
// ends. Two steps at once would make "the workspace after step n" meaningless (a snapshot would hold
// the other step's half-written files) and restore, diff and replay depend on that meaning.
import { AirlockError, DEFAULT_POLL_BYTES, PROTOCOL_VERSION, RunnerSignalResultSchema, signalText, subjects } from '@airlock/proto';
import type { ApiPollRequest, ApiProcessesRequest, ApiProcessesResult, ApiSignalRequest, ApiSignalResult, LogEvent, ProcessState, StepResult } from '@airlock/proto';
import { logTail, readRunLog } from '@airlock/ledger';
import type { StepDesk } from './desk.ts';
import { processList, processState, stepFacts, statusOf } from './state.ts';

/**
 * Waits up to `yieldMs` for a step's result; then answers with its state from the log (running, with
 * the output so far, or exited). The step goes on either way; its result is handled by `pending`'s
 * own continuation (kept by the desk).
 */
export async function yieldStep(desk: StepDesk, runId: string, pid: number, pending: Promise<StepResult>, yieldMs: number): Promise<ProcessState> {
  let timer: NodeJS.Timeout | undefined;
  const settled = pending.then(
    () => 'done' as const,
    (err: unknown) => {
      throw err;
    },
  );
  // The caller stops waiting, the step does not: its end (and any failure) is still observed.
  desk.track(settled.catch(() => undefined));
  try {
    await Promise.race([settled, new Promise<'yield'>((r) => (timer = setTimeout(r, yieldMs, 'yield')))]);
  } finally {
    clearTimeout(timer);
  }
  return processState(runId, pid, await desk.checkedLog(runId), 0, DEFAULT_POLL_BYTES);
}

/**
 * A process's output from `fromOffset`, and its status. With `waitMs`, a poll that has nothing new
 * (no output past the offset, not ended) waits that long for news first: callers need not spin.
 */
export async function poll(desk: StepDesk, req: ApiPollRequest): Promise<ProcessState> {
  const state = processState(req.runId, req.pid, await desk.checkedLog(req.runId), req.fromOffset, req.maxBytes);
  if (req.waitMs === 0 || state.output.length > 0 || (state.status !== 'running' && state.status !== 'starting')) return state;
  await waitForNews(desk, req.runId, req.pid, req.waitMs);
  return processState(req.runId, req.pid, await desk.checkedLog(req.runId), req.fromOffset, req.maxBytes);
}

/** Resolves when the log gets an event of step `pid` after now, or after `waitMs`. */
async function waitForNews(desk: StepDesk, runId: string, pid: number, waitMs: number): Promise<void> {
  const { js, jsm } = desk.nats;
  const tail = await logTail(jsm, runId);
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), waitMs);
  try {
    for await (const e of readRunLog(js, jsm, runId, { fromStreamSeq: tail.streamSeq + 1, follow: true, signal: stop.signal })) {
      if (concerns(e, pid)) return;
    }
  } catch {
    // A broken follow only ends the wait early; the poll reads the checked log again anyway.
  } finally {
    clearTimeout(timer);
  }
}

function concerns(e: LogEvent, pid: number): boolean {
  return 'step' in e && e.step === pid && (e.type === 'step.output' || e.type === 'step.exited' || e.type === 'step.lost' || e.type === 'step.started' || e.type === 'step.verdict');
}

/** The run's processes (steps started with `yieldMs`) and where each is. */
export async function listProcesses(desk: StepDesk, req: ApiProcessesRequest): Promise<ApiProcessesResult> {
  await desk.record(req.runId, true);
  return { runId: req.runId, processes: processList(await desk.checkedLog(req.runId)) };
}

/**
 * Sends a signal to a running process's whole process group (through the runner that holds the
 * run, on a job token for that step). A process that has ended is not an error: `delivered: false`.
 */
export async function signal(desk: StepDesk, req: ApiSignalRequest): Promise<ApiSignalResult> {
  const record = await desk.record(req.runId, true);
  const facts = stepFacts(await desk.checkedLog(req.runId), req.pid).get(req.pid);
  if (!facts?.requested) throw new AirlockError('unknown_process', `run ${req.runId} has no step ${req.pid}; \`processes\` lists the run's processes`);
  const { status } = statusOf(facts);
  if (status !== 'running' && status !== 'starting') return { runId: req.runId, pid: req.pid, signal: req.signal, delivered: false };
  if (record.status !== 'open') throw new AirlockError('run_closed', `run ${req.runId} was closed at ${record.closedAt ?? '?'}`);
  const token = desk.token(req.runId, req.pid, record.policyHash, signalText(req.signal));
  const r = await desk.askRunner({
    record,
    step: req.pid,
    subject: subjects.runnerSignal(record.runnerId),
    body: { v: PROTOCOL_VERSION, runId: req.runId, step: req.pid, signal: req.signal, policyHash: record.policyHash, token },
    schema: RunnerSignalResultSchema,
    timeoutMs: 30_000,
    kind: 'signal',
    waits: false,
  });
  return { runId: req.runId, pid: req.pid, signal: req.signal, delivered: r.delivered };
}
