import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { HARNESS_HEARTBEAT_MS, PROTOCOL_VERSION, encode, subjects, type HarnessHeartbeat } from '@airlock/proto';

/**
 * Publishes the harness's heartbeat every `intervalMs` until stopped. Clients waiting on a reply
 * (`@airlock/client`) watch it and fail with `harness_lost` within seconds of the harness dying,
 * instead of waiting out a step's timeout. A publish that fails (NATS away) is skipped: silence is
 * the signal.
 */
export function startHarnessHeartbeat(nc: NatsConnection, opts: { startedAt: string; intervalMs?: number }): { stop(): void } {
  const intervalMs = opts.intervalMs ?? HARNESS_HEARTBEAT_MS;
  const instance = randomBytes(8).toString('hex');
  const beat = () => {
    const hb: HarnessHeartbeat = { v: PROTOCOL_VERSION, instance, startedAt: opts.startedAt, ts: new Date().toISOString(), intervalMs };
    try {
      nc.publish(subjects.harnessHeartbeat, encode(hb));
    } catch {
      // closed or draining connection: the harness is stopping, and clients should hear silence
    }
  };
  beat();
  const timer = setInterval(beat, intervalMs);
  return { stop: () => clearInterval(timer) };
}
