import { beforeAll, describe, expect, it } from 'vitest';
import { createValidator, type Validator } from './index.ts';
import { pathCases } from './path-families.ts';

let v: Validator;
beforeAll(async () => {
  v = await createValidator();
});

const cases = pathCases();

describe('path tracking (generated: protected targets × spellings)', () => {
  it.each(['read', 'write'] as const)('%s: no spelling of a protected path is allowed', (family) => {
    const members = cases.filter((c) => c.family === family);
    expect(members.length).toBeGreaterThan(100);
    const allowed = members.filter((c) => v.validate(c.cmd).verdict === 'allow').map((c) => c.cmd);
    expect(allowed).toEqual([]);
  });

  it('controls: a directory entered only in a subshell, a pipe stage or a function body does not leak into later commands', () => {
    const members = cases.filter((c) => c.family === 'control');
    const stopped = members.map((c) => [c.cmd, v.validate(c.cmd)] as const).filter(([, r]) => r.verdict !== 'allow').map(([c, r]) => `${c} → ${r.rule}`);
    expect(stopped).toEqual([]);
  });
});

describe('working directory, variables and links', () => {
  const reads = (cmd: string) => [...(v.validate(cmd).effects?.reads ?? [])];
  it.each([
    ['cd /srv && cat a', '/srv/a'],
    ['(cd /srv); cat a', '/workspace/a'],
    ['cd /srv || exit 1; cat a', '/srv/a'],
    ['pushd /srv; popd; cat a', '/workspace/a'],
    ['cd /srv; cd -; cat a', '/workspace/a'],
    ['d=/srv; cat "$d/a"', '/srv/a'],
    ['cat "$PWD/a"', '/workspace/a'],
    ['ln -s /srv k; cat k/a', '/srv/a'],
  ])('%j reads %j', (cmd, path) => {
    expect(reads(cmd)).toContain(path);
  });

  it('a loop over literal words gives each value; over a workspace glob, the glob', () => {
    expect(v.validate('for f in a.txt b.txt; do cat "$f"; done').verdict).toBe('allow');
    expect(v.validate('for f in *.py; do cat "$f"; done').verdict).toBe('allow');
    expect(v.validate('for f in a.txt ~/.ssh/id_rsa; do cat "$f"; done').verdict).toBe('deny');
  });

  it('run-time text as a path is opaque (ask), confined substitutions are not', () => {
    for (const cmd of ['cat "$(cat list)"', 'read -r f < list; cat "$f"', 'f=$(cat list); cp "$f" /tmp/x']) {
      const r = v.validate(cmd);
      expect(r.findings.map((f) => f.rule), cmd).toContain('opaque.unknown_path');
      expect(r.effects?.opaque.length, cmd).toBeGreaterThan(0);
    }
    for (const cmd of ['cat "$(git rev-parse --show-toplevel)/README.md"', 'cat "$(pwd)/a"', 'wc -l "$(cat list)"', 'cat "$CONFIG"', 'for f in $(git ls-files); do cat "$f"; done']) {
      expect(v.validate(cmd).verdict, cmd).toBe('allow');
    }
  });
});
