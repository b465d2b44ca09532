import { describe, expect, it } from 'vitest';
import { LogEventSchema, GENESIS_HASH } from './log.ts';
import { RunnerOpenRequestSchema } from './run.ts';
import { RunnerExecRequestSchema, MAX_COMMAND_BYTES } from './exec.ts';
import { ApiOpenRequestSchema } from './api.ts';

const runId = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
const limits = { memoryBytes: 1, pids: 1, nanoCpus: 1, tmpfsBytes: 1 };

describe('wire schemas', () => {
  it('accepts a well-formed open request and refuses hostile fields', () => {
    const ok = { v: 1, runId, image: 'airlock/sandbox:default', mountPath: '/workspace', env: {}, limits, runtime: 'runc', network: 'none', policyHash: 'a'.repeat(64) };
    expect(RunnerOpenRequestSchema.parse(ok)).toEqual(ok);
    expect(RunnerOpenRequestSchema.safeParse({ ...ok, runId: '../x' }).success).toBe(false);
    expect(RunnerOpenRequestSchema.safeParse({ ...ok, workspace: 'relative' }).success).toBe(false);
    expect(RunnerOpenRequestSchema.safeParse({ ...ok, network: 'host' }).success).toBe(false);
    expect(RunnerOpenRequestSchema.safeParse({ ...ok, mountPath: '/w:/etc' }).success).toBe(false);
    expect(RunnerOpenRequestSchema.safeParse({ ...ok, env: { 'A=B': 'x' } }).success).toBe(false);
    expect(RunnerOpenRequestSchema.safeParse({ ...ok, policyHash: undefined }).success).toBe(false);
    expect(RunnerOpenRequestSchema.safeParse({ ...ok, fromSnapshot: '../x' }).success).toBe(false);
    // The runtime is explicit: a request without one is not read as runc.
    expect(RunnerOpenRequestSchema.safeParse({ ...ok, runtime: undefined }).success).toBe(false);
    expect(RunnerOpenRequestSchema.safeParse({ ...ok, runtime: 'kata' }).success).toBe(false);
    expect(RunnerOpenRequestSchema.parse({ ...ok, runtime: 'runsc' }).runtime).toBe('runsc');
  });

  it('bounds command size and steps', () => {
    const base = { v: 1, runId, step: 1, cmd: 'true', env: {}, timeoutMs: 1000, policyHash: 'b'.repeat(64), token: 'x.y' };
    expect(RunnerExecRequestSchema.safeParse(base).success).toBe(true);
    expect(RunnerExecRequestSchema.safeParse({ ...base, step: 0 }).success).toBe(false);
    expect(RunnerExecRequestSchema.safeParse({ ...base, cmd: 'x'.repeat(MAX_COMMAND_BYTES + 1) }).success).toBe(false);
    expect(RunnerExecRequestSchema.safeParse({ ...base, cmd: '' }).success).toBe(false);
    expect(RunnerExecRequestSchema.safeParse({ ...base, policyHash: 'nope' }).success).toBe(false);
  });

  it('discriminates log events by type and requires the chain fields', () => {
    const e = { v: 1, runId, seq: 1, ts: 't', by: 'harness', prev: GENESIS_HASH, type: 'step.requested', step: 1, cmd: 'ls' };
    expect(LogEventSchema.parse(e).type).toBe('step.requested');
    expect(LogEventSchema.safeParse({ ...e, type: 'nope' }).success).toBe(false);
    expect(LogEventSchema.safeParse({ ...e, prev: 'abc' }).success).toBe(false);
    expect(LogEventSchema.safeParse({ ...e, seq: 0 }).success).toBe(false);
  });

  it('requires absolute workspaces on the API', () => {
    expect(ApiOpenRequestSchema.safeParse({ v: 1, workspace: 'x' }).success).toBe(false);
    expect(ApiOpenRequestSchema.safeParse({ v: 1, workspace: '/x' }).success).toBe(true);
  });

  it('refuses an exec request that carries secrets in plaintext: they travel sealed', () => {
    const req = { v: 1, runId, step: 1, cmd: 'true', env: {}, timeoutMs: 1000, policyHash: 'a'.repeat(64), token: 't' };
    expect(RunnerExecRequestSchema.safeParse(req).success).toBe(true);
    expect(RunnerExecRequestSchema.safeParse({ ...req, secrets: { TOKEN: 'value' } }).success).toBe(false);
    const sealed = { from: `X${'A'.repeat(55)}`, to: `X${'B'.repeat(55)}`, box: 'AAAA' };
    expect(RunnerExecRequestSchema.parse({ ...req, sealed }).sealed).toEqual(sealed);
  });
});
