import { beforeAll, describe, expect, it } from 'vitest';
import { loadBashGrammar } from '../grammar.ts';
import { loadGrammar, parseCode, type TreeLang } from './tree.ts';

// tree-sitter resumes a cancelled parse on the next call unless the parser is reset: the next
// code would be read with the cancelled one's state (the bash grammar had this bug: after a
// timeout, `cat ~/.ssh/id_rsa` came out allow).
describe('a cancelled parse does not leak into the next one', () => {
  beforeAll(async () => {
    await loadBashGrammar(); // initialises web-tree-sitter, as createValidator does
  });
  it.each<[TreeLang, string, string]>([
    ['python', 'print(1 + 2 * 3)\n', 'import os\nos.system("id")\n'],
    ['javascript', 'console.log(1 + 2 * 3);\n', 'require("child_process").execSync("id");\n'],
  ])('%s', (lang, stmt, next) => {
    loadGrammar(lang);
    const big = stmt.repeat(2000);
    expect(parseCode(lang, big, performance.now() - 1)).toBeNull();
    const t = parseCode(lang, next, performance.now() + 10_000);
    expect(t).not.toBeNull();
    expect(t!.hasError).toBe(false);
    expect(t!.root.end).toBe(next.length);
    expect(JSON.stringify(t!.root)).toContain(lang === 'python' ? 'import_statement' : 'call_expression');
  });
});
