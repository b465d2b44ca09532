import { describe, expect, it } from 'vitest';
import type { LogEvent } from '@airlock/proto';
import { processList, processState } from './state.ts';

const RUN = '01JABCDEFGHJKMNPQRSTVWXYZ0';
let seq = 0;
const ev = (e: Record<string, unknown>): LogEvent => ({ v: 1, runId: RUN, seq: ++seq, ts: '2026-12-01T00:00:00Z', by: 'harness', prev: '0'.repeat(64), ...e }) as LogEvent;
const result = { runId: RUN, step: 2, exitCode: 0, signal: null, oomKilled: false, timedOut: false, sandboxDied: false, durationMs: 5, stdoutBytes: 9, stderrBytes: 3, truncated: false };

const events: LogEvent[] = [
  ev({ type: 'step.requested', step: 1, cmd: 'true' }),
  ev({ type: 'step.started', step: 1, containerId: 'c' }),
  ev({ type: 'step.exited', step: 1, result: { ...result, step: 1, stdoutBytes: 0, stderrBytes: 0 } }),
  ev({ type: 'step.requested', step: 2, cmd: 'server', yieldMs: 100 }),
  ev({ type: 'step.started', step: 2, containerId: 'c' }),
  ev({ type: 'step.output', step: 2, stream: 'stdout', offset: 0, text: 'hello\n' }),
  ev({ type: 'step.output', step: 2, stream: 'stderr', offset: 0, text: 'err' }),
  ev({ type: 'step.output', step: 2, stream: 'stdout', offset: 6, data: Buffer.from([0xff, 0x61, 0x0a]).toString('base64') }),
];

describe('processState', () => {
  it('numbers output of both streams with one offset, and cuts at fromOffset', () => {
    const s = processState(RUN, 2, events, 0, 1000);
    expect(s).toMatchObject({ status: 'running', cmd: 'server', nextOffset: 12, more: false });
    expect(s.output.map((c) => [c.stream, c.offset])).toEqual([['stdout', 0], ['stderr', 6], ['stdout', 9]]);
    const from = processState(RUN, 2, events, 7, 1000);
    expect(from.output[0]).toEqual({ stream: 'stderr', offset: 7, text: 'rr' });
    expect(from.output[1]).toEqual({ stream: 'stdout', offset: 9, data: Buffer.from([0xff, 0x61, 0x0a]).toString('base64') });
    expect(processState(RUN, 2, events, 12, 1000)).toMatchObject({ output: [], nextOffset: 12 });
  });

  it('caps a poll at maxBytes and says there is more', () => {
    const s = processState(RUN, 2, events, 0, 4);
    expect(s).toMatchObject({ output: [{ stream: 'stdout', offset: 0, text: 'hell' }], nextOffset: 4, more: true });
    const next = processState(RUN, 2, events, s.nextOffset, 4);
    expect(next.output.map((c) => c.text)).toEqual(['o\n', 'er']);
    expect(next).toMatchObject({ nextOffset: 8, more: true });
  });

  it('reports the end with the result and snapshot, and refused or unknown steps', () => {
    const done = [...events, ev({ type: 'step.exited', step: 2, result }), ev({ type: 'snapshot.created', step: 2, digest: 'd'.repeat(64), files: 1, totalBytes: 1, added: 0, modified: 0, deleted: 0, bytesUploaded: 0, durationMs: 1 })];
    const s = processState(RUN, 2, done, 0, 1000);
    expect(s.status).toBe('exited');
    expect(s.result).toMatchObject({ exitCode: 0, snapshot: 'd'.repeat(64) });
    expect(s.result?.logSeq).toBe(done.at(-2)!.seq);
    const denied = [...events, ev({ type: 'step.requested', step: 3, cmd: 'x', yieldMs: 0 }), ev({ type: 'step.verdict', step: 3, cmd: 'x', verdict: 'deny', rule: 'r.x', reason: 'no', policyHash: 'h' })];
    expect(processState(RUN, 3, denied, 0, 10)).toMatchObject({ status: 'refused', reason: 'deny (r.x): no' });
    expect(() => processState(RUN, 9, events, 0, 10)).toThrow(/no step 9/);
    // Exited but not yet snapshotted: still running for a poller (nothing it could restore yet).
    expect(processState(RUN, 2, done.slice(0, -1), 0, 10)).toMatchObject({ status: 'running' });
  });

  it('reports a process its runner left behind as lost when the run moved', () => {
    const moved = [...events, ev({ type: 'run.moved', fromRunner: 'r1', toRunner: 'r2', fromSnapshot: 'd'.repeat(64), afterStep: 1, containerId: 'c2', workspace: '/w', reason: 'runner r1 lost' })];
    expect(processState(RUN, 2, moved, 0, 0)).toMatchObject({ status: 'lost', reason: 'the run moved to runner r2: runner r1 lost' });
  });

  it('lists only processes (steps with yieldMs)', () => {
    expect(processList(events)).toEqual([{ pid: 2, cmd: 'server', status: 'running', outputBytes: 12, requestedAt: '2026-12-01T00:00:00Z' }]);
  });
});
