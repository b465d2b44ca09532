// Output chunks up to MAX_CHUNK_BYTES through the run log against a real nats-server: the stored
// bytes are JSON.stringify's, one hash pass feeds both the
// chain and the signature, and text that would escape past the stream's message limit is stored as
// base64 instead of being refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CHUNK_BYTES, encode, names, outputBytes, outputFields, sha256Hex, subjects, type LogEvent } from '@airlock/proto';
import { connectNats, type NatsHandles } from '@airlock/transport';
import { RunLogWriter, ensureLogStream, readRunLog, readRunLogRaw } from '@airlock/ledger';
import { RunnerSigner, createRunnerIdentity, publicKeysOf, verifyLogSignature } from '@airlock/trust';
import { NatsServer } from '../fixtures.ts';

let nats: NatsServer;
let conn: NatsHandles;

beforeAll(async () => {
  nats = await NatsServer.start();
  conn = await connectNats({ servers: nats.url, name: 'ledger-large-chunks' });
  await ensureLogStream(conn.jsm);
});

afterAll(async () => {
  await conn?.drain();
  await nats?.[Symbol.asyncDispose]();
});

let counter = 0;
const newRunId = () => `01LARGE${process.pid.toString(36).toUpperCase().padStart(6, '0')}${String(++counter).padStart(4, '0')}`.slice(0, 26).padEnd(26, '0');

/** Appends `chunks` as one step's output (8 appends queued at once, as the runner's chunker does), then reads the log back. */
async function logChunks(runId: string, writer: RunLogWriter, chunks: Buffer[]) {
  const out = writer.sequence();
  let offset = 0;
  await Promise.all(chunks.map((data) => {
    const p = out.append({ type: 'step.output', step: 1, stream: 'stdout', offset, ...outputFields(data) });
    offset += data.length;
    return p;
  }));
  const events: LogEvent[] = [];
  for await (const e of readRunLog(conn.js, conn.jsm, runId)) events.push(e);
  return { events, raw: await readRunLogRaw(conn.js, conn.jsm, runId) };
}

describe('large output chunks in the run log', () => {
  it('stores full-size text chunks as JSON.stringify would, chained and signed over the one hash', async () => {
    const runId = newRunId();
    const identity = createRunnerIdentity('big');
    const signer = new RunnerSigner(identity);
    const writer = new RunLogWriter(conn.js, conn.jsm, runId, { by: 'runner:big', sign: (s, h) => signer.signLog(s, h) });
    let text = '';
    for (let i = 0; text.length < MAX_CHUNK_BYTES; i++) text += `line ${i}: "quoted" \\ tab\t é € 😀 \u001b[0m\n`;
    const chunks = [0, 1, 2].map((k) => Buffer.from(text.slice(k, k + MAX_CHUNK_BYTES - 3000), 'utf8'));
    const { events, raw } = await logChunks(runId, writer, chunks);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    for (const [i, e] of events.entries()) {
      expect(e.type === 'step.output' && e.text !== undefined).toBe(true);
      expect(outputBytes(e as Extract<LogEvent, { type: 'step.output' }>).equals(chunks[i]!)).toBe(true);
      // The stored bytes are the generic encoder's (JSON.stringify of the stored object, UTF-8).
      const stored = Buffer.from(raw[i]!);
      expect(stored.equals(Buffer.from(encode(JSON.parse(stored.toString('utf8')))))).toBe(true);
    }
    // The signature made over the writer's hash verifies against the stored bytes (the verifier hashes them itself).
    const stored = await conn.jsm.streams.getMessage(names.logStream, { last_by_subj: subjects.log(runId) });
    expect(verifyLogSignature(publicKeysOf(identity), stored!.data, stored!.header?.get(names.logSignatureHeader))).toBe(true);
    expect(sha256Hex(stored!.data)).toBe(sha256Hex(raw[2]!));
  });

  it('stores a chunk whose escaped text would pass the message limit as base64 data, byte for byte', async () => {
    const runId = newRunId();
    const writer = new RunLogWriter(conn.js, conn.jsm, runId, { by: 'runner:big' });
    // Control characters escape to six bytes each (\u0001): 1.5 MiB of JSON for 256 KiB of output.
    const controls = Buffer.alloc(MAX_CHUNK_BYTES, 1);
    const plain = Buffer.alloc(1000, 'b');
    const { events, raw } = await logChunks(runId, writer, [controls, plain]);
    expect(events.map((e) => e.seq)).toEqual([1, 2]);
    const [first, second] = events as Extract<LogEvent, { type: 'step.output' }>[];
    expect(first!.text).toBeUndefined();
    expect(Buffer.from(first!.data!, 'base64').equals(controls)).toBe(true);
    expect(raw[0]!.length).toBeLessThan(1024 * 1024);
    expect(second!.text).toBe('b'.repeat(1000));
    expect(second!.offset).toBe(MAX_CHUNK_BYTES);
  });
});
