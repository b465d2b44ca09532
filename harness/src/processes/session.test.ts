import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { planStep, shellQuote } from './session.ts';

const rec = { mountPath: '/workspace' };

describe('planStep', () => {
  it('leaves a step alone without cwd or keepCwd', () => {
    expect(planStep(rec, { cmd: 'ls' })).toEqual({ cmd: 'ls', reportCwd: false });
    expect(planStep({ ...rec, cwd: '/workspace/src' }, { cmd: 'ls' })).toEqual({ cmd: 'ls', reportCwd: false });
  });

  it('starts where the last step ended with keepCwd (the run or the request)', () => {
    expect(planStep({ ...rec, keepCwd: true, cwd: '/workspace/src' }, { cmd: 'ls' })).toEqual({ cmd: "cd '/workspace/src' || exit 1; ls", reportCwd: true, cwd: '/workspace/src' });
    expect(planStep({ ...rec, cwd: '/workspace/src' }, { cmd: 'ls', keepCwd: true }).cwd).toBe('/workspace/src');
    // The request can switch a keepCwd run off for one step.
    expect(planStep({ ...rec, keepCwd: true, cwd: '/workspace/src' }, { cmd: 'ls', keepCwd: false })).toEqual({ cmd: 'ls', reportCwd: false });
    // The workspace itself needs no cd.
    expect(planStep({ ...rec, keepCwd: true, cwd: '/workspace' }, { cmd: 'ls' })).toEqual({ cmd: 'ls', reportCwd: true });
  });

  it('takes an explicit cwd, relative to the workspace or absolute', () => {
    expect(planStep(rec, { cmd: 'ls', cwd: 'a/../b' }).cmd).toBe("cd '/workspace/b' || exit 1; ls");
    expect(planStep(rec, { cmd: 'ls', cwd: '/tmp' }).cmd).toBe("cd '/tmp' || exit 1; ls");
    expect(() => planStep(rec, { cmd: 'ls', cwd: 'a\nb' })).toThrow(/newline/);
  });

  it('quotes a directory so bash reads it back exactly', () => {
    const odd = "/w/it's $(x) `y` \\ z";
    expect(execFileSync('bash', ['-c', `printf %s ${shellQuote(odd)}`], { encoding: 'utf8' })).toBe(odd);
  });
});
