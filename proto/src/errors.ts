import { z } from 'zod';

/**
 * Every error code that can cross the wire, with whether a caller may retry the same request.
 * Callers decide retries from `code`, never from message text.
 */
export const errorCodes = {
  bad_request: { retryable: false, doc: 'The message did not match its schema; it was not processed.' },
  unknown_run: { retryable: false, doc: 'No live run has this id (never opened, or already closed).' },
  run_closed: { retryable: false, doc: 'The run was closed; open a new one.' },
  run_busy: { retryable: true, doc: 'A step of this run is still executing; steps of one run are serial.' },
  capacity_exhausted: { retryable: true, doc: 'Every runner slot is busy; retry later or add runners.' },
  no_harness: { retryable: true, doc: 'No harness answers on this NATS; start one with `./airlock up`.' },
  no_runner: { retryable: true, doc: 'No runner answered; start one (`./airlock up`) or check NATS.' },
  runner_lost: { retryable: true, doc: 'The runner holding this run stopped answering.' },
  image_not_found: { retryable: false, doc: 'The sandbox image is not present on the runner; build it (`make images`).' },
  image_invalid: { retryable: false, doc: 'The sandbox image declares something the runner cannot use (a malformed `airlock.executor` label); fix the image and rebuild it.' },
  workspace_invalid: { retryable: false, doc: 'The workspace path is not an absolute, existing directory on the runner host.' },
  runtime_unavailable: { retryable: false, doc: 'The run\'s policy asks for a sandbox runtime (e.g. `runsc`) the runner\'s container engine does not have; it is never replaced by another (`make setup` registers gVisor).' },
  sandbox_failed: { retryable: true, doc: 'The sandbox container could not be created or started.' },
  validation_denied: { retryable: false, doc: 'The command was denied by the validation chain.' },
  validation_ask: { retryable: false, doc: 'The command needs an operator approval before it may run.' },
  unauthorized: { retryable: false, doc: 'The request carried no valid job token (unsigned, forged, expired, replayed or for another step).' },
  secret_denied: { retryable: false, doc: 'The step asked for a secret the policy does not grant it, one the harness does not hold, one too short to redact, or one its sandbox cannot isolate (`docker exec` steps: `data.reason` no_isolation).' },
  verification_failed: { retryable: false, doc: 'A proof bundle or run log did not verify (missing, modified or out-of-order event, bad signature); nothing was run from it.' },
  policy_changed: { retryable: false, doc: 'The run was pinned to another policy than the harness enforces now; replay refuses unless the change is allowed (and recorded).' },
  unknown_approval: { retryable: false, doc: 'No step of this run is held for approval under that number.' },
  already_decided: { retryable: false, doc: 'The held step was already approved, rejected or used; decisions are final.' },
  forbidden: { retryable: false, doc: 'The caller\'s role or credential does not allow this request (an agent on an operator verb or on another agent\'s run, self-approval, a missing, forged or expired credential); it is refused and audited.' },
  run_paused: { retryable: true, doc: 'The run is paused (by an operator, a budget or a loop detector; `data.cause` says which): no step starts until an operator resumes it.' },
  invalid_state: { retryable: false, doc: 'The control does not apply in the run\'s state (resume of a running run, a budget below what is used, a control on a closed run).' },
  timeout: { retryable: true, doc: 'The request did not complete in time.' },
  log_unavailable: { retryable: true, doc: 'The run log could not be written (JetStream did not acknowledge within the writer\'s retries); nothing is run or reported as done without its log.' },
  file_not_found: { retryable: false, doc: 'A file tool\'s path does not exist (or a directory was given where a file is needed).' },
  file_too_large: { retryable: false, doc: 'A file is larger than a file tool handles in one call (`read` returns a capped part instead; an edit refuses).' },
  edit_no_match: { retryable: false, doc: 'An edit\'s search text is not in the file; `data.nearest` names the closest text and its line.' },
  edit_ambiguous: { retryable: false, doc: 'An edit\'s search text occurs more than once; say which (`occurrence`) or `all`, or add context.' },
  file_changed: { retryable: true, doc: 'The file changed between an edit\'s read and its write (a process of the run wrote it); nothing was written, edit again.' },
  unknown_process: { retryable: false, doc: 'The run has no process (step started with `yieldMs`) with that id.' },
  file_tools_unavailable: { retryable: false, doc: 'The sandbox image has no `python3`, which the file tools run inside the sandbox with.' },
  internal: { retryable: true, doc: 'An unexpected failure; the log names it.' },
  harness_lost: { retryable: true, doc: 'The harness stopped sending heartbeats while a call waited on it (it died, or this client lost NATS). A step it was running may still finish: its outcome is in the run log (`run.result(step)`).' },
  unsupported: { retryable: false, doc: 'The deployment does not offer this call yet (the SDK method names what is missing).' },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export const ErrorCodeSchema = z.enum(Object.keys(errorCodes) as [ErrorCode, ...ErrorCode[]]);

/** The serialisable form of an error as it crosses NATS. */
export const WireErrorSchema = z.object({
  code: ErrorCodeSchema,
  message: z.string(),
  retryable: z.boolean(),
  data: z.record(z.string(), z.unknown()).optional(),
});
export type WireError = z.infer<typeof WireErrorSchema>;

/** A local error carrying a wire code. Both sides throw it; `toWire` / `fromWire` convert at the boundary. */
export class AirlockError extends Error {
  /** `AirlockError`, or the SDK's subclass name (`PolicyDeniedError`, `HarnessLostError`, …). */
  override readonly name: string = 'AirlockError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; data?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = errorCodes[code].retryable;
    this.data = options?.data;
  }

  toWire(): WireError {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.data ? { data: this.data } : {}),
    };
  }

  static fromWire(err: WireError): AirlockError {
    return new AirlockError(err.code, err.message, err.data ? { data: err.data } : undefined);
  }
}

/** Converts anything thrown into a wire error; unknown failures become `internal`. */
export function toWireError(err: unknown): WireError {
  if (err instanceof AirlockError) return err.toWire();
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal', message, retryable: true };
}
