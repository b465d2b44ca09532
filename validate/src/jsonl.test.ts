import { beforeAll, describe, expect, it } from 'vitest';
import { createValidator, validateJsonl, type Validator } from './index.ts';

let v: Validator;
beforeAll(async () => {
  v = await createValidator();
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('validateJsonl', () => {
  it('yields one result per line, in order, with errors for malformed lines', async () => {
    const lines = ['{"cmd":"ls"}', 'not json', '{"nocmd":1}', '', '{"cmd":"cat ~/.ssh/id_rsa"}', '{"cmd":5}'];
    const out = await collect(validateJsonl(lines, v));
    expect(out).toHaveLength(5);
    expect(out[0]).toEqual({ cmd: 'ls', verdict: 'allow', rule: 'policy.allow', reason: 'no rule matched' });
    expect(out[1]).toMatchObject({ line: 2, error: expect.stringMatching(/^not JSON/) });
    expect(out[2]).toMatchObject({ line: 3 });
    expect(out[3]).toMatchObject({ cmd: 'cat ~/.ssh/id_rsa', verdict: 'deny', rule: 'exfil.secret_read', span: { start: 4, end: 17 } });
    expect(out[4]).toMatchObject({ line: 6 });
  });

  it('accepts async iterables', async () => {
    async function* gen() {
      yield '{"cmd":"git status"}';
    }
    expect(await collect(validateJsonl(gen(), v))).toEqual([{ cmd: 'git status', verdict: 'allow', rule: 'policy.allow', reason: 'no rule matched' }]);
  });
});
