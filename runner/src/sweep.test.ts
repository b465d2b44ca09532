import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { KV } from '@nats-io/kv';
import type { ContainerClient } from './docker/client.ts';
import type { LiveRun } from './live-run.ts';
import { runRecordOf, sweep, type SweepHost } from './sweep.ts';

const RUN_A = '01JA0000000000000000000000';
const RUN_B = '01JB0000000000000000000000';
const RUN_C = '01JC0000000000000000000000';

function record(runId: string, over: Record<string, unknown> = {}) {
  return { runId, runnerId: 'r1', status: 'open', image: 'i', workspace: '/w', mountPath: '/workspace', openedAt: '2026-01-01T00:00:00Z', steps: 0, policyHash: 'p', ...over };
}

/** A KV with raw values per key; a value of `Error` makes `get` fail. */
function fakeKv(values: Record<string, string | Error>): KV {
  return {
    get: async (key: string) => {
      const v = values[key];
      if (v instanceof Error) throw v;
      if (v === undefined) return null;
      return { operation: 'PUT', length: v.length, json: () => JSON.parse(v) as unknown, string: () => v };
    },
  } as unknown as KV;
}

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

describe('runRecordOf', () => {
  it('parses the record with the proto schema; anything else is unknown, and logged', async () => {
    const { log, lines } = capture();
    const kv = fakeKv({ [RUN_A]: JSON.stringify(record(RUN_A)), [RUN_B]: JSON.stringify({ runnerId: 'r1', status: 'bogus' }), [RUN_C]: 'not json', x: new Error('nats down') });
    expect(await runRecordOf({ runsKv: kv, log }, RUN_A)).toMatchObject({ runId: RUN_A, status: 'open' });
    expect(await runRecordOf({ runsKv: kv, log }, RUN_B)).toBe('unknown');
    expect(await runRecordOf({ runsKv: kv, log }, RUN_C)).toBe('unknown');
    expect(await runRecordOf({ runsKv: kv, log }, 'x')).toBe('unknown');
    expect(await runRecordOf({ runsKv: kv, log }, 'missing')).toBeNull();
    expect(lines.filter((l) => l.level === 40).map((l) => l.runId)).toEqual([RUN_B, RUN_C, 'x']);
  });
});

describe('sweep', () => {
  it('drops a held run only on a record that says so; an unparseable record leaves run and sandbox alone', async () => {
    const { log } = capture();
    const removed: string[] = [];
    const docker = {
      remove: async (id: string) => void removed.push(id),
      listManaged: async () => [
        { id: 'orphan-bad-record', labels: { 'airlock.run-id': RUN_B, 'airlock.runner-id': 'r2' }, createdMs: 0 },
        { id: 'orphan-closed', labels: { 'airlock.run-id': RUN_C, 'airlock.runner-id': 'r2' }, createdMs: 0 },
      ],
    } as unknown as ContainerClient;
    const logsClosed: string[] = [];
    const held = (runId: string) => ({ runId, busy: false, containerId: `c-${runId}`, workspace: { path: `/nonexistent/${runId}`, ownerBack: '', owned: false }, closeLog: async () => void logsClosed.push(runId) }) as unknown as LiveRun;
    const runs = new Map([[RUN_A, held(RUN_A)], [RUN_B, held(RUN_B)]]);
    const host: SweepHost = {
      runnerId: 'r1',
      deployment: 'd',
      docker,
      log,
      runs,
      runsKv: fakeKv({ [RUN_A]: JSON.stringify(record(RUN_A, { status: 'closed' })), [RUN_B]: '{"runnerId": 7}', [RUN_C]: JSON.stringify(record(RUN_C, { runnerId: 'r2', status: 'closed' })) }),
    };
    await sweep(host);
    expect([...runs.keys()]).toEqual([RUN_B]);
    expect(removed.sort()).toEqual([`c-${RUN_A}`, 'orphan-closed']);
    // The dropped run's own log connection (its grant) is closed; the kept run's is not.
    expect(logsClosed).toEqual([RUN_A]);
  });

  it('logs every workspace it could not give back (dropped runs and orphans), with runId and path', async () => {
    const { log, lines } = capture();
    const docker = {
      remove: async () => undefined,
      listManaged: async () => [{ id: 'orphan', labels: { 'airlock.run-id': RUN_C, 'airlock.runner-id': 'r2', 'airlock.workspace': '/ws/orphan', 'airlock.owner-back': 'not:numbers' }, createdMs: 0 }],
    } as unknown as ContainerClient;
    // An owner that is not uid:gid makes the chown back fail, as a read-only or vanished mount would.
    const run = { runId: RUN_A, busy: false, containerId: null, workspace: { path: '/ws/held', ownerBack: 'not:numbers', owned: false }, closeLog: () => Promise.resolve() } as unknown as LiveRun;
    await sweep({
      runnerId: 'r1',
      deployment: 'd',
      docker,
      log,
      runs: new Map([[RUN_A, run]]),
      runsKv: fakeKv({ [RUN_A]: JSON.stringify(record(RUN_A, { status: 'closed' })) }),
    });
    const errors = lines.filter((l) => l.level === 50);
    expect(errors.map((l) => [l.runId, l.path])).toEqual([
      [RUN_A, '/ws/held'],
      [RUN_C, '/ws/orphan'],
    ]);
    expect(errors.every((l) => typeof l.err === 'object')).toBe(true);
  });
});
