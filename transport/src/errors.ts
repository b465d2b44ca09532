// What went wrong on the wire, decided from the NATS client's error classes and JetStream's API
// error codes, never from message text: texts change between client releases and languages
// (issue 11, point 8). Each predicate names one fact callers branch on.
import { JetStreamApiError } from '@nats-io/jetstream';
import { errors } from '@nats-io/transport-node';

/**
 * JetStream API error codes (`err_code` of the server's reply) Airlock branches on. The client
 * exports a few as `JetStreamApiCodes`; the server defines them all (`server/errors.json`).
 */
export const jetStreamCodes = {
  /** `streams.info`/`delete` of a stream that does not exist. */
  streamNotFound: 10059,
  /** `streams.add` of a name that exists with another configuration. */
  streamNameInUse: 10058,
  /** A get of a message that does not exist. */
  noMessageFound: 10037,
  /** A publish whose `expect.lastSubjectSequence` (or `lastSequence`) did not hold. */
  wrongLastSequence: 10071,
} as const;
export type JetStreamCode = (typeof jetStreamCodes)[keyof typeof jetStreamCodes];

/**
 * A request found nobody subscribed to its subject (the server's 503 status). The client raises
 * a `RequestError` whose cause is a `NoRespondersError`; both forms count.
 */
export function isNoResponders(err: unknown): boolean {
  return err instanceof errors.NoRespondersError || (err instanceof errors.RequestError && err.isNoResponders());
}

/** A request (or another client operation with a deadline) got no answer in time. */
export function isTimeout(err: unknown): boolean {
  return err instanceof errors.TimeoutError || (err instanceof errors.RequestError && err.cause instanceof errors.TimeoutError);
}

/** The JetStream API refused with this error code (see {@link jetStreamCodes}). */
export function isJetStreamError(err: unknown, code: JetStreamCode): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}
