// The SDK's error classes. Every failure a call can end with is an `AirlockError` (from proto) with a
// stable `code` from proto's error table and its `retryable`; the subclasses add typed fields for
// the failures callers branch on. Wire errors become these at one point: `fromWire`.
import { errors as natsErrors } from '@nats-io/transport-node';
import { AirlockError, type WireError } from '@airlock/proto';

/** Where in a run a failure happened, when the SDK knows it. */
interface StepData {
  step?: number;
  rule?: string;
  reason?: string;
  span?: { start: number; end: number };
}

function stepData(err: AirlockError): StepData {
  return (err.data ?? {}) as StepData;
}

/**
 * The validation chain denied the command (code `validation_denied`): it never reached a sandbox,
 * so there is no exit code. `rule` is the stable rule id (e.g. `exec.remote_code`), `reason` says why
 * in words, `span` marks the offending part of the command. Not retryable: the same command is
 * denied again. An operator's rejection of a held step is one too (`rule` `approval.rejected`).
 */
export class PolicyDeniedError extends AirlockError {
  override readonly name: string = 'PolicyDeniedError';
  readonly step: number | undefined;
  readonly rule: string;
  readonly reason: string;
  readonly span: { start: number; end: number } | undefined;

  constructor(message: string, data: Record<string, unknown> = {}, options: { cause?: unknown } = {}) {
    super('validation_denied', message, { data, ...options });
    const d = stepData(this);
    this.step = d.step;
    this.rule = d.rule ?? 'unknown';
    this.reason = d.reason ?? message;
    this.span = d.span;
  }
}

/**
 * The command is held for an operator's approval (code `validation_ask`); it did not run. Once an
 * operator approves step `step` (`airlock approve RUN STEP`), the same command runs once on its next
 * `exec`; `exec(cmd, { waitForApprovalMs })` waits for that decision and re-sends it.
 */
export class ApprovalRequiredError extends AirlockError {
  override readonly name: string = 'ApprovalRequiredError';
  readonly step: number | undefined;
  readonly rule: string;
  readonly reason: string;

  constructor(message: string, data: Record<string, unknown> = {}, options: { cause?: unknown } = {}) {
    super('validation_ask', message, { data, ...options });
    const d = stepData(this);
    this.step = d.step;
    this.rule = d.rule ?? 'unknown';
    this.reason = d.reason ?? message;
  }
}

/**
 * The harness went silent while a call waited on it (code `harness_lost`, retryable): no heartbeat
 * for the client's `harnessLostMs`. A step it had sent may still finish on its runner: when `step`
 * is set, `run.result(step)` reads its outcome from the run log (which needs no harness).
 */
export class HarnessLostError extends AirlockError {
  override readonly name: string = 'HarnessLostError';
  readonly step: number | undefined;

  constructor(message: string, data: Record<string, unknown> = {}, options: { cause?: unknown } = {}) {
    super('harness_lost', message, { data, ...options });
    this.step = stepData(this).step;
  }
}

/**
 * The runner holding the run was lost (code `runner_lost`, retryable). When the step had started,
 * it was cut short (`step.lost` in the log) and is not re-run by the SDK; the run itself moves to
 * another runner from its last snapshot. A step that never started is re-sent after the move.
 */
export class RunnerLostError extends AirlockError {
  override readonly name: string = 'RunnerLostError';
  readonly step: number | undefined;

  constructor(message: string, data: Record<string, unknown> = {}, options: { cause?: unknown } = {}) {
    super('runner_lost', message, { data, ...options });
    this.step = stepData(this).step;
  }
}

/** A wire error (a reply's `error`) as the SDK's class for its code. */
export function fromWire(err: WireError): AirlockError {
  const data = err.data ?? {};
  switch (err.code) {
    case 'validation_denied':
      return new PolicyDeniedError(err.message, data);
    case 'validation_ask':
      return new ApprovalRequiredError(err.message, data);
    case 'harness_lost':
      return new HarnessLostError(err.message, data);
    case 'runner_lost':
      return new RunnerLostError(err.message, data);
    default:
      return AirlockError.fromWire(err);
  }
}

/** `AirlockError`s of the base class become their SDK subclass (same code, message and data). */
export function refine(err: unknown): unknown {
  if (!(err instanceof AirlockError) || err.constructor !== AirlockError) return err;
  const typed = fromWire(err.toWire());
  if (typed.constructor === AirlockError) return err;
  if (err.cause !== undefined) Object.defineProperty(typed, 'cause', { value: err.cause, configurable: true, writable: true });
  return typed;
}

// The two NATS facts the SDK branches on, by the client's error classes (never message text).
// Copied from @airlock/transport (three lines) rather than depending on it: transport is the
// services' package (request serving, JetStream codes) and is not published.

/** A request found nobody subscribed to its subject. */
export function isNoResponders(err: unknown): boolean {
  return err instanceof natsErrors.NoRespondersError || (err instanceof natsErrors.RequestError && err.isNoResponders());
}

/** A request got no answer in time. */
export function isTimeout(err: unknown): boolean {
  return err instanceof natsErrors.TimeoutError || (err instanceof natsErrors.RequestError && err.cause instanceof natsErrors.TimeoutError);
}

/** What an aborted wait rejects with: the signal's reason (an `AbortError` DOMException by default). */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new DOMException(String(r ?? 'This operation was aborted'), 'AbortError');
}
