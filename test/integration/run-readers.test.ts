// Per-run log readers (harness/src/natsauth/run-readers.ts) against a real nats-server in operator
// mode: a reader minted for an agent's run reads that run's log through the SDK's log reader (tail,
// whole log, live follow), and the server refuses its every JetStream way into another run's log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { RunLogWriter, ensureLogStream } from '@airlock/ledger';
import type { NatsHandles } from '@airlock/transport';
import { names, subjects, type LogEvent, type LogEventInput } from '@airlock/proto';
import { readerInboxPrefix, runReaderPermissions } from '@airlock/harness';
import { logTail, readLog } from '../../client/src/log.ts';
import { ALL, OperatorNats } from '../operator-nats.ts';

const nats = new OperatorNats();
const OWN = '01READOWN0000000000000000A';
const OTHER = '01READOTHER00000000000000B';
let harness: NatsHandles;
let reader: NatsHandles;
const note = (reason: string): LogEventInput => ({ type: 'runner.lost', runnerId: 'r', reason });
const reasons = (events: LogEvent[]) => events.map((e) => (e.type === 'runner.lost' ? e.reason : e.type));

async function all(it: AsyncIterable<LogEvent>): Promise<LogEvent[]> {
  const out: LogEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

beforeAll(async () => {
  await nats.start();
  harness = await nats.as(await nats.authority.mint('harness', ALL), 'readers-harness');
  await ensureLogStream(harness.jsm);
  const other = new RunLogWriter(harness.js, harness.jsm, OTHER, { by: 'harness' });
  for (const r of ['other secret 1', 'other secret 2']) await other.append(note(r));
  const own = new RunLogWriter(harness.js, harness.jsm, OWN, { by: 'harness' });
  for (const r of ['own 1', 'own 2']) await own.append(note(r));
  const inboxPrefix = readerInboxPrefix('agent one');
  reader = await nats.as({ ...(await nats.authority.mint('agent one: run reader', runReaderPermissions([OWN], inboxPrefix))), inboxPrefix }, 'reader');
});

afterAll(async () => {
  await nats[Symbol.asyncDispose]();
});

describe('per-run log readers: an agent reads its own run and no other', () => {
  it('reads its own run through the SDK reader: tail, whole log, and a live follow', async () => {
    const before = await logTail(reader.jsm, OWN);
    expect(before.seq).toBe(2);
    expect(reasons(await all(readLog(reader.js, reader.jsm, OWN, { follow: false })))).toEqual(['own 1', 'own 2']);

    // A follower from the tail sees an event appended after it started.
    const until = (e: LogEvent) => e.type === 'runner.lost' && e.reason === 'appended while following';
    const live = all(readLog(reader.js, reader.jsm, OWN, { fromStreamSeq: before.streamSeq + 1, until, signal: AbortSignal.timeout(30_000) }));
    await new RunLogWriter(harness.js, harness.jsm, OWN, { by: 'harness', expectOthers: true }).append(note('appended while following'));
    expect(reasons(await live)).toEqual(['appended while following']);
  });

  it('the server refuses every JetStream read of another run', async () => {
    const other = subjects.log(OTHER);
    // The SDK's own reader: its tail lookup is a direct get naming the other run's subject.
    await expect(all(readLog(reader.js, reader.jsm, OTHER, { follow: false }))).rejects.toThrow(/permission/i);
    await expect(logTail(reader.jsm, OTHER)).rejects.toThrow(/permission/i);
    // A consumer filtered on the other run, and one with no filter at all.
    const consumer = { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 5_000_000_000 };
    await expect(reader.jsm.consumers.add(names.logStream, { ...consumer, name: 'peek', filter_subject: other })).rejects.toThrow(/permission/i);
    await expect(reader.jsm.consumers.add(names.logStream, { ...consumer, name: 'peek-all' })).rejects.toThrow(/permission/i);
    // Body-addressed gets: by stream sequence, and last-by-subject in the body.
    await expect(reader.jsm.streams.getMessage(names.logStream, { seq: 1 })).rejects.toThrow(/permission/i);
    await expect(reader.jsm.direct.getMessage(names.logStream, { seq: 1 })).rejects.toThrow(/permission/i);
    await expect(reader.jsm.consumers.list(names.logStream).next()).rejects.toThrow(/permission/i);
    // The harness still sees both runs (nothing was lost by the refusals).
    expect(reasons(await all(readLog(harness.js, harness.jsm, OTHER, { follow: false })))).toEqual(['other secret 1', 'other secret 2']);
  });
});
