import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { decideEgress, defaultPolicy, expandAllow, hostMatches, parsePolicy, PolicyError, policyHash } from './index.ts';

const GOLDEN = fileURLToPath(new URL('../testdata/policy-golden.yaml', import.meta.url));

async function withNetwork(network: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<string> {
  const p = structuredClone(await defaultPolicy()) as unknown as Record<string, unknown>;
  p.network = { ...(p.network as object), ...network };
  return stringify({ ...p, ...extra });
}

function refused(text: string): PolicyError {
  try {
    parsePolicy(text, 'p.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return e as PolicyError;
  }
  throw new Error('the policy was accepted');
}

describe('network.mode proxy and network.allow', () => {
  it('the default stays none and an older policy keeps its hash', async () => {
    expect((await defaultPolicy()).network.mode).toBe('none');
    expect(policyHash(parsePolicy(readFileSync(GOLDEN, 'utf8')))).toBe('063a561322d8719b8620aaa1bb2b6660211dbc3934e1821e9520281e90f4bce0');
  });

  it('accepts presets and rules, and changes the hash', async () => {
    const p = parsePolicy(await withNetwork({ mode: 'proxy', allow: ['pypi', { hosts: ['*.example.org', 'pypi.test'], ports: [80, 443], methods: ['GET'], paths: ['/simple/'] }] }));
    expect(p.network.mode).toBe('proxy');
    const rules = expandAllow(p.network.allow!);
    expect(rules[0]).toEqual({ hosts: ['pypi.org', 'files.pythonhosted.org'], ports: [443] });
    expect(policyHash(p)).not.toBe(policyHash(await defaultPolicy()));
  });

  it.each([
    [{ mode: 'proxy', allow: ['pypy'] }, 'network.allow.0', 'is not a preset'],
    [{ mode: 'proxy', allow: [{ hosts: ['10.0.0.1'] }] }, 'network.allow.0.hosts.0', 'is an IP address'],
    [{ mode: 'proxy', allow: [{ hosts: ['::1'] }] }, 'network.allow.0.hosts.0', 'is an IP address'],
    [{ mode: 'proxy', allow: [{ hosts: ['PyPI.org'] }] }, 'network.allow.0.hosts.0', 'must be lowercase'],
    [{ mode: 'proxy', allow: [{ hosts: ['*'] }] }, 'network.allow.0.hosts.0', 'is not a host name'],
    [{ mode: 'proxy', allow: [{ hosts: ['a.org'], ports: [0] }] }, 'network.allow.0.ports.0', ''],
    [{ mode: 'proxy', allow: [{ hosts: ['a.org'], paths: ['simple'] }] }, 'network.allow.0.paths.0', ''],
    [{ mode: 'none', allow: ['pypi'] }, 'network.allow', 'needs network.mode: proxy'],
    [{ mode: 'bridge' }, 'network.mode', '"bridge" is not implemented; only "none" (no network) or "proxy"'],
  ])('refuses %j naming %s', async (network, field, text) => {
    const err = refused(await withNetwork(network));
    expect(err.field).toBe(field);
    expect(err.message).toContain(text);
    expect(err.line).toBeGreaterThan(0);
  });

  it('a secret with hosts needs the proxy', async () => {
    const err = refused(await withNetwork({}, { secrets: [{ name: 'GITHUB_TOKEN', hosts: ['api.github.com'] }] }));
    expect(err.field).toBe('secrets.0.hosts');
    const ok = parsePolicy(await withNetwork({ mode: 'proxy', allow: ['github'] }, { secrets: [{ name: 'GITHUB_TOKEN', hosts: ['api.github.com'] }] }));
    expect(ok.secrets[0]!.hosts).toEqual(['api.github.com']);
  });
});

describe('decideEgress', () => {
  const rules = expandAllow(['pypi', { hosts: ['*.example.org'], ports: [80] }, { hosts: ['api.test'], ports: [80], methods: ['GET'], paths: ['/v1/'] }]);
  it('matches exact names and *. suffixes only', () => {
    expect(hostMatches('*.example.org', 'a.example.org')).toBe(true);
    expect(hostMatches('*.example.org', 'example.org')).toBe(false);
    expect(hostMatches('*.example.org', 'badexample.org')).toBe(false);
    expect(hostMatches('pypi.org', 'pypi.org.evil.com')).toBe(false);
  });
  it('decides on host, port, method and path', () => {
    expect(decideEgress(rules, { host: 'PyPI.org', port: 443 }).allowed).toBe(true);
    expect(decideEgress(rules, { host: 'pypi.org', port: 80 })).toEqual({ allowed: false, reason: 'pypi.org is allowed, but not on port 80' });
    expect(decideEgress(rules, { host: 'evil.com', port: 443 })).toEqual({ allowed: false, reason: 'evil.com is not on the run\'s network allowlist' });
    expect(decideEgress(rules, { host: 'x.example.org', port: 80, method: 'POST', path: '/' }).allowed).toBe(true);
    expect(decideEgress(rules, { host: 'api.test', port: 80, method: 'GET', path: '/v1/x' }).allowed).toBe(true);
    expect(decideEgress(rules, { host: 'api.test', port: 80, method: 'POST', path: '/v1/x' }).allowed).toBe(false);
    expect(decideEgress(rules, { host: 'api.test', port: 80, method: 'GET', path: '/v2/' }).allowed).toBe(false);
    expect(decideEgress(rules, { host: 'api.test', port: 80 }).allowed).toBe(false);
  });
});
