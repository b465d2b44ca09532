// Signals to a running process (a step started with `yieldMs`): delivered to the process group of
// the step's shell by a `docker exec` beside it, as the sandbox's user, so it can reach only what
// the run's own commands could.
import { AirlockError } from '@airlock/proto';
import type { RunnerSignalRequest, RunnerSignalResult } from '@airlock/proto';
import type { ContainerClient } from '../docker/client.ts';
import type { LiveRun } from '../live-run.ts';

/** How long a signal waits for a just-started step's shell to report its pid. */
const PID_WAIT_MS = 5000;

/**
 * Finds the process group of a pid from /proc (the shell is the group's leader under the executor;
 * under `docker exec` the group is `timeout`'s) and signals the whole group. Exit 3: the pid is gone.
 */
const SIGNAL_SCRIPT = `p="$1"; sig="$2"
[ -r "/proc/$p/stat" ] || exit 3
s=$(cat "/proc/$p/stat") || exit 3
s=\${s##*) }
set -- $s
kill -s "$sig" -- "-$3" 2>/dev/null || kill -s "$sig" "$p"`;

/**
 * Signals step `req.step` of `run` if it is the step running now. Resolves `delivered: false` when
 * that step has already ended (or is not running here): a signal to a finished process is not an error.
 */
export async function signalStep(docker: ContainerClient, run: LiveRun, req: RunnerSignalRequest): Promise<RunnerSignalResult> {
  const deadline = Date.now() + PID_WAIT_MS;
  while (run.session?.step === req.step && run.session.facts.pid === undefined && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const session = run.session;
  const containerId = run.containerId;
  if (session?.step !== req.step || session.facts.pid === undefined || containerId === null) return { runId: req.runId, step: req.step, delivered: false };
  if (!docker.sideExec) throw new AirlockError('internal', 'this runner cannot signal a process: its container client has no side exec');
  const r = await docker.sideExec(containerId, {
    cmd: ['sh', '-c', SIGNAL_SCRIPT, 'airlock-signal', String(session.facts.pid), req.signal.replace(/^SIG/, '')],
    user: run.workspace.user,
  });
  return { runId: req.runId, step: req.step, delivered: r.code === 0 };
}
