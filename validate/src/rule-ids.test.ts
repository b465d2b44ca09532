import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RULE_IDS } from './index.ts';

describe('rule ids', () => {
  it('are unique, dotted and documented for every id the code can emit', () => {
    const ids = RULE_IDS.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/);
    // Every source module of the chain (not tests): new modules are covered without listing them here.
    const files = (readdirSync(new URL('.', import.meta.url), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    const src = files.map((f) => readFileSync(new URL(f, import.meta.url), 'utf8')).join('\n');
    const emitted = new Set([...src.matchAll(/'((?:input|parse|internal|obfuscation|exec|interp|net|exfil|destroy|fs|privesc|persistence|antiforensics|env|git|shell|resource|supply_chain|data|container|policy|opaque|system|secret|remote|cloud)\.[a-z_]+)'/g)].map((m) => m[1]!));
    for (const m of src.matchAll(/\bopaque\(ctx, sc, '([a-z_]+)'/g)) emitted.add(`opaque.${m[1]}`);
    expect(emitted).toContain('opaque.interp_code');
    for (const id of emitted) expect(ids, id).toContain(id);
  });
});
