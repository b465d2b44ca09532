// The runner's handlers of file and signal requests: authorization (the harness's job token, bound
// to the operation's text), the run's serial-step rule, then the file step or the signal.
import { AirlockError, fileOpText, signalText, subjects } from '@airlock/proto';
import type { FileResult, RunnerFileRequest, RunnerSignalRequest, RunnerSignalResult } from '@airlock/proto';
import { indexVerdict } from '@airlock/ledger';
import type { NatsHandles } from '@airlock/transport';
import { sha256Hex } from '@airlock/proto';
import type { Gate } from '../gate.ts';
import type { LiveRun } from '../live-run.ts';
import { signalStep } from '../processes/signal.ts';
import { runFileStep, type FileStepHost } from './file-step.ts';

/** What the file and signal handlers need from the runner service. */
export interface FileServeHost extends Omit<FileStepHost, 'recordVerdict'> {
  readonly runnerId: string;
  readonly gate: Gate;
  readonly js: NatsHandles['js'];
  run(runId: string): LiveRun;
}

/** Verdict events the runner writes for file steps, indexed for reviewers as the harness's are. */
function recorder(host: FileServeHost): FileStepHost['recordVerdict'] {
  return async (run, step, text, v) => {
    const event = await run.log.append({ type: 'step.verdict', step, cmd: text, verdict: v.verdict, rule: v.rule, reason: v.reason, policyHash: run.policyHash });
    if (event.type === 'step.verdict') {
      await indexVerdict(host.js, event).catch((err: unknown) => host.log.error({ err, runId: run.runId, step }, "could not index the runner's verdict for reviewers"));
    }
  };
}

/** Runs an authorized file step; the run is busy for its duration (steps of one run are serial). */
export async function serveFileStep(host: FileServeHost, req: RunnerFileRequest): Promise<FileResult> {
  const run = host.run(req.runId);
  if (run.busy) throw new AirlockError('run_busy', `run ${req.runId} is executing a step (a process started with yieldMs runs until it ends); steps of one run are serial`);
  run.busy = true;
  try {
    const text = fileOpText(req.file, sha256Hex);
    const claims = await host.gate.authorize({ runId: req.runId, step: req.step, policyHash: req.policyHash, token: req.token, cmd: text }, subjects.runnerFile(host.runnerId));
    if (req.policyHash !== run.policyHash) throw new AirlockError('validation_denied', `the request names policy ${req.policyHash.slice(0, 12)}, the run is pinned to ${run.policyHash.slice(0, 12)}`);
    return await runFileStep({ ...host, recordVerdict: recorder(host) }, run, req, text, claims.approved !== undefined);
  } finally {
    run.busy = false;
  }
}

/** Signals a running step's process group (only on the harness's signed order). */
export async function serveSignal(host: FileServeHost, req: RunnerSignalRequest): Promise<RunnerSignalResult> {
  const run = host.run(req.runId);
  await host.gate.authorize({ runId: req.runId, step: req.step, policyHash: req.policyHash, token: req.token, cmd: signalText(req.signal) }, subjects.runnerSignal(host.runnerId));
  return signalStep(host.docker, run, req);
}
