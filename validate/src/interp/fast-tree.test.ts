/**
 * `parseCode` copies interpreter trees through web-tree-sitter's raw wasm exports. This checks the
 * fast copy against the public-API copy it replaces, node for node (type, named-ness, field,
 * offsets, children, comments dropped) and `hasError`, on the interpreter code of the shared
 * corpus (heredoc bodies, which are mostly Python), on whole corpus commands read as Python and as
 * JavaScript (mostly error trees), and on a cancelled parse.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBashGrammar, type SyntaxNode } from '../grammar.ts';
import { loadGrammar, parseCode, parseCodePublic, type TreeLang } from './tree.ts';

const corpusDir = path.resolve(import.meta.dirname, '..', '..', '..', '..', 'shared', 'corpus');
const corpus = ['benign.jsonl', 'hostile-sample.jsonl'].flatMap((f) =>
  readFileSync(path.join(corpusDir, f), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { cmd: string }).cmd),
);

const bodies: string[] = [];
beforeAll(async () => {
  const bash = await loadBashGrammar();
  const visit = (n: SyntaxNode, src: string): void => {
    if (n.type === 'heredoc_body') bodies.push(src.slice(n.start, n.end));
    for (const c of n.children) visit(c, src);
  };
  for (const c of corpus) if (c.includes('<<')) visit(bash.parse(c, 10_000).root, c);
  loadGrammar('python');
  loadGrammar('javascript');
});

function differences(lang: TreeLang, inputs: readonly string[]): string[] {
  const bad: string[] = [];
  for (const src of inputs) {
    const fast = parseCode(lang, src, Infinity);
    const slow = parseCodePublic(lang, src, Infinity);
    if (!isDeepStrictEqual(fast, slow)) bad.push(src.slice(0, 120));
  }
  return bad;
}

describe('the raw copy of interpreter trees equals the public-API copy', () => {
  // Sampled so the file runs in seconds; VALIDATE_FULL_TREE_CHECK=1 compares every input.
  const every = process.env.VALIDATE_FULL_TREE_CHECK === '1' ? 1 : 0;
  it('heredoc bodies of the shared corpus, as Python (every 3rd)', { timeout: 120_000 }, () => {
    expect(bodies.length).toBeGreaterThan(1000);
    expect(differences('python', bodies.filter((_, i) => i % (every || 3) === 0))).toEqual([]);
  });
  it('heredoc bodies of the shared corpus, as JavaScript (every 10th)', { timeout: 120_000 }, () => {
    expect(differences('javascript', bodies.filter((_, i) => i % (every || 10) === 0))).toEqual([]);
  });
  it('corpus commands as Python and as JavaScript (every 20th; error trees)', { timeout: 120_000 }, () => {
    const sample = corpus.filter((_, i) => i % (every || 20) === 0);
    let errors = 0;
    for (const c of sample) if (parseCode('python', c, Infinity)!.hasError) errors++;
    expect(errors).toBeGreaterThan(50); // the comparison covers error trees
    expect(differences('python', sample)).toEqual([]);
    expect(differences('javascript', sample)).toEqual([]);
  });
  it('inputs of 4 KiB and more (parsed with the deadline check)', { timeout: 120_000 }, () => {
    const big = bodies.filter((b) => b.length >= 4096);
    expect(big.length).toBeGreaterThan(10);
    expect(differences('python', big)).toEqual([]);
  });
  it.each<TreeLang>(['python', 'javascript'])('%s: a cancelled fast parse returns null and does not leak into the next one', (lang) => {
    const big = (lang === 'python' ? 'print(1 + 2 * 3)\n' : 'console.log(1 + 2 * 3);\n').repeat(2000);
    expect(parseCode(lang, big, performance.now() - 1)).toBeNull();
    const next = lang === 'python' ? 'import os\nos.system("id")  # run\n' : 'require("child_process").execSync("id"); // run\n';
    const t = parseCode(lang, next, Infinity);
    expect(t).toEqual(parseCodePublic(lang, next, Infinity));
    expect(t!.hasError).toBe(false);
    expect(JSON.stringify(t!.root)).not.toContain('comment');
  });
});
