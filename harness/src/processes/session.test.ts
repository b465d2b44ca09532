import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { keptEnv, planStep, shellQuote } from './session.ts';

const rec = { mountPath: '/workspace' };

describe('planStep', () => {
  it('leaves a step alone without cwd or keepCwd', () => {
    expect(planStep(rec, { cmd: 'ls' })).toEqual({ cmd: 'ls', reportCwd: false, reportEnv: false });
    expect(planStep({ ...rec, cwd: '/workspace/src' }, { cmd: 'ls' })).toEqual({ cmd: 'ls', reportCwd: false, reportEnv: false });
  });

  it('starts where the last step ended with keepCwd (the run or the request)', () => {
    expect(planStep({ ...rec, keepCwd: true, cwd: '/workspace/src' }, { cmd: 'ls' })).toEqual({ cmd: "cd '/workspace/src' || exit 1; ls", reportCwd: true, reportEnv: false, cwd: '/workspace/src' });
    expect(planStep({ ...rec, cwd: '/workspace/src' }, { cmd: 'ls', keepCwd: true }).cwd).toBe('/workspace/src');
    // The request can switch a keepCwd run off for one step.
    expect(planStep({ ...rec, keepCwd: true, cwd: '/workspace/src' }, { cmd: 'ls', keepCwd: false })).toEqual({ cmd: 'ls', reportCwd: false, reportEnv: false });
    // The workspace itself needs no cd.
    expect(planStep({ ...rec, keepCwd: true, cwd: '/workspace' }, { cmd: 'ls' })).toEqual({ cmd: 'ls', reportCwd: true, reportEnv: false });
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

  it('puts kept variables in front as exports the validator sees, only with keepEnv', () => {
    const r = { ...rec, sessionEnv: { A: "it's", B: '$(x)' } };
    expect(planStep(r, { cmd: 'env' })).toEqual({ cmd: 'env', reportCwd: false, reportEnv: false });
    expect(planStep({ ...r, keepEnv: true }, { cmd: 'env' })).toEqual({ cmd: `export A='it'\\''s' B='$(x)'; env`, reportCwd: false, reportEnv: true });
    expect(planStep(r, { cmd: 'env', keepEnv: true, cwd: 'sub' }).cmd).toBe(`export A='it'\\''s' B='$(x)'; cd '/workspace/sub' || exit 1; env`);
  });
});

describe('keptEnv', () => {
  it('layers new exports over kept ones, within the caps', () => {
    expect(keptEnv({ A: '1', B: '2' }, { B: '3', C: '4' })).toEqual({ A: '1', B: '3', C: '4' });
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`V${i}`, 'x']));
    expect(Object.keys(keptEnv(undefined, many))).toHaveLength(128);
    expect(keptEnv(undefined, { BIG: 'x'.repeat(40_000), SMALL: 'y' })).toEqual({ SMALL: 'y' });
  });
});
