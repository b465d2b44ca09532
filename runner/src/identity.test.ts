import { mkdtempSync, rmSync, utimesSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRunnerIdentity, publicKeysOf, sealSecrets } from '@airlock/trust';
import { CLAIM_LEASE_MS, RunnerKeyring, claimIdentity, readIdentityFile } from './identity.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'airlock-identity-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('runner identities', () => {
  it('scaled runners claim different identities; a lease not refreshed is taken over', () => {
    const dir = tmp();
    for (const id of ['r-1', 'r-2']) writeFileSync(join(dir, `${id}.json`), JSON.stringify(createRunnerIdentity(id)), { mode: 0o600 });
    const a = claimIdentity(dir);
    const b = claimIdentity(dir);
    expect([a.identity.runnerId, b.identity.runnerId].sort()).toEqual(['r-1', 'r-2']);
    expect(() => claimIdentity(dir)).toThrow(/no free runner identity/);
    // a's runner died: its lease goes stale and the next runner takes that identity.
    const old = new Date(Date.now() - CLAIM_LEASE_MS - 1000);
    utimesSync(join(dir, `${a.identity.runnerId}.json.lease`), old, old);
    expect(claimIdentity(dir).identity.runnerId).toBe(a.identity.runnerId);
    b.release();
    expect(claimIdentity(dir).identity.runnerId).toBe(b.identity.runnerId);
  });

  it('refuses an identity file others can read, and keeps a local identity across restarts', () => {
    const dir = tmp();
    const file = join(dir, 'x.json');
    writeFileSync(file, JSON.stringify(createRunnerIdentity('x')), { mode: 0o644 });
    expect(() => readIdentityFile(file)).toThrow(/chmod 600/);
    const first = RunnerKeyring.local(dir, 'r-9');
    expect(statSync(join(dir, 'identity', 'r-9.json')).mode & 0o777).toBe(0o600);
    expect(RunnerKeyring.local(dir, 'r-9').keys).toEqual(first.keys);
  });

  it('opens secrets sealed to it and refuses those sealed to another runner as unauthorized', () => {
    const mine = createRunnerIdentity('me');
    const k = new RunnerKeyring(mine);
    const req = { v: 1, runId: '01JABCDEFGHJKMNPQRSTVWXYZ0', step: 1, cmd: 'true', env: {}, timeoutMs: 1000, policyHash: '0'.repeat(64), token: 't', secrets: {} } as const;
    const sealed = sealSecrets({ T: 'value-123' }, publicKeysOf(mine).curve, { runId: req.runId, step: 1 });
    expect(k.unseal({ ...req, sealed }).secrets).toEqual({ T: 'value-123' });
    const other = sealSecrets({ T: 'value-123' }, publicKeysOf(createRunnerIdentity('other')).curve, { runId: req.runId, step: 1 });
    expect(() => k.unseal({ ...req, sealed: other })).toThrow(expect.objectContaining({ code: 'unauthorized' }));
  });
});
