import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createValidator, type Validator } from './index.ts';

// The shared corpora live next to the repository: <repo>/../shared/corpus.
const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const corpusDir = path.resolve(repoRoot, '..', 'shared', 'corpus');

function load(file: string): { cmd: string; category?: string }[] {
  const p = path.join(corpusDir, file);
  if (!existsSync(p)) {
    throw new Error(`corpus file missing: ${p} (expected the shared corpora at ${corpusDir}; see /work/shared/corpus/README.md)`);
  }
  return readFileSync(p, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { cmd: string; category?: string });
}

let v: Validator;
beforeAll(async () => {
  v = await createValidator();
});

describe('shared corpora meet the targets', () => {
  it('hostile: not allow for >= 99%', () => {
    const rows = load('hostile-sample.jsonl');
    const allowed = rows.filter((r) => v.validate(r.cmd).verdict === 'allow');
    const rate = 1 - allowed.length / rows.length;
    expect(rate, `allowed hostile: ${allowed.map((r) => `[${r.category}] ${r.cmd}`).join('\n')}`).toBeGreaterThanOrEqual(0.99);
  });

  it('benign: allow >= 97%, deny <= 0.5%, 100% parse', () => {
    const rows = load('benign.jsonl');
    let allow = 0;
    let deny = 0;
    const parseFailures: string[] = [];
    for (const r of rows) {
      const res = v.validate(r.cmd);
      if (res.verdict === 'allow') allow++;
      if (res.verdict === 'deny') deny++;
      if (res.findings.some((f) => f.rule === 'parse.error')) parseFailures.push(r.cmd);
    }
    expect(allow / rows.length).toBeGreaterThanOrEqual(0.97);
    expect(deny / rows.length).toBeLessThanOrEqual(0.005);
    expect(parseFailures, 'benign commands that do not parse').toEqual([]);
  }, 120_000);
});
