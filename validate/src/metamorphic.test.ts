import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createValidator, type Validator } from './index.ts';
import { commandHead, shellQuote, TRANSFORMS, variants, type Transform, type Variant } from './metamorphic.ts';

// The shared corpora live next to the repository: <repo>/../shared/corpus.
const corpusDir = path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'corpus');

function hostile(): { cmd: string; category?: string }[] {
  const p = path.join(corpusDir, 'hostile-sample.jsonl');
  if (!existsSync(p)) throw new Error(`corpus file missing: ${p} (expected the shared corpora at ${corpusDir})`);
  return readFileSync(p, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { cmd: string; category?: string });
}

let v: Validator;
let byTransform: Map<Transform, Variant[]>;
beforeAll(async () => {
  v = await createValidator();
  byTransform = new Map(TRANSFORMS.map((t) => [t, []]));
  for (const h of hostile()) for (const x of variants(h.cmd)) byTransform.get(x.transform)!.push(x);
});

describe('metamorphic variants of the shared hostile sample stay not-allowed', () => {
  const rates: string[] = [];
  afterAll(() => {
    console.log(`variant not-allowed rate per transformation:\n${rates.join('\n')}`);
  });
  for (const t of TRANSFORMS) {
    it(`${t}: every variant is ask or deny`, () => {
      const vs = byTransform.get(t)!;
      expect(vs.length, `${t} built no variant from the hostile sample`).toBeGreaterThan(0);
      const allowed = vs.filter((x) => v.validate(x.cmd).verdict === 'allow');
      rates.push(`  ${t.padEnd(22)} ${vs.length - allowed.length}/${vs.length} (${((100 * (vs.length - allowed.length)) / vs.length).toFixed(1)}%)`);
      expect(allowed.map((x) => x.cmd), `${allowed.length} of ${vs.length} ${t} variants are allowed`).toEqual([]);
    });
  }
});

describe('the variants are what bash runs the same way', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'airlock-metamorphic-'));
    writeFileSync(path.join(dir, 'notes.txt'), 'alpha\nbeta\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** stdout of `cmd` in real bash, in a scratch directory that is also $HOME (harmless commands only). */
  const bash = (cmd: string): string =>
    execFileSync('bash', ['-c', cmd], { cwd: dir, env: { PATH: '/usr/bin:/bin', HOME: dir, LC_ALL: 'C' }, encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });

  // Harmless originals with the shapes the hostile lines have: arguments with quotes and `~`, a pipe, a list.
  const originals = ["cat ~/notes.txt | sort -r", "printf '%s-%s\\n' a 'b c'; echo done", "head -n 1 notes.txt && echo \"$HOME\" | wc -c"];
  for (const t of TRANSFORMS) {
    it(`${t}: same output as the original in bash`, () => {
      let built = 0;
      for (const o of originals) {
        for (const x of variants(o).filter((y) => y.transform === t)) {
          built++;
          expect(bash(x.cmd), x.cmd).toBe(bash(o));
        }
      }
      expect(built, `${t} built no variant of the harmless originals`).toBeGreaterThan(0);
    });
  }

  it('every variant of the hostile sample is valid bash syntax', () => {
    // One loop, `bash -n` per text: parsed, never run (a text must not be able to break out of the check).
    const checker = `while IFS= read -r -d '' c; do if bash -n -c "$c" 2>/dev/null; then echo 0; else echo 1; fi; done`;
    const check = (texts: readonly string[]): boolean[] =>
      execFileSync('bash', ['-c', checker], { input: texts.map((t) => `${t}\0`).join(''), encoding: 'utf8', timeout: 60_000 })
        .trim()
        .split('\n')
        .map((l) => l === '0');
    // A NUL byte cannot reach bash at all (no argv can hold one): those lines are the input checks' business.
    const all = TRANSFORMS.flatMap((t) => byTransform.get(t)!).filter((x) => !x.original.includes('\0'));
    const ok = check(all.map((x) => x.cmd));
    const originalOk = check(all.map((x) => x.original));
    expect(ok.length).toBe(all.length);
    // The sample has deliberate parse traps: only a rewrite of a valid original must be valid.
    const bad = all.filter((x, i) => !ok[i] && originalOk[i]).map((x) => `${x.transform}: ${x.cmd}`);
    expect(bad).toEqual([]);
  }, 120_000);
});

describe('generator', () => {
  it('is deterministic and never returns the original', () => {
    for (const h of hostile()) {
      const a = variants(h.cmd);
      expect(variants(h.cmd)).toEqual(a);
      for (const x of a) expect(x.cmd, x.transform).not.toBe(h.cmd);
    }
  });

  it('finds the first command word after plain assignments, not in builtins or function definitions', () => {
    expect(commandHead('rm -rf ~')).toMatchObject({ prefix: '', word: 'rm', rest: ' -rf ~', simpleEnd: 8 });
    expect(commandHead('A=1 B=x curl -s u; ls')).toMatchObject({ prefix: 'A=1 B=x ', word: 'curl', simpleEnd: 17 });
    expect(commandHead("cat 'a;b' | sh")?.simpleEnd).toBe(10);
    expect(commandHead('echo $(id; id) && x')?.simpleEnd).toBe(15);
    expect(commandHead('export X=1')).toBeUndefined();
    expect(commandHead('f(){ rm -rf ~; }; f')).toBeUndefined();
    expect(commandHead('"rm" -rf ~')).toBeUndefined();
    expect(commandHead('/bin/rm -rf ~')).toBeUndefined();
    expect(commandHead('A=$(id) rm x')).toBeUndefined();
  });

  it('quotes text so bash gets it back byte for byte', () => {
    for (const s of ["it's", "a'b'c", '$(id) `x` "q" \\ \n']) expect(execFileSync('bash', ['-c', `printf %s ${shellQuote(s)}`], { encoding: 'utf8' })).toBe(s);
  });
});
