// `network.unlisted` and `network.askWaitMs`: validated, refused where they could mean nothing, and
// absent by default (older policies keep their hashes); `listsHostPort` says what `ask` may hold.
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { defaultPolicy, expandAllow, listsHostPort, parsePolicy, PolicyError, policyHash } from './index.ts';

async function withNetwork(network: Record<string, unknown>): Promise<string> {
  const p = structuredClone(await defaultPolicy()) as unknown as Record<string, unknown>;
  p.network = { ...(p.network as object), ...network };
  return stringify(p);
}

function refusal(text: string): PolicyError {
  try {
    parsePolicy(text, 'p.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return e as PolicyError;
  }
  throw new Error('the policy was accepted');
}

describe('network.unlisted', () => {
  it('is absent by default (deny) and changes the hash when set', async () => {
    const base = parsePolicy(await withNetwork({ mode: 'proxy', allow: ['pypi'] }));
    expect(base.network.unlisted).toBeUndefined();
    const ask = parsePolicy(await withNetwork({ mode: 'proxy', allow: ['pypi'], unlisted: 'ask', askWaitMs: 5000 }));
    expect(ask.network).toMatchObject({ unlisted: 'ask', askWaitMs: 5000 });
    expect(policyHash(ask)).not.toBe(policyHash(base));
  });

  it.each([
    [{ mode: 'proxy', unlisted: 'maybe' }, 'network.unlisted'],
    [{ mode: 'none', unlisted: 'ask' }, 'network.unlisted'],
    [{ mode: 'proxy', unlisted: 'ask', askWaitMs: 10 }, 'network.askWaitMs'],
    [{ mode: 'proxy', unlisted: 'ask', askWaitMs: 7_200_000 }, 'network.askWaitMs'],
    [{ mode: 'proxy', askWaitMs: 5000 }, 'network.askWaitMs'],
    [{ mode: 'proxy', unlisted: 'deny', askWaitMs: 5000 }, 'network.askWaitMs'],
  ])('refuses %j naming %s', async (network, field) => {
    expect(refusal(await withNetwork(network)).field).toBe(field);
  });

  it('listsHostPort: a rule names the host on the port, whatever its methods or paths', () => {
    const rules = expandAllow(['pypi', { hosts: ['*.example.org'], ports: [80], methods: ['GET'] }]);
    expect(listsHostPort(rules, 'pypi.org', 443)).toBe(true);
    expect(listsHostPort(rules, 'PyPI.org', 443)).toBe(true);
    expect(listsHostPort(rules, 'pypi.org', 80)).toBe(false);
    expect(listsHostPort(rules, 'a.example.org', 80)).toBe(true);
    expect(listsHostPort(rules, 'example.org', 80)).toBe(false);
    expect(listsHostPort(rules, 'evil.test', 443)).toBe(false);
  });
});
