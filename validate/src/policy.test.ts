import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { canonicalJson } from '@airlock/proto';
import { DEFAULT_POLICY_PATH, defaultPolicy, parsePolicy, PolicyError, policyHash, RULE_IDS } from './index.ts';

describe('policy files', () => {
  it('the shipped default policy validates', async () => {
    const p = await defaultPolicy();
    expect(p.network.mode).toBe('none');
    expect(p.limits.memoryBytes).toBeGreaterThan(0);
  });

  it('hash ignores formatting, key order and YAML vs JSON', async () => {
    const text = await readFile(DEFAULT_POLICY_PATH, 'utf8');
    const a = parsePolicy(text, 'a.yaml');
    const reverse = (x: unknown): unknown =>
      Array.isArray(x) ? x.map(reverse) : x && typeof x === 'object' ? Object.fromEntries(Object.entries(x).reverse().map(([k, y]) => [k, reverse(y)])) : x;
    const asJson = JSON.stringify(reverse(a), null, 1);
    const b = parsePolicy(asJson, 'b.json');
    const c = parsePolicy(stringify(a, { sortMapEntries: true }), 'c.yaml');
    expect(policyHash(b)).toBe(policyHash(a));
    expect(policyHash(c)).toBe(policyHash(a));
    expect(policyHash(a)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hash changes when a rule changes', async () => {
    const a = await defaultPolicy();
    const b = { ...a, network: { ...a.network, external: 'deny' as const } };
    expect(policyHash(b)).not.toBe(policyHash(a));
  });

  it('canonical JSON sorts keys recursively', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}');
  });

  it('a bad field names file, line and field', async () => {
    const text = (await readFile(DEFAULT_POLICY_PATH, 'utf8')).replace('external: ask', 'external: maybe');
    let err: unknown;
    try {
      parsePolicy(text, 'bad.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyError);
    const pe = err as PolicyError;
    expect(pe.field).toBe('network.external');
    expect(pe.line).toBe(text.split('\n').findIndex((l) => l.includes('external: maybe')) + 1);
    expect(pe.message).toMatch(/^bad\.yaml:\d+:\d+: network\.external: /);
  });

  it('YAML syntax errors carry a line', () => {
    expect(() => parsePolicy('version: 1\nname: [unclosed\n', 'syn.yaml')).toThrow(/syn\.yaml:\d+/);
  });

  it('a bad regex is rejected with its field', async () => {
    const p = await defaultPolicy();
    const text = stringify({ ...p, commands: [{ id: 'x.y', verdict: 'ask', reason: 'r', commands: ['ls'], argsMatch: ['(('] }] });
    expect(() => parsePolicy(text, 'rx.yaml')).toThrow(/commands\.0\.argsMatch\.0: not a valid regular expression/);
  });

  it('fail-closed rules cannot be relaxed by overrides', async () => {
    const p = await defaultPolicy();
    const text = stringify({ ...p, overrides: { 'parse.error': 'allow' } });
    expect(() => parsePolicy(text, 'o.yaml')).toThrow(/parse\.error fails closed/);
  });

  describe('settings that are not implemented are refused, naming the field', () => {
    const field = async (mutate: (p: Record<string, unknown>) => void): Promise<PolicyError> => {
      const p = structuredClone(await defaultPolicy()) as unknown as Record<string, unknown>;
      mutate(p);
      try {
        parsePolicy(stringify(p), 'p.yaml');
      } catch (e) {
        expect(e).toBeInstanceOf(PolicyError);
        return e as PolicyError;
      }
      throw new Error('the policy was accepted');
    };

    it.each(['bridge', 'host', 'egress'])('network.mode: %s', async (mode) => {
      const err = await field((p) => ((p.network as Record<string, unknown>).mode = mode));
      expect(err.field).toBe('network.mode');
      expect(err.message).toContain(`network.mode: "${mode}" is not implemented; only "none"`);
      expect(err.line).toBeGreaterThan(0);
    });

    it('network.mode none (or absent) is accepted', async () => {
      const p = await defaultPolicy();
      expect(parsePolicy(stringify({ ...p, network: { ...p.network, mode: 'none' } })).network.mode).toBe('none');
      const { mode: _, ...rest } = p.network;
      expect(parsePolicy(stringify({ ...p, network: rest })).network.mode).toBe('none');
    });

    it('runtime: only runc and runsc', async () => {
      const p = await defaultPolicy();
      expect(parsePolicy(stringify({ ...p, runtime: 'runsc' })).runtime).toBe('runsc');
      const err = await field((q) => (q.runtime = 'kata'));
      expect(err.field).toBe('runtime');
    });

    it('unknown fields anywhere are refused rather than ignored', async () => {
      expect((await field((q) => (q.egress = { allow: ['example.com'] }))).field).toBe('(root)');
      expect((await field((q) => ((q.limits as Record<string, unknown>).diskBytes = 1))).field).toBe('limits');
      // network.allow exists since egress control; with mode none it is refused, naming itself.
      expect((await field((q) => ((q.network as Record<string, unknown>).allow = []))).field).toBe('network.allow');
      expect((await field((q) => ((q.network as Record<string, unknown>).deny = []))).field).toBe('network');
    });
  });

  it('every rule id in the default policy is documented', async () => {
    const p = await defaultPolicy();
    const documented = new Set(RULE_IDS.map((r) => r.id));
    for (const r of [...p.commands, ...p.paths, ...p.env, ...p.code]) expect(documented, r.id).toContain(r.id);
  });
});
