// The lint config (eslint.config.js) catches the bug family issue 11 is about: a promise nobody
// awaits or handles (including one hidden behind `void`), an async callback where a void one is
// expected, and type imports that are not marked as such. Linted here on a small program of its own,
// so the test stays fast; `npm run lint` applies the same config to the whole repository.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ESLint } from 'eslint';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'airlock-lint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
  compilerOptions: { target: 'ES2024', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: [] },
  include: ['*.ts'],
}));
writeFileSync(join(dir, 'dep.ts'), 'export type Verdict = "allow" | "deny";\nexport async function send(): Promise<void> {}\n');
const SOURCE = [
  "import { Verdict } from './dep.ts';", // 1: consistent-type-imports
  "import { send } from './dep.ts';",
  'export function f(v: Verdict): void {',
  '  send();', // 4: no-floating-promises
  '  void send();', // 5: no-floating-promises (void hides a rejection just as well)
  '  send().catch(() => {});', // 6: handled
  "  [1].forEach(async () => { await send(); });", // 7: no-misused-promises
  "  if (send()) console.log(v);", // 8: no-misused-promises (a promise is always truthy)
  '}',
].join('\n') + '\n';
writeFileSync(join(dir, 'bad.ts'), SOURCE);

describe('eslint.config.js', () => {
  it('reports floating and misused promises and unmarked type imports, at the right lines', async () => {
    const eslint = new ESLint({
      cwd: dir,
      overrideConfigFile: join(ROOT, 'eslint.config.js'),
      overrideConfig: { languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: dir } } },
    });
    const [result] = await eslint.lintFiles([join(dir, 'bad.ts')]);
    const found = (result?.messages ?? []).map((m) => `${m.line}:${m.ruleId ?? m.message}`).sort();
    expect(found).toEqual([
      '1:@typescript-eslint/consistent-type-imports',
      '4:@typescript-eslint/no-floating-promises',
      '5:@typescript-eslint/no-floating-promises',
      '7:@typescript-eslint/no-misused-promises',
      '8:@typescript-eslint/no-misused-promises',
    ]);
  }, 60_000);
});
