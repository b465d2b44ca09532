// The writer's bookkeeping under many schedules of lost, dropped and late publishes and of racing
// writers, against an in-memory stand-in for the parts of JetStream it relies on (per-subject
// expected sequence, publish-id de-duplication, MSG.GET last/next by subject). The same rules
// against a real nats-server: test/integration/ledger.test.ts.
import { describe, expect, it } from 'vitest';
import { JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { GENESIS_HASH, LogEventSchema, sha256Hex, subjects, type LogEvent } from '@airlock/proto';
import { RunLogWriter } from './writer.ts';

type Stored = { seq: number; subject: string; data: Uint8Array };
type PubOpts = { msgID?: string; expect?: { lastSubjectSequence?: number } };
type Fault = 'ok' | 'ack-lost' | 'dropped' | 'held';

/** A seeded PRNG (mulberry32), so a failing schedule can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const timeout = () => Object.assign(new Error('TIMEOUT'), { name: 'TimeoutError' });

/** What the writer needs of JetStream, in memory, with injectable faults. */
class FakeJetStream {
  readonly msgs: Stored[] = [];
  readonly #ids = new Map<string, number>();
  /** Publishes that went out but arrive later (delayed in the network). */
  readonly held: Array<() => void> = [];
  readonly pick: () => Fault;
  readonly chance: () => number;
  constructor(pick: () => Fault, chance: () => number) {
    this.pick = pick;
    this.chance = chance;
  }

  #apply(subject: string, data: Uint8Array, opts: PubOpts): { seq: number; duplicate: boolean } {
    const dup = opts.msgID === undefined ? undefined : this.#ids.get(opts.msgID);
    if (dup !== undefined) return { seq: dup, duplicate: true };
    const last = this.msgs.findLast((m) => m.subject === subject)?.seq ?? 0;
    if (opts.expect?.lastSubjectSequence !== undefined && opts.expect.lastSubjectSequence !== last) {
      throw new JetStreamApiError({ code: 400, err_code: 10071, description: `wrong last sequence: ${last}` });
    }
    const seq = this.msgs.length + 1;
    this.msgs.push({ seq, subject, data: new Uint8Array(data) });
    if (opts.msgID !== undefined) this.#ids.set(opts.msgID, seq);
    return { seq, duplicate: false };
  }

  /** Delivers some late publishes now (each may be stored, de-duplicated or refused). */
  #deliverLate(): void {
    while (this.held.length > 0 && this.chance() < 0.5) this.held.splice(Math.floor(this.chance() * this.held.length), 1)[0]!();
  }

  flushLate(): void {
    while (this.held.length > 0) this.held.shift()!();
  }

  readonly js = {
    publish: async (subject: string, data: Uint8Array, opts: PubOpts) => {
      await Promise.resolve();
      this.#deliverLate();
      const fault = this.pick();
      if (fault === 'dropped') throw timeout();
      if (fault === 'held') {
        this.held.push(() => {
          try {
            this.#apply(subject, data, opts);
          } catch {
            // Refused on arrival: nobody waits for the answer any more.
          }
        });
        throw timeout();
      }
      const r = this.#apply(subject, data, opts);
      if (fault === 'ack-lost') throw timeout();
      return { stream: 'AIRLOCK_LOG', seq: r.seq, duplicate: r.duplicate };
    },
  } as unknown as JetStreamClient;

  readonly jsm = {
    streams: {
      getMessage: async (_stream: string, q: { last_by_subj?: string; next_by_subj?: string; seq?: number }) => {
        await Promise.resolve();
        this.#deliverLate();
        if (this.chance() < 0.1) throw timeout();
        const found =
          q.last_by_subj !== undefined
            ? this.msgs.findLast((m) => m.subject === q.last_by_subj)
            : this.msgs.find((m) => m.subject === q.next_by_subj && m.seq >= (q.seq ?? 0));
        return found ? { seq: found.seq, data: found.data } : null;
      },
    },
  } as unknown as JetStreamManager;
}

/** Checks the stored log of `runId`: seq 1..n, each event naming the hash of the one before. */
function chainOf(fake: FakeJetStream, runId: string): LogEvent[] {
  let prev = GENESIS_HASH;
  return fake.msgs
    .filter((m) => m.subject === subjects.log(runId))
    .map((m, i) => {
      const e = LogEventSchema.parse(JSON.parse(new TextDecoder().decode(m.data)));
      expect({ seq: e.seq, prev: e.prev }).toEqual({ seq: i + 1, prev });
      prev = sha256Hex(m.data);
      return e;
    });
}

const reasonOf = (e: LogEvent) => (e.type === 'run.closed' ? e.reason : '');

describe('RunLogWriter under lost, dropped and late publishes', () => {
  it.each(Array.from({ length: 40 }, (_, i) => 1000 + i))('seed %i: every event stored once, in order, on an unbroken chain', async (seed) => {
    const random = rng(seed);
    const faults: Fault[] = ['ok', 'ok', 'ok', 'ack-lost', 'dropped', 'held'];
    const fake = new FakeJetStream(() => faults[Math.floor(random() * faults.length)]!, random);
    const runId = `RUN${seed}`;
    const opts = { maxAttempts: 1000, giveUpAfterMs: 60_000, retryDelayMs: 0 };
    const writers = [
      new RunLogWriter(fake.js, fake.jsm, runId, { by: 'runner:a', ...opts }),
      new RunLogWriter(fake.js, fake.jsm, runId, { by: 'harness', expectOthers: true, ...opts }),
      new RunLogWriter(fake.js, fake.jsm, runId, { by: 'runner:b', ...opts }),
    ];
    const N = 15;
    const returned = await Promise.all(writers.map((w, k) => Promise.all(Array.from({ length: N }, (_, i) => w.append({ type: 'run.closed', reason: `w${k}-${i}` })))));
    const stored = chainOf(fake, runId);
    // Late copies arriving after everything change nothing.
    fake.flushLate();
    expect(chainOf(fake, runId)).toEqual(stored);

    expect(stored).toHaveLength(writers.length * N);
    for (let k = 0; k < writers.length; k++) {
      expect(stored.map(reasonOf).filter((r) => r.startsWith(`w${k}-`))).toEqual(Array.from({ length: N }, (_, i) => `w${k}-${i}`));
    }
    // What each append resolved with is the event as stored.
    const bySeq = new Map(stored.map((e) => [e.seq, e]));
    for (const e of returned.flat()) expect(e).toEqual(bySeq.get(e.seq));
  });
});
