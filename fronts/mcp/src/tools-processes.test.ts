import { describe, expect, it } from 'vitest';
import type { ProcessState } from '@airlock/proto';
import { chunksText, processResult } from './tools-processes.ts';

const RUN = '01M8SJP37PZQVH3R2CSQJGS6KV';

describe('process results', () => {
  it('splits log-ordered chunks into the two streams, text or base64', () => {
    expect(chunksText([
      { stream: 'stdout', offset: 0, text: 'a' },
      { stream: 'stderr', offset: 1, data: Buffer.from('é').toString('base64') },
      { stream: 'stdout', offset: 3, text: 'b\n' },
    ])).toEqual({ stdout: 'ab\n', stderr: 'é' });
  });

  it('a running process says how to read on; an ended one carries its exit code', () => {
    const running: ProcessState = { runId: RUN, pid: 4, cmd: 'make', status: 'running', output: [{ stream: 'stdout', offset: 0, text: 'building\n' }], nextOffset: 9, more: false };
    const r = processResult(running, 1000);
    expect(r.structuredContent).toMatchObject({ step: 4, status: 'running', exit_code: null, stdout: 'building\n', next_offset: 9 });
    expect((r.structuredContent as { next: string }).next).toContain('from_offset 9');
    const exited: ProcessState = {
      ...running,
      status: 'exited',
      output: [],
      result: { runId: RUN, step: 4, exitCode: 2, signal: null, oomKilled: false, timedOut: false, sandboxDied: false, durationMs: 1500.4, stdoutBytes: 9, stderrBytes: 0, truncated: false, logSeq: 30, snapshot: 'd' },
    };
    expect(processResult(exited, 1000).structuredContent).toMatchObject({ status: 'exited', exit_code: 2, duration_ms: 1500, stdout_bytes: 9, snapshot: 'd' });
    const cut = processResult({ ...running, more: true }, 1000).structuredContent as { truncated: boolean };
    expect(cut.truncated).toBe(true);
  });
});
