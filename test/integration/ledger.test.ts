// The run ledger against a real nats-server: nothing lost, nothing doubled, every break in a log
// found. Lost acknowledgements are injected by a JetStream client whose publish reaches the server
// (and is stored) but whose answer never comes back, as when a connection drops at that moment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError, GENESIS_HASH, LogEventSchema, PROTOCOL_VERSION, encode, sha256Hex, subjects, type LogEvent, type LogEventInput } from '@airlock/proto';
import { connectNats, type NatsHandles } from '@airlock/transport';
import {
  RunLogWriter,
  ensureAuditStream,
  ensureLogStream,
  indexVerdict,
  logTail,
  readAudit,
  readRunLog,
  readRunLogRaw,
} from '@airlock/ledger';
import { NatsServer, waitUntil } from '../fixtures.ts';

type JetStreamClient = NatsHandles['js'];
/** What a publish whose answer never came looks like to its caller. */
const noAck = () => Object.assign(new Error('TIMEOUT'), { name: 'TimeoutError' });

let nats: NatsServer;
let conn: NatsHandles;

beforeAll(async () => {
  nats = await NatsServer.start();
  conn = await connectNats({ servers: nats.url, name: 'ledger-test' });
  await ensureLogStream(conn.jsm);
  await ensureAuditStream(conn.jsm);
});

afterAll(async () => {
  await conn?.drain();
  await nats?.[Symbol.asyncDispose]();
});

let counter = 0;
/** A fresh run id (ULID-shaped, unique per test). */
const newRunId = () => `01TEST${process.pid.toString(36).toUpperCase().padStart(6, '0')}${String(++counter).padStart(4, '0')}`.slice(0, 26).padEnd(26, '0');

const note = (reason: string): LogEventInput => ({ type: 'run.closed', reason });

async function readAll(runId: string): Promise<LogEvent[]> {
  const out: LogEvent[] = [];
  for await (const e of readRunLog(conn.js, conn.jsm, runId)) out.push(e);
  return out;
}

/** The chain as stored: seq 1..n, each naming the hash of the bytes before it. */
async function expectWholeChain(runId: string): Promise<LogEvent[]> {
  const raw = await readRunLogRaw(conn.js, conn.jsm, runId);
  let prev = GENESIS_HASH;
  const events = raw.map((bytes, i) => {
    const e = LogEventSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
    expect({ seq: e.seq, prev: e.prev }).toEqual({ seq: i + 1, prev });
    prev = sha256Hex(bytes);
    return e;
  });
  // The reader checks the same and must agree.
  expect(await readAll(runId)).toEqual(events);
  return events;
}

type Fault = 'ack-lost' | 'held' | undefined;

/**
 * A JetStream client whose n-th publish (1-based, as chosen by `fault`) misbehaves:
 * - `ack-lost`: the message goes to the server and is stored, then the caller gets a timeout;
 * - `held`: the message does not go out now and the caller gets a timeout; it goes out (and is
 *   stored) just before the next publish, as a publish delayed in the network or a cluster would.
 * `onLost` runs after an `ack-lost` publish was stored, before the caller sees the timeout.
 */
function faultyJs(js: JetStreamClient, fault: (n: number) => Fault, onLost?: () => Promise<void>): { js: JetStreamClient; publishes: () => number } {
  let n = 0;
  let held: (() => Promise<unknown>) | undefined;
  const publish: JetStreamClient['publish'] = async (subject, data, opts) => {
    const f = fault(++n);
    if (held) {
      const late = held;
      held = undefined;
      await late();
    }
    if (f === 'held') {
      held = () => js.publish(subject, data, opts);
      throw noAck();
    }
    const ack = await js.publish(subject, data, opts);
    if (f === 'ack-lost') {
      await onLost?.();
      throw noAck();
    }
    return ack;
  };
  const proxy = new Proxy(js, { get: (target, key) => (key === 'publish' ? publish : (Reflect.get(target, key, target) as unknown)) });
  return { js: proxy, publishes: () => n };
}

describe('RunLogWriter: lost acknowledgements', () => {
  it('adopts a publish that was stored but not acknowledged instead of appending it again', async () => {
    const runId = newRunId();
    const faulty = faultyJs(conn.js, (n) => (n === 2 ? 'ack-lost' : undefined));
    const w = new RunLogWriter(faulty.js, conn.jsm, runId, { by: 'runner:a' });
    const returned = [await w.append(note('one')), await w.append(note('two')), await w.append(note('three'))];
    const stored = await expectWholeChain(runId);
    expect(stored.map((e) => (e.type === 'run.closed' ? e.reason : e.type))).toEqual(['one', 'two', 'three']);
    // What the writer answered is what is stored, byte for byte (the lost-ack append included).
    expect(returned).toEqual(stored);
    expect(w.seq).toBe(3);
  });

  it('adopts it also when another writer appended on top before the retry', async () => {
    const runId = newRunId();
    const other = new RunLogWriter(conn.js, conn.jsm, runId, { by: 'harness', expectOthers: true });
    const faulty = faultyJs(conn.js, (n) => (n === 2 ? 'ack-lost' : undefined), async () => {
      await other.append(note('harness wrote in between'));
    });
    const w = new RunLogWriter(faulty.js, conn.jsm, runId, { by: 'runner:a' });
    await w.append(note('one'));
    const two = await w.append(note('two'));
    await w.append(note('three'));
    const stored = await expectWholeChain(runId);
    expect(stored.map((e) => `${e.by}:${e.type === 'run.closed' ? e.reason : ''}`)).toEqual([
      'runner:a:one',
      'runner:a:two',
      'harness:harness wrote in between',
      'runner:a:three',
    ]);
    expect(two).toEqual(stored[1]);
  });

  it('resends an unacknowledged publish unchanged, so a late copy of it cannot fork the chain', async () => {
    const runId = newRunId();
    // The second publish is held back and delivered late, right before the writer's resend of it.
    const faulty = faultyJs(conn.js, (n) => (n === 2 ? 'held' : undefined));
    const w = new RunLogWriter(faulty.js, conn.jsm, runId, { by: 'runner:a' });
    const returned = [await w.append(note('one')), await w.append(note('two')), await w.append(note('three'))];
    const stored = await expectWholeChain(runId);
    expect(stored.map((e) => (e.type === 'run.closed' ? e.reason : ''))).toEqual(['one', 'two', 'three']);
    expect(returned).toEqual(stored);
  });

  it('gives up with log_unavailable when JetStream never answers, and a sequence then refuses its later appends unwritten', async () => {
    const runId = newRunId();
    let down = true;
    // While down, nothing reaches JetStream and no answer comes.
    const never: JetStreamClient = new Proxy(conn.js, {
      get: (t, k) =>
        k === 'publish'
          ? (...args: Parameters<JetStreamClient['publish']>) => (down ? Promise.reject(noAck()) : conn.js.publish(...args))
          : (Reflect.get(t, k, t) as unknown),
    });
    const w = new RunLogWriter(never, conn.jsm, runId, { by: 'runner:a', maxAttempts: 3, giveUpAfterMs: 2000 });
    const seq = w.sequence();
    const first = seq.append(note('lost'));
    const second = seq.append(note('after the loss'));
    const err = await first.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AirlockError);
    expect((err as AirlockError).code).toBe('log_unavailable');
    down = false;
    // The later append of the sequence is refused even though JetStream answers again.
    expect(((await second.catch((e: unknown) => e)) as AirlockError).code).toBe('log_unavailable');
    // The writer itself goes on.
    await w.append(note('the end'));
    const stored = await expectWholeChain(runId);
    expect(stored.map((e) => (e.type === 'run.closed' ? e.reason : ''))).toEqual(['the end']);
  });

  it('refuses an append whose signal aborted before it was sent', async () => {
    const runId = newRunId();
    const w = new RunLogWriter(conn.js, conn.jsm, runId, { by: 'runner:a' });
    const ac = new AbortController();
    ac.abort(new Error('step stopped'));
    const err = (await w.append(note('x'), { signal: ac.signal }).catch((e: unknown) => e)) as AirlockError;
    expect(err.code).toBe('log_unavailable');
    expect(await readAll(runId)).toEqual([]);
  });
});

describe('RunLogWriter: several writers', () => {
  it('two writers racing on one run never claim the same seq and lose nothing', async () => {
    const runId = newRunId();
    const a = new RunLogWriter(conn.js, conn.jsm, runId, { by: 'runner:a' });
    const b = new RunLogWriter(conn.js, conn.jsm, runId, { by: 'harness', expectOthers: true });
    const N = 25;
    await Promise.all([
      Promise.all(Array.from({ length: N }, (_, i) => a.append(note(`a${i}`)))),
      Promise.all(Array.from({ length: N }, (_, i) => b.append(note(`b${i}`)))),
    ]);
    const stored = await expectWholeChain(runId);
    expect(stored).toHaveLength(2 * N);
    const reasons = stored.map((e) => (e.type === 'run.closed' ? e.reason : ''));
    expect(reasons.filter((r) => r.startsWith('a'))).toEqual(Array.from({ length: N }, (_, i) => `a${i}`));
    expect(reasons.filter((r) => r.startsWith('b'))).toEqual(Array.from({ length: N }, (_, i) => `b${i}`));
  });

  it('a writer that lost its ack while the other writer races still stores each event once', async () => {
    const runId = newRunId();
    const faulty = faultyJs(conn.js, (n) => (n % 3 === 0 ? 'ack-lost' : n % 5 === 0 ? 'held' : undefined));
    const a = new RunLogWriter(faulty.js, conn.jsm, runId, { by: 'runner:a' });
    const b = new RunLogWriter(conn.js, conn.jsm, runId, { by: 'harness', expectOthers: true });
    const N = 12;
    await Promise.all([
      Promise.all(Array.from({ length: N }, (_, i) => a.append(note(`a${i}`)))),
      Promise.all(Array.from({ length: N }, (_, i) => b.append(note(`b${i}`)))),
    ]);
    const stored = await expectWholeChain(runId);
    const reasons = stored.map((e) => (e.type === 'run.closed' ? e.reason : ''));
    expect(reasons.filter((r) => r.startsWith('a'))).toEqual(Array.from({ length: N }, (_, i) => `a${i}`));
    expect(reasons.filter((r) => r.startsWith('b'))).toEqual(Array.from({ length: N }, (_, i) => `b${i}`));
    expect(faulty.publishes()).toBeGreaterThan(N);
  });
});

/** Publishes an event as given (no writer): how a broken or forged log is made for the reader. */
async function raw(runId: string, seq: number, prev: string, reason: string): Promise<Uint8Array> {
  const bytes = encode({ v: PROTOCOL_VERSION, runId, seq, ts: new Date().toISOString(), by: 'forger', prev, type: 'run.closed', reason });
  await conn.js.publish(subjects.log(runId), bytes);
  return bytes;
}

describe('readRunLog: a broken log is a typed error', () => {
  it('finds a gap', async () => {
    const runId = newRunId();
    const one = await raw(runId, 1, GENESIS_HASH, 'one');
    await raw(runId, 3, sha256Hex(one), 'three');
    const err = (await readAll(runId).catch((e: unknown) => e)) as AirlockError;
    expect(err).toBeInstanceOf(AirlockError);
    expect(err.code).toBe('verification_failed');
    expect(err.data).toMatchObject({ expected: 2, got: 3 });
  });

  it('finds a duplicate', async () => {
    const runId = newRunId();
    const one = await raw(runId, 1, GENESIS_HASH, 'one');
    await raw(runId, 2, sha256Hex(one), 'two');
    await raw(runId, 2, sha256Hex(one), 'two again');
    const err = (await readAll(runId).catch((e: unknown) => e)) as AirlockError;
    expect(err.code).toBe('verification_failed');
    expect(err.message).toMatch(/duplicate/);
  });

  it('finds an event that does not name the hash of the one before it', async () => {
    const runId = newRunId();
    await raw(runId, 1, GENESIS_HASH, 'one');
    await raw(runId, 2, 'f'.repeat(64), 'two');
    const err = (await readAll(runId).catch((e: unknown) => e)) as AirlockError;
    expect(err.code).toBe('verification_failed');
    expect(err.data).toMatchObject({ seq: 2 });
  });

  it('finds a log whose beginning is missing', async () => {
    const runId = newRunId();
    await raw(runId, 2, 'a'.repeat(64), 'two');
    const err = (await readAll(runId).catch((e: unknown) => e)) as AirlockError;
    expect(err.code).toBe('verification_failed');
  });
});

describe('readRunLog: replay and follow', () => {
  it('replays from a seq, from a stream position, and follows live appends until told to stop', async () => {
    const runId = newRunId();
    const w = new RunLogWriter(conn.js, conn.jsm, runId, { by: 'runner:a' });
    for (let i = 1; i <= 5; i++) await w.append(note(`e${i}`));
    const reasons = (es: LogEvent[]) => es.map((e) => (e.type === 'run.closed' ? e.reason : ''));

    const fromThree: LogEvent[] = [];
    for await (const e of readRunLog(conn.js, conn.jsm, runId, { fromSeq: 3 })) fromThree.push(e);
    expect(reasons(fromThree)).toEqual(['e3', 'e4', 'e5']);

    const tail = await logTail(conn.jsm, runId);
    expect(tail.seq).toBe(5);
    const afterTail: LogEvent[] = [];
    for await (const e of readRunLog(conn.js, conn.jsm, runId, { fromStreamSeq: tail.streamSeq + 1 })) afterTail.push(e);
    expect(afterTail).toEqual([]);

    // A follower from the tail sees what is appended later, in order, and stops at `until`.
    const followed: LogEvent[] = [];
    const following = (async () => {
      for await (const e of readRunLog(conn.js, conn.jsm, runId, { fromStreamSeq: tail.streamSeq + 1, follow: true, until: (e) => e.type === 'run.closed' && e.reason === 'e8' })) followed.push(e);
    })();
    for (let i = 6; i <= 9; i++) await w.append(note(`e${i}`));
    await following;
    expect(reasons(followed)).toEqual(['e6', 'e7', 'e8']);

    // A follower waiting at the end stops when its signal aborts.
    const ac = new AbortController();
    const waiting: LogEvent[] = [];
    const idle = (async () => {
      for await (const e of readRunLog(conn.js, conn.jsm, runId, { fromSeq: 1, follow: true, signal: ac.signal })) waiting.push(e);
    })();
    await waitUntil('the follower to read the stored events', () => waiting.length === 9);
    ac.abort();
    await idle;
    expect(reasons(waiting)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9']);
  });

  it('a follower crosses a nats-server restart without gap or duplicate', async () => {
    const runId = newRunId();
    await using writerConn = await connectNats({ servers: nats.url, name: 'ledger-test-writer' });
    const w = new RunLogWriter(writerConn.js, writerConn.jsm, runId, { by: 'runner:a' });
    await w.append(note('before'));
    const seen: LogEvent[] = [];
    const following = (async () => {
      for await (const e of readRunLog(conn.js, conn.jsm, runId, { follow: true, until: (e) => e.type === 'run.closed' && e.reason === 'last' })) seen.push(e);
    })();
    await waitUntil('the follower to start', () => seen.length === 1);
    // Appends go on while the server restarts: each is stored exactly once.
    const appends = (async () => {
      for (let i = 0; i < 20; i++) {
        await w.append(note(`during${i}`));
        await new Promise((r) => setTimeout(r, 50));
      }
      await w.append(note('last'));
    })();
    await new Promise((r) => setTimeout(r, 300));
    await nats.restart();
    await appends;
    await following;
    const stored = await expectWholeChain(runId);
    expect(stored.map((e) => (e.type === 'run.closed' ? e.reason : ''))).toEqual(['before', ...Array.from({ length: 20 }, (_, i) => `during${i}`), 'last']);
    expect(seen).toEqual(stored);
  });
});

describe('audit index', () => {
  it('indexes verdicts once each and reads them back by verdict, run and rule', async () => {
    const runA = newRunId();
    const runB = newRunId();
    const verdict = (runId: string, seq: number, v: 'allow' | 'ask' | 'deny', rule: string) =>
      ({ v: PROTOCOL_VERSION, runId, seq, ts: new Date().toISOString(), by: 'runner:a', prev: GENESIS_HASH, type: 'step.verdict', step: seq, cmd: `cmd${seq}`, verdict: v, rule, reason: 'r', policyHash: 'p' }) as const;
    const events = [verdict(runA, 1, 'deny', 'net.curl'), verdict(runA, 2, 'ask', 'fs.write'), verdict(runB, 1, 'deny', 'exec.eval'), verdict(runB, 2, 'allow', 'policy.allow')];
    for (const e of events) await indexVerdict(conn.js, e);
    // Indexing the same event again (a retried index call) stores nothing new.
    await indexVerdict(conn.js, events[0]!);

    const read = async (q: Parameters<typeof readAudit>[2]) => {
      const out: string[] = [];
      for await (const e of readAudit(conn.js, conn.jsm, q)) if (e.runId === runA || e.runId === runB) out.push(`${e.runId === runA ? 'A' : 'B'}${e.seq}:${e.rule}`);
      return out;
    };
    expect(await read({ verdict: 'deny' })).toEqual(['A1:net.curl', 'B1:exec.eval']);
    expect(await read({ runId: runA })).toEqual(['A1:net.curl', 'A2:fs.write']);
    expect(await read({ rule: 'exec.eval' })).toEqual(['B1:exec.eval']);
    expect(await read({})).toEqual(['A1:net.curl', 'A2:fs.write', 'B1:exec.eval', 'B2:policy.allow']);
    expect(await read({ since: new Date(Date.now() + 60_000) })).toEqual([]);
  });
});
