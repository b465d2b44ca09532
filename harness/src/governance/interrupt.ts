// `pause --interrupt`: the running step is asked to stop (SIGINT to its process group, the way a
// person presses Ctrl-C), and told (SIGTERM) if it has not ended after a grace period. It reuses the
// signal path of long-running processes (processes/handlers.ts): a signed order to the runner that
// holds the run, delivered by a side exec as the sandbox's user.
import { PROTOCOL_VERSION } from '@airlock/proto';
import type { ProcessSignal } from '@airlock/proto';
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
export async function interruptStep(desk: StepDesk, runId: string, step: number, graceMs: number): Promise<InterruptOutcome> {
  const out: InterruptOutcome = { step, sent: [], ended: false };
  if (!(await running(desk, runId, step))) return { ...out, ended: true };
  if (await send(desk, runId, step, 'SIGINT')) out.sent.push('SIGINT');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!(await running(desk, runId, step))) return { ...out, ended: true };
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
  }
  if (!(await running(desk, runId, step))) return { ...out, ended: true };
  if (await send(desk, runId, step, 'SIGTERM')) out.sent.push('SIGTERM');
  return out;
}

/** The governor's interrupt hook over the desk: runs in the background, its outcome logged. */
export function interrupter(desk: StepDesk, log: Logger): InterruptStep {
  return (runId, step, graceMs) =>
    desk.track(
      interruptStep(desk, runId, step, graceMs).then(
        (o) => log.info({ runId, ...o }, 'running step interrupted'),
        (err: unknown) => log.error({ err, runId, step }, 'could not interrupt the running step'),
      ),
    );
}
