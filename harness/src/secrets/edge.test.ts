import { describe, expect, it } from 'vitest';
import { SecretStore, envSecrets } from './store.ts';

describe('secrets at the edge (policy secrets[].hosts)', () => {
  const store = new SecretStore([envSecrets({ AIRLOCK_SECRET_GITHUB_TOKEN: 'ghp-long-enough-token' })]);
  const grants = [{ name: 'GITHUB_TOKEN', hosts: ['api.github.com'] }];
  it('is granted as the variable of its own name (the runner swaps it for a placeholder by that name)', () => {
    expect(store.resolve({ GITHUB_TOKEN: '${secret:GITHUB_TOKEN}' }, grants, ['git']).secrets).toEqual({ GITHUB_TOKEN: 'ghp-long-enough-token' });
  });
  it('is refused under another name, where the sandbox would get the value itself', () => {
    expect(() => store.resolve({ TOKEN: '${secret:GITHUB_TOKEN}' }, grants, ['git'])).toThrow(expect.objectContaining({ code: 'secret_denied', message: expect.stringContaining('pass it as GITHUB_TOKEN=${secret:GITHUB_TOKEN}, not as TOKEN') }));
  });
});
