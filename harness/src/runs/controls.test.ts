import { describe, expect, it } from 'vitest';
import type { LogEvent } from '@airlock/proto';
import { retryPoint } from './retry.ts';
import { foldRollbacks } from './rollback.ts';

const RUN = '01JAAAAAAAAAAAAAAAAAAAAAAA';
let seq = 0;
const ev = (e: Record<string, unknown>, by = 'harness'): LogEvent => ({ v: 1, runId: RUN, seq: ++seq, ts: new Date(0).toISOString(), by, prev: '0'.repeat(64), ...e }) as unknown as LogEvent;
const snap = (step: number, digest: string) => ev({ type: 'snapshot.created', step, digest, files: 1, totalBytes: 1, added: 0, modified: 0, deleted: 0, bytesUploaded: 0, durationMs: 1 }, 'runner:r1');

describe('retryPoint', () => {
  const log = [snap(0, 'd0'), ev({ type: 'step.requested', step: 1, cmd: 'make' }), snap(1, 'd1'), ev({ type: 'step.requested', step: 2, cmd: 'make test' }), snap(2, 'd2'), ev({ type: 'step.file', step: 3, file: {} })];

  it("finds the step's command and the snapshot after the step before (the last one logged)", () => {
    expect(retryPoint(log, RUN, 2)).toEqual({ cmd: 'make test', fromSnapshot: 'd1' });
    expect(retryPoint(log, RUN, 1)).toEqual({ cmd: 'make', fromSnapshot: 'd0' });
    // A move logs the restored snapshot again: the later one wins.
    expect(retryPoint([...log, snap(1, 'd1-moved')], RUN, 2).fromSnapshot).toBe('d1-moved');
  });

  it('refuses a step that is not a command, or has no snapshot before it', () => {
    expect(() => retryPoint(log, RUN, 3)).toThrow(/file step/);
    expect(() => retryPoint(log, RUN, 9)).toThrow(/no command step 9/);
    expect(() => retryPoint(log.filter((e) => !(e.type === 'snapshot.created' && e.step === 1)), RUN, 2)).toThrow(/no snapshot after step 1/);
  });
});

describe('foldRollbacks', () => {
  const olga = { principal: 'olga', role: 'operator' as const };
  const oscar = { principal: 'oscar', role: 'operator' as const };
  const base = { type: 'run.rollback', jobId: 'rb-1', toStep: 1, target: 't', current: 'c', requestedBy: olga };

  it('folds a job through its phases with both actors; events not by the harness do not count', () => {
    const diff = { added: [], modified: ['a'], deleted: [], counts: { added: 0, modified: 1, deleted: 0 } };
    const planned = foldRollbacks([ev({ ...base, phase: 'planned', diff })]);
    expect(planned.get('rb-1')).toMatchObject({ status: 'planned', diff, requestedBy: olga });
    const applied = foldRollbacks([ev({ ...base, phase: 'planned', diff }), ev({ ...base, phase: 'approved', approvedBy: oscar }), ev({ ...base, phase: 'applied', approvedBy: oscar, snapshot: 's' })]);
    expect(applied.get('rb-1')).toMatchObject({ status: 'applied', approvedBy: oscar, requestedBy: olga, snapshot: 's' });
    const forged = foldRollbacks([ev({ ...base, phase: 'planned', diff }), ev({ ...base, phase: 'applied', approvedBy: oscar }, 'runner:r1')]);
    expect(forged.get('rb-1')?.status).toBe('planned');
    expect(foldRollbacks([ev({ ...base, phase: 'approved', approvedBy: oscar })]).size).toBe(0);
  });
});
