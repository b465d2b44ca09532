/**
 * The hot path takes shortcuts (raw wasm tree copy, combined path regexes,
 * early exits). Each shortcut is checked here against the straightforward
 * version it replaces, on the shared corpus and on generated inputs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Language, Parser, type TreeCursor } from 'web-tree-sitter';
import { beforeAll, describe, expect, it } from 'vitest';
import { compilePolicy, globToRegex } from './compile.ts';
import { bashWasmPath, loadBashGrammar, type BashGrammar, type SyntaxNode } from './grammar.ts';
import { checkInput } from './input.ts';
import { defaultPolicy } from './policy.ts';
import { isJsSpace, SED_EXEC_COMMAND, SED_SUBSTITUTE_EXEC, sedExecCommand, sedSubstituteExec } from './sed.ts';
import { resolvePath } from './walk.ts';

const corpusDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'corpus');
const corpus = ['benign.jsonl', 'hostile-sample.jsonl'].flatMap((f) =>
  readFileSync(path.join(corpusDir, f), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { cmd: string }).cmd),
);

// The public-API copy the fast path replaces.
function publicCopy(cursor: TreeCursor): SyntaxNode {
  const type = cursor.nodeType;
  const named = cursor.nodeIsNamed;
  const start = cursor.startIndex;
  const end = cursor.endIndex;
  const children: SyntaxNode[] = [];
  if (cursor.gotoFirstChild()) {
    do children.push(publicCopy(cursor));
    while (cursor.gotoNextSibling());
    cursor.gotoParent();
  }
  return { type, named, start, end, children };
}

describe('raw wasm tree copy', () => {
  let grammar: BashGrammar;
  let parser: Parser;
  beforeAll(async () => {
    grammar = await loadBashGrammar();
    parser = new Parser();
    parser.setLanguage(await Language.load(bashWasmPath()));
  });

  it('builds the same tree and error flag as the public TreeCursor API', () => {
    const inputs = corpus.flatMap((c) => [c, c.slice(0, c.length >> 1), `é${c}\u{1F600}`]);
    let errors = 0;
    let compared = 0;
    for (const c of inputs) {
      const fast = grammar.parse(c, 1000);
      const tree = parser.parse(c)!;
      const cursor = tree.walk();
      const slow = { root: publicCopy(cursor), hasError: tree.rootNode.hasError };
      cursor.delete();
      tree.delete();
      if (slow.hasError) errors++;
      if (!isDeepStrictEqual(JSON.parse(JSON.stringify(fast)), slow)) expect(fast, c).toEqual(slow);
      compared++;
    }
    expect(compared).toBe(inputs.length);
    expect(errors).toBeGreaterThan(100); // error trees are covered too
  }, 60_000);

  it('interleaves with public-API parses and long inputs', () => {
    const long = 'echo ' + 'x'.repeat(5000) + ' && ls';
    const a = grammar.parse(long, 1000);
    expect(a.hasError).toBe(false);
    expect(parser.parse('ls -la')!.rootNode.hasError).toBe(false);
    expect(grammar.parse('ls -la', 1000).root.children[0]!.type).toBe('command');
  });
});

describe('combined path matcher', () => {
  it('agrees with one anchored regex per glob', async () => {
    const p = compilePolicy(await defaultPolicy());
    const paths = new Set<string>(['', '/', '~', '~/', 'x', '/x', '.env', 'a/.env', '/host', '/hostx', '//etc/shadow']);
    for (const set of [p.readRules, p.writeRules]) {
      for (const r of set.rules) {
        for (const g of [...r.patterns, ...(r.rule.except ?? [])]) {
          const lit = g.replace(/\*\*/g, 'a/b').replace(/\*/g, 'zz').replace(/\?/g, 'q').replace(/\[[^\]]*\]/g, 'k');
          for (const pre of ['', '/', '/workspace/', 'x/', '~/', '/home/u/', 'Foo/']) {
            for (const v of [lit, lit.toUpperCase(), lit + '/sub', lit + 'x', lit.slice(1), lit.replace(/^a\/b\//, '')]) paths.add(pre + v);
          }
        }
      }
    }
    for (const c of corpus.slice(0, 3000)) for (const w of c.split(/\s+/)) paths.add(w);
    let hits = 0;
    for (const set of [p.readRules, p.writeRules]) {
      const all = set.rules.flatMap((r) => r.patterns).map(globToRegex);
      for (const x of paths) {
        const want = all.some((re) => re.test(x));
        if (want) hits++;
        if (set.any.test(x) !== want) expect(set.any.test(x), x).toBe(want);
      }
      for (const r of set.rules) {
        const res = r.patterns.map(globToRegex);
        for (const x of paths) {
          const want = res.some((re) => re.test(x));
          if (r.matcher.test(x) !== want) expect(r.matcher.test(x), `${r.rule.id} ${x}`).toBe(want);
        }
      }
    }
    expect(hits).toBeGreaterThan(100);
  }, 60_000);
});

// The split/join normalisation resolvePath used for every path.
function referenceResolve(cwd: string | null, p: string): string | null {
  let base: string;
  if (p.startsWith('/')) base = p;
  else if (p === '~' || p.startsWith('~/')) base = p;
  else if (cwd === null) return null;
  else base = cwd + '/' + p;
  const home = base.startsWith('~');
  const out: string[] = [];
  for (const s of (home ? base.slice(1) : base).split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') {
      if (out.length > 0) out.pop();
      else if (home) return '/';
      continue;
    }
    out.push(s);
  }
  return (home ? '~' : '') + '/' + out.join('/');
}

describe('resolvePath fast path', () => {
  it('matches the split/join normalisation', () => {
    const parts = ['', '.', '..', 'a', '.a', '..a', 'a.', '...', '~', 'b c'];
    const seen: string[] = [];
    for (const x of parts) for (const y of parts) for (const z of parts) seen.push(`${x}/${y}/${z}`, `/${x}/${y}`, `~/${x}/${y}`, `${x}/${y}/`, `~${x}`, `/${x}//${y}`);
    for (const cwd of [null, '/', '/workspace', '~', '~/x', '/a/b/']) {
      for (const p of seen) expect(resolvePath(cwd, p), `${cwd} ${p}`).toBe(referenceResolve(cwd, p));
    }
  });
});

describe('input check fast path', () => {
  it('flags padding only when blanks are followed by text', () => {
    expect(checkInput('ls' + ' '.repeat(64), 1 << 20)).toEqual([]);
    expect(checkInput('ls' + ' \t'.repeat(40) + '\n', 1 << 20)).toEqual([]);
    expect(checkInput('ls' + ' '.repeat(63) + 'x', 1 << 20)).toEqual([]);
    expect(checkInput('ls' + ' '.repeat(64) + 'x', 1 << 20).map((f) => f.rule)).toEqual(['input.padding']);
    expect(checkInput('ls\x7f', 1 << 20).map((f) => f.rule)).toEqual(['input.control_char']);
    expect(checkInput('ls\r\n', 1 << 20)).toEqual([]);
  });
});

describe('sed detectors', () => {
  it('isJsSpace is \\s', () => {
    for (let c = 0; c < 0x10000; c++) if (isJsSpace(c) !== /\s/.test(String.fromCharCode(c))) expect(c).toBe(-1);
  });

  it('accept exactly what the backtracking regexes accept', () => {
    const alpha = ['s', '/', '\\', 'e', 'g', ';', '\n', ' ', 'a', '!', '1', '{', '$', '\r', 'p', '|', '\u2028', 'I'];
    // Deterministic pseudo-random strings (xorshift32).
    let x = 0x9e3779b9;
    const rnd = (k: number) => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % k;
    };
    let exec = 0;
    let subst = 0;
    const check = (t: string) => {
      const a = SED_EXEC_COMMAND.test(t);
      const b = SED_SUBSTITUTE_EXEC.test(t);
      if (sedExecCommand(t) !== a) expect([t, sedExecCommand(t)]).toEqual([t, a]);
      if (sedSubstituteExec(t) !== b) expect([t, sedSubstituteExec(t)]).toEqual([t, b]);
      if (a) exec++;
      if (b) subst++;
    };
    for (let i = 0; i < 200_000; i++) {
      let t = '';
      for (let j = 1 + rnd(14); j > 0; j--) t += alpha[rnd(alpha.length)];
      check(t);
    }
    for (let i = 0; i < 100_000; i++) {
      const d = alpha[rnd(alpha.length)]!;
      const part = () => {
        let s = '';
        for (let j = rnd(6); j > 0; j--) s += [d, '\\', 'a', 'e', '\\' + d, 'g', '\n'][rnd(7)];
        return s;
      };
      check([' ', '', ';', 'x;'][rnd(4)] + 's' + d + part() + d + part() + d + ['', 'g', 'e', 'ge', '1e', 'w', 'pe'][rnd(7)] + ['', ';', ' e', 'x'][rnd(4)]);
    }
    for (const c of corpus) check(c);
    expect(exec).toBeGreaterThan(1000);
    expect(subst).toBeGreaterThan(1000);
  }, 60_000);

  it('run in linear time on inputs the regexes take exponential/cubic time on', () => {
    const t0 = performance.now();
    expect(sedSubstituteExec(`s/${'\\['.repeat(5000)}/x/g`)).toBe(false);
    expect(sedSubstituteExec(`s/${'\\['.repeat(5000)}/x/ge`)).toBe(true);
    expect(sedExecCommand('1' + '\n'.repeat(100_000) + 'x')).toBe(false);
    expect(sedExecCommand(';'.repeat(50_000) + ' e')).toBe(true);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});
