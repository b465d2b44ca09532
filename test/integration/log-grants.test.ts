// Per-run log-writer grants (harness/src/natsauth) against a real nats-server in operator mode:
// a runner may append only to the log of a run it holds. The nats-server itself refuses another
// runner's publish (nothing is stored, the real writer's expected sequence is not disturbed), and a
// run that moves is writable by its new holder and no longer by the old one, also after a
// nats-server restart and a harness restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { RunLogWriter, ensureLogStream, readRunLog } from '@airlock/ledger';
import type { NatsHandles } from '@airlock/transport';
import { encode, names, subjects, type LogEvent, type LogEventInput } from '@airlock/proto';
import { decode, type Account } from '@nats-io/jwt';
import { LogWriterGrants } from '@airlock/harness';
import { ALL, OperatorNats } from '../operator-nats.ts';

const nats = new OperatorNats();
let harness: NatsHandles;
let system: NatsConnection;
let grants: LogWriterGrants;
let counter = 0;
const newRunId = () => `01GRANT${process.pid.toString(36).toUpperCase()}${String(++counter).padStart(4, '0')}`.slice(0, 26).padEnd(26, '0');
const note = (reason: string): LogEventInput => ({ type: 'run.closed', reason });
const as: OperatorNats['as'] = (user, name) => nats.as(user, name);

/** The events stored on a run's log subject, read with the harness's (full-rights) user. */
async function stored(runId: string): Promise<LogEvent[]> {
  const out: LogEvent[] = [];
  for await (const e of readRunLog(harness.js, harness.jsm, runId)) out.push(e);
  return out;
}

beforeAll(async () => {
  await nats.start();
  harness = await as(await nats.authority.mint('harness', ALL), 'grants-harness');
  await ensureLogStream(harness.jsm);
  system = await nats.system();
  grants = new LogWriterGrants(nats.authority, system);
});

afterAll(async () => {
  await nats[Symbol.asyncDispose]();
});

describe('log-writer grants: a runner appends only to the runs it holds', () => {
  it('the holder appends; another runner\'s grant is refused by the server and nothing is stored', async () => {
    const run = newRunId();
    const own = newRunId();
    const a = await as(await grants.grant('runner-a', run), 'writer-a');
    const b = await as(await grants.grant('runner-b', own), 'writer-b');

    await new RunLogWriter(a.js, a.jsm, run, { by: 'runner:runner-a' }).append(note('a wrote this'));

    // A raw publish with runner B's grant: the server answers with a permissions violation.
    const forged = encode({ forged: true });
    await expect(b.js.publish(subjects.log(run), forged, { timeout: 5000 })).rejects.toThrow(/permission/i);
    // The real writer path with B's grant gives up with a typed error, writing nothing.
    const bWriter = new RunLogWriter(b.js, b.jsm, run, { by: 'runner:runner-b', giveUpAfterMs: 3000, retryDelayMs: 100 });
    await expect(bWriter.append(note('b forged this'))).rejects.toMatchObject({ code: 'log_unavailable' });
    // B may still write its own run.
    await new RunLogWriter(b.js, b.jsm, own, { by: 'runner:runner-b' }).append(note('b on its own run'));

    // Only A's event is on the run's subject; A goes on at seq 2 with no conflict to resolve.
    const info = await harness.jsm.streams.info(names.logStream, { subjects_filter: subjects.log(run) });
    expect(info.state.subjects?.[subjects.log(run)]).toBe(1);
    await new RunLogWriter(a.js, a.jsm, run, { by: 'runner:runner-a' }).append(note('a again'));
    expect((await stored(run)).map((e) => [e.seq, e.by])).toEqual([[1, 'runner:runner-a'], [2, 'runner:runner-a']]);
    expect((await stored(own)).map((e) => e.by)).toEqual(['runner:runner-b']);
  });

  it('a run that moves: the new holder writes, the old holder is disconnected and refused at once', async () => {
    const run = newRunId();
    const oldGrant = await grants.grant('runner-a', run);
    const old = await as(oldGrant, 'writer-old');
    await new RunLogWriter(old.js, old.jsm, run, { by: 'runner:runner-a' }).append(note('before the move'));

    const newGrant = await grants.grant('runner-b', run);
    const closed = old.nc.closed();
    await grants.revoke(oldGrant);
    // The server closes the old holder's connection as soon as the update lands.
    expect(String(await closed)).toMatch(/revoked/i);
    await expect(as(oldGrant, 'writer-old-again')).rejects.toThrow(/revoked|authoriz/i);

    const moved = await as(newGrant, 'writer-new');
    await new RunLogWriter(moved.js, moved.jsm, run, { by: 'runner:runner-b' }).append(note('after the move'));
    expect((await stored(run)).map((e) => [e.seq, e.by])).toEqual([[1, 'runner:runner-a'], [2, 'runner:runner-b']]);
  });

  it('revocations hold across a nats-server restart and a harness restart', async () => {
    const run = newRunId();
    const first = await grants.grant('runner-a', run);
    await grants.revoke(first);

    // nats-server restart with its config written anew (as `./airlock up` does): the full resolver
    // kept the pushed account JWT on disk, and the preload (made once) is older than it.
    await nats.stop();
    await nats.start();
    await expect(as(first, 'writer-after-restart')).rejects.toThrow(/revoked|authoriz/i);

    // Harness restart: a new grants desk reads the stored list back and adds to it, losing none.
    harness = await as(await nats.authority.mint('harness', ALL), 'grants-harness-2');
    system = await nats.system();
    grants = new LogWriterGrants(nats.authority, system);
    const second = await grants.grant('runner-a', run);
    await grants.revoke(second);
    await expect(as(first, 'writer-first')).rejects.toThrow(/revoked|authoriz/i);
    await expect(as(second, 'writer-second')).rejects.toThrow(/revoked|authoriz/i);
    // A grant that was never revoked still logs in.
    const third = await as(await grants.grant('runner-b', run), 'writer-third');
    await new RunLogWriter(third.js, third.jsm, run, { by: 'runner:runner-b' }).append(note('third holder'));
    expect((await stored(run)).map((e) => e.by)).toEqual(['runner:runner-b']);
  });

  it('drops a revocation once every JWT it names has expired, and keeps the live ones', async () => {
    const short = new LogWriterGrants(nats.authority, system, { ttlMs: 1000 });
    const run = newRunId();
    const expired = await short.grant('runner-a', run);
    await short.revoke(expired);
    expect(Object.keys(await storedRevocations())).toContain(expired.publicKey);
    await new Promise((r) => setTimeout(r, 2500));
    const live = await short.grant('runner-b', run);
    await short.revoke(live);
    const now = await storedRevocations();
    expect(Object.keys(now)).toContain(live.publicKey);
    expect(Object.keys(now)).not.toContain(expired.publicKey);
    // The expired grant stays refused: its JWT has expired.
    await expect(as(expired, 'writer-expired')).rejects.toThrow(/expired|authoriz|closed/i);
  });
});

/** The revocations in the account JWT the server holds (what the harness's next update starts from). */
async function storedRevocations(): Promise<Record<string, number>> {
  const reply = await system.request(`$SYS.REQ.ACCOUNT.${nats.authority.accountId}.CLAIMS.LOOKUP`, undefined, { timeout: 5000 });
  return decode<Account>(reply.string()).nats.revocations ?? {};
}
