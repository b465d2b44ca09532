// Shells that read start-up files, run in real bash under strace (the soundness harness): every member of the
// family (validate/src/startup-members.ts) must be predicted, programs its start-up files run included, or be
// opaque. Controls first: a chain whose model hides what /etc/profile runs must be caught by the same run.
import { beforeAll, describe, expect, it } from 'vitest';
import { createValidator, SANDBOX_STARTUP, type Validator } from '@airlock/validate';
import { loginMembers, startupMembers } from '../../validate/src/startup-members.ts';
import { judgeCase, runBatch, type Case, type CaseResult } from '../soundness/harness.ts';
import { ensureSoundnessImage } from '../soundness/image.ts';
import { HARNESS_STARTUP } from '../soundness/startup.ts';
import { parseTrace } from '../soundness/trace.ts';

let model: Validator;
let blindProfile: Validator;
let results: CaseResult[];
let cases: Case[];

beforeAll(async () => {
  ensureSoundnessImage();
  model = await createValidator({ startup: HARNESS_STARTUP });
  // The same model, except that it says /etc/profile runs nothing.
  blindProfile = await createValidator({ startup: { ...HARNESS_STARTUP, files: { ...HARNESS_STARTUP.files, '/etc/profile': '' } } });
  cases = startupMembers().map((cmd, i) => ({ id: `s${i}`, cmd, source: 'control' }));
  const runs = await runBatch(cases, { timeoutSec: 3, lock: false });
  const tools = new Set(model.policy.network.tools);
  results = cases.map((c) => {
    const r = runs.get(c.id);
    return judgeCase(c, model, tools, r?.run, r ? parseTrace(r.trace) : undefined);
  });
}, 600_000);

describe('shell start-up files in real bash', () => {
  it('every member ran and left a trace', () => {
    expect(results.filter((r) => !r.run).map((r) => r.cmd)).toEqual([]);
    expect(results.length).toBeGreaterThan(150);
  });

  it('login shells really run what /etc/profile runs (id), and a chain blind to it is caught', () => {
    const logins = new Set(loginMembers());
    const login = results.filter((r) => logins.has(r.cmd));
    expect(login.length).toBe(logins.size);
    expect(login.filter((r) => !r.observed.execs.some((e) => e.name === 'id')).map((r) => r.cmd)).toEqual([]);
    const tools = new Set(blindProfile.policy.network.tools);
    const caught = login.filter((r) => {
      const j = judgeCase(cases.find((c) => c.id === r.id)!, blindProfile, tools, r.run, r.trace);
      return j.bugs.some((b) => b.kind === 'unpredicted-exec' && b.detail.startsWith('id '));
    });
    // Every login member the blind chain does not call opaque for another reason shows `id` as unpredicted.
    expect(caught.length, `caught ${caught.length} of ${login.length}`).toBeGreaterThan(100);
  });

  it('no soundness bug: every program the start-up files ran was predicted, or the chain said opaque', () => {
    const bugs = results.flatMap((r) => r.bugs.map((b) => `${b.kind} [${r.verdict}] ${r.cmd}: ${b.detail}`));
    expect(bugs).toEqual([]);
  });

  it('ordinary login shells on the prepared home are allowed', () => {
    const plain = results.filter((r) => /^(bash -lc|bash -l -c|bash --login -c|sh -lc|\/bin\/bash -lc) /.test(r.cmd));
    expect(plain.length).toBeGreaterThan(15);
    expect(plain.filter((r) => r.verdict !== 'allow').map((r) => `${r.cmd}: ${r.rule}`)).toEqual([]);
  });

  it('the default model (a clean home) is the image: the same /etc/profile summary', () => {
    expect(HARNESS_STARTUP.files['/etc/profile']).toBe(SANDBOX_STARTUP.files['/etc/profile']);
  });
});
