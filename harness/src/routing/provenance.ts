import type { KeyObject } from 'node:crypto';
import { DeliverPolicy } from '@nats-io/jetstream';
import { LogEventSchema, names, subjects } from '@airlock/proto';
import type { LogEvent } from '@airlock/proto';
import type { NatsHandles } from '@airlock/transport';
import { verifyHarnessLog, verifyLogSignature } from '@airlock/trust';
import type { RunnerKeyStore } from './runner-keys.ts';

/** One event of a run's log with the verdict on who wrote it. */
export interface CheckedEvent {
  event: LogEvent;
  /** Exact stored bytes. */
  bytes: Uint8Array;
  /** Null when its writer is proven; else why it is not trusted. */
  forged: string | null;
}

/**
 * Reads a run's log with each event's writer signature and checks it.
 *
 * NATS lets every runner publish to every run's log subject (static permissions cannot follow run
 * assignment), so this is where "a runner writes only the logs of runs it holds" is enforced: an
 * event counts only if it is signed by the harness (`by: harness`) or by a runner that held the run
 * (`by: runner:<id>`, signed with that runner's pinned key, and `<id>` the run's holder now or one
 * the harness itself recorded as lost on it). Anything else is reported as forged.
 */
export async function checkRunLog(
  nats: NatsHandles,
  runId: string,
  opts: { holder: string; harnessKey: KeyObject; runners: RunnerKeyStore },
): Promise<CheckedEvent[]> {
  const subject = subjects.log(runId);
  const last = await nats.jsm.streams.getMessage(names.logStream, { last_by_subj: subject });
  if (last === null) return [];
  const consumer = await nats.js.consumers.get(names.logStream, { filter_subjects: subject, deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 256 });
  const raw: Array<{ bytes: Uint8Array; sig: string | undefined }> = [];
  try {
    for await (const m of messages) {
      raw.push({ bytes: new Uint8Array(m.data), sig: m.headers?.get(names.logSignatureHeader) || undefined });
      if (m.seq >= last.seq) break;
    }
  } finally {
    messages.stop();
  }
  const events = raw.map(({ bytes, sig }) => ({ bytes, sig, event: LogEventSchema.parse(JSON.parse(new TextDecoder().decode(bytes))) }));
  const harnessSigned = events.map(({ event, bytes, sig }) => event.by === 'harness' && verifyHarnessLog(opts.harnessKey, bytes, sig));
  // Runners the harness itself declared lost on this run, or suspended it on, held it before it moved.
  const holders = new Set([opts.holder]);
  events.forEach(({ event }, i) => {
    if (harnessSigned[i] && (event.type === 'runner.lost' || event.type === 'run.suspended')) holders.add(event.runnerId);
  });
  const out: CheckedEvent[] = [];
  for (const [i, { bytes, sig, event }] of events.entries()) {
    let forged: string | null = null;
    if (event.by === 'harness') {
      if (!harnessSigned[i]) forged = sig ? 'harness signature does not verify' : 'unsigned (claims to be the harness)';
    } else if (event.by.startsWith('runner:')) {
      const id = event.by.slice('runner:'.length);
      const keys = opts.runners.get(id);
      if (!keys) forged = `runner ${id} has no known keys`;
      else if (!verifyLogSignature(keys, bytes, sig)) forged = sig ? `signature does not verify under runner ${id}'s key` : `unsigned (claims to be runner ${id})`;
      else if (!holders.has(id)) forged = `runner ${id} does not hold this run (held by ${[...holders].join(', ')})`;
    } else {
      forged = `unknown writer ${JSON.stringify(event.by)}`;
    }
    out.push({ event, bytes, forged });
  }
  return out;
}
