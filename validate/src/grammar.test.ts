// GrammarError says why by code (issue 11, point 8: callers decide from codes, not message text).
import { describe, expect, it } from 'vitest';
import { GrammarError, loadBashGrammar } from './index.ts';

const BIG = Array.from({ length: 4000 }, (_, i) => `bash -c 'echo ${i}'`).join('; ');

describe('GrammarError codes', () => {
  it('a parse past its time budget throws parse_cancelled', async () => {
    const grammar = await loadBashGrammar();
    let thrown: unknown;
    try {
      grammar.parse(BIG, 0);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(GrammarError);
    expect((thrown as GrammarError).code).toBe('parse_cancelled');
  });
});
