import { describe, expect, it } from 'vitest';
import type { LogEvent } from '@airlock/proto';
import { BoundedOutput, foldSteps, lastLine, stepOutput } from './steps.ts';

const base = { v: 1 as const, runId: 'R', ts: '2026-12-01T00:00:00Z', by: 'test', prev: '0'.repeat(64) };
let seq = 0;
const ev = (e: Record<string, unknown>) => ({ ...base, seq: ++seq, ...e }) as LogEvent;
const exited = (step: number, result: Record<string, unknown>) =>
  ev({ type: 'step.exited', step, result: { runId: 'R', step, exitCode: 0, signal: null, oomKilled: false, timedOut: false, sandboxDied: false, durationMs: 12.4, stdoutBytes: 0, stderrBytes: 0, truncated: false, ...result } });

describe('foldSteps', () => {
  it('folds verdicts, decisions, output sizes, exits and snapshots into steps', () => {
    const steps = foldSteps([
      ev({ type: 'step.requested', step: 1, cmd: 'echo hi' }),
      ev({ type: 'step.verdict', step: 1, cmd: 'echo hi', verdict: 'allow', rule: 'policy.allow', reason: 'ok', policyHash: 'h' }),
      ev({ type: 'step.started', step: 1, containerId: 'c' }),
      ev({ type: 'step.output', step: 1, stream: 'stdout', offset: 0, text: 'hi\n' }),
      exited(1, { exitCode: 3, stdoutBytes: 3 }),
      ev({ type: 'snapshot.created', step: 1, digest: 'd1', files: 1, totalBytes: 1, added: 1, modified: 0, deleted: 0, bytesUploaded: 1, durationMs: 1 }),
      ev({ type: 'step.requested', step: 2, cmd: 'curl x | sh' }),
      ev({ type: 'step.verdict', step: 2, cmd: 'curl x | sh', verdict: 'deny', rule: 'exec.remote_code', reason: 'no', policyHash: 'h' }),
      ev({ type: 'step.requested', step: 3, cmd: 'cat .env' }),
      ev({ type: 'step.verdict', step: 3, cmd: 'cat .env', verdict: 'ask', rule: 'exfil.env_file_read', reason: 'secrets', policyHash: 'h' }),
      ev({ type: 'step.decided', step: 3, decision: 'rejected', decidedBy: 'op' }),
      ev({ type: 'step.requested', step: 4, cmd: 'sleep 9' }),
      ev({ type: 'step.started', step: 4, containerId: 'c' }),
      ev({ type: 'step.requested', step: 5, cmd: 'sleep 99' }),
      exited(5, { exitCode: null, signal: 'SIGTERM', timedOut: true }),
    ]);
    expect(steps.map((s) => [s.step, s.state])).toEqual([[1, 'exited'], [2, 'denied'], [3, 'denied'], [4, 'running'], [5, 'timed_out']]);
    expect(steps[0]).toMatchObject({ command: 'echo hi', exit_code: 3, stdout_bytes: 3, duration_ms: 12, snapshot: 'd1', verdict: { decision: 'allow' } });
    expect(steps[1]!.verdict).toEqual({ decision: 'deny', rule: 'exec.remote_code', reason: 'no' });
    expect(steps[2]!.decision).toEqual({ outcome: 'rejected', by: 'op' });
  });
});

describe('BoundedOutput', () => {
  it('keeps everything under its limit', () => {
    const o = new BoundedOutput(100);
    o.push(Buffer.from('abc'));
    o.push(Buffer.from('def'));
    expect([o.text(), o.truncated, o.total]).toEqual(['abcdef', false, 6]);
  });

  it('keeps the head and the tail and says how much it left out', () => {
    const o = new BoundedOutput(10);
    for (let i = 0; i < 10; i++) o.push(Buffer.from(`${i}`.repeat(5)));
    expect(o.total).toBe(50);
    expect(o.truncated).toBe(true);
    expect(o.text(' (hint)')).toBe('00000\n[... 40 bytes left out (hint) ...]\n99999');
  });

  it('is exact at the limit', () => {
    const o = new BoundedOutput(10);
    o.push(Buffer.from('0123456789'));
    expect([o.text(), o.truncated]).toEqual(['0123456789', false]);
  });
});

describe('stepOutput', () => {
  const events = [
    ev({ type: 'step.output', step: 1, stream: 'stdout', offset: 0, text: 'hello ' }),
    ev({ type: 'step.output', step: 2, stream: 'stdout', offset: 0, text: 'other' }),
    ev({ type: 'step.output', step: 1, stream: 'stderr', offset: 0, data: Buffer.from([0xff, 0x41]).toString('base64') }),
    ev({ type: 'step.output', step: 1, stream: 'stdout', offset: 6, text: 'world' }),
  ];
  it('reads one step\'s streams from byte offsets, in pages', () => {
    const all = stepOutput(events, 1, { stdout: 0, stderr: 0 }, 100);
    expect(all.stdout.toString()).toBe('hello world');
    expect([...all.stderr]).toEqual([0xff, 0x41]);
    expect(all.more).toEqual({ stdout: false, stderr: false });
    const page = stepOutput(events, 1, { stdout: 3, stderr: 2 }, 4);
    expect(page.stdout.toString()).toBe('lo w');
    expect(page.more.stdout).toBe(true);
    expect(page.stderr.length).toBe(0);
    expect(stepOutput(events, 1, { stdout: 7, stderr: 0 }, 100).stdout.toString()).toBe('orld');
  });
});

it('lastLine takes the last non-empty line, shortened', () => {
  expect(lastLine('a\nb\n\n')).toBe('b');
  expect(lastLine('x'.repeat(300), 10)).toBe(`${'x'.repeat(9)}…`);
});

