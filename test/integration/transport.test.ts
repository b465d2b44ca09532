// @airlock/transport against a real nats-server: NATS failures are told apart by the client's error
// classes and JetStream's API codes, never by message text (issue 11, point 8), and a service can
// answer requests without the ledger.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError, PROTOCOL_VERSION, RunIdSchema, decodeReply, encode, subjects } from '@airlock/proto';
import { ensureLogStream, isNotFound } from '@airlock/ledger';
import { Airlock } from '@airlock/client';
import { connectNats, isJetStreamError, isNoResponders, isTimeout, jetStreamCodes, serveRequest, type NatsHandles, type RejectionAudit } from '@airlock/transport';
import { z } from 'zod';
import { NatsServer } from '../fixtures.ts';

let server: NatsServer;
let nats: NatsHandles;
beforeAll(async () => {
  server = await NatsServer.start();
  nats = await connectNats({ servers: server.url, name: 'transport-test' });
});
afterAll(async () => {
  await nats?.drain();
  await server?.[Symbol.asyncDispose]();
});

/** The rejection of a promise that must reject. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('NATS errors by class and code', () => {
  it('a request nobody subscribes to: no responders, not a timeout', async () => {
    const err = await rejection(nats.nc.request('transport.test.nobody', new Uint8Array(0), { timeout: 5000 }));
    expect(isNoResponders(err)).toBe(true);
    expect(isTimeout(err)).toBe(false);
  });

  it('a request a subscriber never answers: a timeout, not no responders', async () => {
    const sub = nats.nc.subscribe('transport.test.silent');
    await nats.nc.flush();
    const err = await rejection(nats.nc.request('transport.test.silent', new Uint8Array(0), { timeout: 300 }));
    expect(isTimeout(err)).toBe(true);
    expect(isNoResponders(err)).toBe(false);
    sub.unsubscribe();
  });

  it('JetStream: a missing stream and a name in use with another configuration, by code', async () => {
    const missing = await rejection(nats.jsm.streams.info('TRANSPORT_TEST_MISSING'));
    expect(isJetStreamError(missing, jetStreamCodes.streamNotFound)).toBe(true);
    expect(isNotFound(missing)).toBe(true);
    expect(isNotFound(new Error('stream not found'))).toBe(false); // text alone decides nothing

    await nats.jsm.streams.add({ name: 'TRANSPORT_TEST', subjects: ['transport.test.js.a'] });
    const clash = await rejection(nats.jsm.streams.add({ name: 'TRANSPORT_TEST', subjects: ['transport.test.js.b'] }));
    expect(isJetStreamError(clash, jetStreamCodes.streamNameInUse)).toBe(true);
    expect(isJetStreamError(clash, jetStreamCodes.streamNotFound)).toBe(false);
    // ensureLogStream tolerates the stream existing already (created by another process).
    await ensureLogStream(nats.jsm);
    await ensureLogStream(nats.jsm);
  });

  it('the client maps no responders to no_harness and a silent harness to timeout', async () => {
    await using client = await Airlock.connect({ servers: server.url });
    const none = await rejection(client.status({ timeoutMs: 2000 }));
    expect(none).toBeInstanceOf(AirlockError);
    expect((none as AirlockError).code).toBe('no_harness');

    const sub = nats.nc.subscribe(subjects.api.status);
    await nats.nc.flush();
    const silent = await rejection(client.status({ timeoutMs: 300 }));
    sub.unsubscribe();
    expect((silent as AirlockError).code).toBe('timeout');
  });
});

describe('serveRequest without the ledger', () => {
  it('answers a good request and rejects a malformed one with bad_request and an audit event', async () => {
    const audited: unknown[] = [];
    const audit: RejectionAudit = { append: async (e) => void audited.push(e) };
    const log = { warn: () => {}, error: () => {} };
    const Schema = z.object({ v: z.literal(PROTOCOL_VERSION), runId: RunIdSchema });
    const sub = nats.nc.subscribe('transport.test.serve', {
      callback: (err, msg) => {
        if (!err) serveRequest(msg, Schema, 'test request', async (req) => ({ echoed: req.runId }), { audit, log }).catch((e: unknown) => audited.push(e));
      },
    });
    await nats.nc.flush();
    const runId = '01JABCDEFGHJKMNPQRSTVWXYZ0';
    const ok = await nats.nc.request('transport.test.serve', encode({ v: PROTOCOL_VERSION, runId }), { timeout: 5000 });
    expect(decodeReply(z.object({ echoed: z.string() }), ok.data, 'reply')).toEqual({ echoed: runId });
    const bad = await nats.nc.request('transport.test.serve', encode({ v: PROTOCOL_VERSION, runId: 'nope' }), { timeout: 5000 });
    const err = await rejection(Promise.resolve().then(() => decodeReply(z.object({ echoed: z.string() }), bad.data, 'reply')));
    expect((err as AirlockError).code).toBe('bad_request');
    expect(audited).toEqual([expect.objectContaining({ type: 'message.rejected', subject: 'transport.test.serve', code: 'bad_request' })]);
    sub.unsubscribe();
  });
});
