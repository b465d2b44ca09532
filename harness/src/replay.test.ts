import { describe, expect, it } from 'vitest';
import { createValidator, defaultPolicy } from '@airlock/validate';
import { nonIdempotent } from './replay.ts';

// Which recorded steps replay skips is decided on what the command runs, as the validation chain
// sees it: every way of running a tool counts, and naming it as a word does not.
describe('nonIdempotent', async () => {
  const base = await defaultPolicy();
  const v = await createValidator({ policy: { ...base, replay: { nonIdempotent: { secrets: true, network: true, commands: ['deploy-prod'] } } } });
  const tools = ['curl', 'wget', 'deploy-prod'];
  // Each form runs `T`; the placeholder is replaced by the tool's name.
  const runs = [
    'T https://example.test',
    '/usr/bin/T x',
    'env A=1 T x',
    'timeout 5 T x',
    'echo hi | T x',
    'bash -c "T x"',
    'sh -c \'T x\'',
    'out=$(T x); echo "$out"',
    'true && T x',
    'false || T x',
    '( cd /tmp && T x )',
    'nohup T x',
  ];
  // Each form names `T` without running it.
  const names = ['echo T', 'printf "%s\\n" T', 'grep -r T .', 'echo T >> notes', 'cat T.txt'];

  for (const tool of tools) {
    for (const form of runs) {
      const cmd = form.replaceAll('T', tool);
      it(`skips: ${cmd}`, () => {
        expect(nonIdempotent(v, cmd, [])).not.toBeNull();
      });
    }
    for (const form of names) {
      const cmd = form.replaceAll('T', tool);
      it(`replays: ${cmd}`, () => {
        expect(nonIdempotent(v, cmd, [])).toBeNull();
      });
    }
  }

  it('names the tool and the policy field that made it non-idempotent', () => {
    expect(nonIdempotent(v, 'bash -c "curl x"', [])).toBe('uses the network tool curl');
    expect(nonIdempotent(v, 'deploy-prod --now', [])).toBe('runs deploy-prod (policy replay.nonIdempotent.commands)');
    expect(nonIdempotent(v, 'echo ok', ['API_TOKEN'])).toBe('asked for secrets API_TOKEN');
  });

  it('treats a command whose programs cannot be known as non-idempotent (fail closed)', () => {
    expect(nonIdempotent(v, 'eval "$(cat script)"', [])).toMatch(/cannot be fully known/);
  });
});
