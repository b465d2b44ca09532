import { describe, expect, it } from 'vitest';
import { PathMap } from './paths.ts';
import { defaultRoot } from './stdio.ts';

describe('PathMap', () => {
  const m = new PathMap('/home/me/repo', '/testbed');

  it('shows the host workspace to the sandbox at its mount path, and back', () => {
    expect(m.toSandbox('file:///home/me/repo')).toBe('/testbed');
    expect(m.toSandbox('file:///home/me/repo/src/a%20b.py')).toBe('/testbed/src/a b.py');
    expect(m.toUri('/testbed/src/a b.py')).toBe('file:///home/me/repo/src/a%20b.py');
    expect(m.toUri('/testbed')).toBe('file:///home/me/repo');
  });

  it('leaves other paths as the sandbox has them, and does not match a sibling with the same prefix', () => {
    expect(m.toSandbox('file:///home/me/repository/x')).toBe('/home/me/repository/x');
    expect(m.toSandbox('file:///tmp/.git')).toBe('/tmp/.git');
    expect(m.toUri('/usr/bin/python3')).toBe('file:///usr/bin/python3');
  });

  it('normalises .. before mapping, so it cannot escape the alias', () => {
    expect(m.toSandbox('file:///home/me/repo/../other/x')).toBe('/home/me/other/x');
    expect(m.toSandbox('file:///home/me/repo/a/../b')).toBe('/testbed/b');
  });

  it('refuses what is not a file URI of an absolute path', () => {
    expect(() => m.toSandbox('http://x/y')).toThrow(/not a file URI/);
    expect(() => m.toSandbox('file:///a%00b')).toThrow();
  });
});

describe('defaultRoot', () => {
  it('is the workspace when Codex runs in it or below it, else Codex\'s directory', () => {
    expect(defaultRoot('/home/me/repo', '/home/me/repo')).toBe('/home/me/repo');
    expect(defaultRoot('/home/me/repo', '/home/me/repo/src/pkg')).toBe('/home/me/repo');
    expect(defaultRoot('/home/me/repo', '/home/me/repo-2')).toBe('/home/me/repo-2');
    expect(defaultRoot('/home/me/repo', '/home/me')).toBe('/home/me');
  });
});
