// `pause --interrupt`: the running step is asked to stop (SIGINT to its process group, the way a
// person presses Ctrl-C), and told (SIGTERM) if it has not ended after a grace period. It reuses the
// signal path of long-running processes (processes/handlers.ts): a signed order to the runner that
// holds the run, delivered by a side exec as the sandbox's user.
import { PROTOCOL_VERSION } from '@airlock/proto';
import type { LogEvent, ProcessSignal } from '@airlock/proto';
import type { Logger } from '../logger.ts';
import type { StepDesk } from '../processes/desk.ts';
import type { InterruptStep } from './governor.ts';
import { signal } from '../processes/handlers.ts';
import { stepFacts, statusOf } from '../processes/state.ts';

/** How often the escalation looks at the log for the step's end. */
const POLL_MS = 250;

/** What became of an interrupt: which signals reached the step, and whether it ended. */
export interface InterruptOutcome {
  step: number;
  sent: ProcessSignal[];
  ended: boolean;
}

/** Whether step `step` of the run is still running, by its log (a previous harness's step too). */
async function running(desk: StepDesk, runId: string, step: number): Promise<boolean> {
  const f = stepFacts(await desk.checkedLog(runId), step).get(step);
  if (!f?.requested) return false;
  const { status } = statusOf(f);
  return status === 'running' || status === 'starting';
}

async function send(desk: StepDesk, runId: string, step: number, sig: ProcessSignal): Promise<boolean> {
  const r = await signal(desk, { v: PROTOCOL_VERSION, runId, pid: step, signal: sig });
  return r.delivered;
}

/**
 * Sends SIGINT to step `step`, waits up to `graceMs` for it to end, then sends SIGTERM. A step that
 * already ended is not an error (nothing is sent). Resolves once the step ended or TERM was sent.
 */
export async function interruptStep(desk: StepDesk, runId: string, step: number, graceMs: number, stop?: AbortSignal): Promise<InterruptOutcome> {
  const out: InterruptOutcome = { step, sent: [], ended: false };
  if (!(await running(desk, runId, step))) return { ...out, ended: true };
  if (await send(desk, runId, step, 'SIGINT')) out.sent.push('SIGINT');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!(await running(desk, runId, step))) return { ...out, ended: true };
    // A draining harness hands the escalation over: the next one finds it in the log (resumeInterrupts).
    if (stop?.aborted) return out;
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
  }
  if (stop?.aborted || !(await running(desk, runId, step))) return { ...out, ended: !stop?.aborted };
  if (await send(desk, runId, step, 'SIGTERM')) out.sent.push('SIGTERM');
  return out;
}

/** The governor's interrupt hook over the desk (background, outcome logged), and its stop for the harness's drain. */
export function interrupter(desk: StepDesk, log: Logger): { interrupt: InterruptStep; stop(): void } {
  const stop = new AbortController();
  const interrupt: InterruptStep = (runId, step, graceMs) =>
    desk.track(
      interruptStep(desk, runId, step, graceMs, stop.signal).then(
        (o) => log.info({ runId, ...o }, 'running step interrupted'),
        (err: unknown) => log.error({ err, runId, step }, 'could not interrupt the running step'),
      ),
    );
  return { interrupt, stop: () => stop.abort() };
}

/** The last interrupt of a run's log (the harness's own events) whose step may still be running. */
export function pendingInterrupt(events: readonly LogEvent[]): { step: number; termAt: number } | undefined {
  let found: { step: number; termAt: number } | undefined;
  for (const e of events) {
    if (e.type === 'run.control' && e.by === 'harness' && e.interrupt) found = { step: e.interrupt.step, termAt: Date.parse(e.ts) + e.interrupt.graceMs };
  }
  if (!found) return undefined;
  const f = stepFacts(events, found.step).get(found.step);
  const status = f?.requested ? statusOf(f).status : 'exited';
  return status === 'running' || status === 'starting' ? found : undefined;
}

/**
 * After a restart: an interrupt a previous harness started whose step still runs gets its SIGTERM
 * when its grace period ends (SIGINT is not sent again: the step may count interrupts). Returns a
 * stop for the harness's drain.
 */
export function resumeInterrupts(desk: StepDesk, openRuns: () => Promise<readonly string[]>, log: Logger): { stop(): void } {
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const escalate = async (runId: string, step: number) => {
    if (stopped || !(await running(desk, runId, step))) return;
    const delivered = await send(desk, runId, step, 'SIGTERM');
    log.info({ runId, step, delivered }, 'interrupted step still running after its grace period: SIGTERM');
  };
  desk.track(
    (async () => {
      for (const runId of await openRuns()) {
        if (stopped) return;
        const pending = pendingInterrupt(await desk.checkedLog(runId).catch(() => []));
        if (!pending) continue;
        const t = setTimeout(() => {
          timers.delete(t);
          desk.track(escalate(runId, pending.step).catch((err: unknown) => log.error({ err, runId, step: pending.step }, 'could not send SIGTERM to an interrupted step')));
        }, Math.max(0, pending.termAt - Date.now()));
        t.unref();
        timers.add(t);
      }
    })(),
  );
  return {
    stop: () => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
