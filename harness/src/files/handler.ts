// File tools (read, write, edit, list, stat) on the harness: each call is the next step of its run,
// logged as `step.requested` with the operation's one-line text, judged by the file policy (a path
// outside the workspace is denied; a write to a sensitive path is held for an operator, through the
// same approvals as commands), then run by the runner that holds the run, inside the sandbox.
import { FileResultSchema, PROTOCOL_VERSION, fileOpText, sha256Hex, subjects } from '@airlock/proto';
import type { ApiFileRequest, FileOp, FileResult } from '@airlock/proto';
import { fileChecker, type FileAccess, type FileChecker, type Policy } from '@airlock/validate';
import type { StepDesk } from '../processes/desk.ts';

/** How long the harness waits for a file step's reply (the helper's own deadline is 60 s, plus a snapshot). */
const FILE_REPLY_MS = 150_000;

const checkers = new WeakMap<Policy, FileChecker>();

function checkerFor(policy: Policy): FileChecker {
  let c = checkers.get(policy);
  if (!c) checkers.set(policy, (c = fileChecker(policy)));
  return c;
}

function accessOf(op: FileOp): FileAccess {
  return op.op === 'edit' ? 'write' : op.op;
}

/**
 * Runs one file operation as the next step of the run. Denied or held operations throw
 * `validation_denied` / `validation_ask` (data: step, rule, reason), as commands do; a held write
 * runs once after `airlock approve`, when the same operation (same path and content) is sent again.
 */
export async function fileStep(desk: StepDesk, req: ApiFileRequest): Promise<FileResult> {
  const { record, step } = await desk.nextStep(req.runId);
  const text = fileOpText(req.file, sha256Hex);
  await desk.log(req.runId).append({ type: 'step.requested', step, cmd: desk.redact(text) });
  const verdict = checkerFor(desk.policy).check(record.mountPath, req.file.path, accessOf(req.file));
  const { approved } = await desk.decide(req.runId, step, text, record.policyHash, record.mountPath, verdict);
  return desk.askRunner({
    record,
    step,
    subject: subjects.runnerFile(record.runnerId),
    body: { v: PROTOCOL_VERSION, runId: req.runId, step, file: req.file, policyHash: record.policyHash, token: desk.token(req.runId, step, record.policyHash, text, approved) },
    schema: FileResultSchema,
    timeoutMs: FILE_REPLY_MS,
    kind: 'file',
    waits: true,
  });
}
