import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AirlockError } from '@airlock/proto';
import { RunRegistry, workspaceWithin } from './runs.ts';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof AirlockError ? err.code : `not an AirlockError: ${String(err)}`;
  }
  return 'no error';
};

describe('RunRegistry', () => {
  it('refuses runs it was not given and needs a run_id unless bound', () => {
    const r = new RunRegistry();
    expect(codeOf(() => r.resolve(undefined))).toBe('bad_request');
    expect(codeOf(() => r.resolve('01M8SJP37PZQVH3R2CSQJGS6KV'))).toBe('unknown_run');
    r.allow('01M8SJP37PZQVH3R2CSQJGS6KV');
    expect(r.resolve('01M8SJP37PZQVH3R2CSQJGS6KV')).toBe('01M8SJP37PZQVH3R2CSQJGS6KV');
  });

  it('a bound server defaults to its run', () => {
    const r = new RunRegistry('01M8SJP37PZQVH3R2CSQJGS6KA');
    expect(r.resolve(undefined)).toBe('01M8SJP37PZQVH3R2CSQJGS6KA');
    expect(codeOf(() => r.resolve('01M8SJP37PZQVH3R2CSQJGS6KB'))).toBe('unknown_run');
  });
});

describe('workspaceWithin', () => {
  const root = mkdtempSync(join(tmpdir(), 'airlock-ws-'));
  const outside = mkdtempSync(join(tmpdir(), 'airlock-ws-out-'));
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(root, 'file'), 'x');
  symlinkSync(outside, join(root, 'escape'));
  symlinkSync(join(root, 'sub'), join(root, 'inside'));
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('takes the root or a subdirectory, through symlinks that stay inside', () => {
    expect(workspaceWithin(root, undefined)).toMatch(/airlock-ws-[^/]+$/);
    expect(workspaceWithin(root, 'sub')).toMatch(/\/sub$/);
    expect(workspaceWithin(root, 'inside')).toMatch(/\/sub$/);
  });

  it('refuses absolute paths, .., symlinks out, files and missing directories', () => {
    expect(codeOf(() => workspaceWithin(root, '/etc'))).toBe('bad_request');
    expect(codeOf(() => workspaceWithin(root, '..'))).toBe('bad_request');
    expect(codeOf(() => workspaceWithin(root, 'sub/../..'))).toBe('bad_request');
    expect(codeOf(() => workspaceWithin(root, 'escape'))).toBe('bad_request');
    expect(codeOf(() => workspaceWithin(root, 'file'))).toBe('workspace_invalid');
    expect(codeOf(() => workspaceWithin(root, 'nope'))).toBe('workspace_invalid');
  });
});
