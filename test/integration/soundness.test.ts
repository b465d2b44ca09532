// The differential soundness harness, fast subset (`npm run soundness` runs everything): commands run in
// throwaway sandboxes under strace next to the chain's prediction; any program run, decoy secret read,
// protected file written or connection tried that the chain did not predict is a soundness bug.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createValidator, type Validator } from '@airlock/validate';
import { loadCases } from '../soundness/cases.ts';
import { runBatch, runCases, type Case } from '../soundness/harness.ts';
import { ensureSoundnessImage } from '../soundness/image.ts';
import { judge, type Prediction } from '../soundness/judge.ts';
import { buildReport, summary } from '../soundness/report.ts';
import { SUBSET } from '../soundness/subset.ts';
import { HARNESS_STARTUP } from '../soundness/startup.ts';
import { parseTrace } from '../soundness/trace.ts';

// `make test` runs under the machine's docker lock already when anyone holds it: never take it again here.
const LOCK = false;
let validator: Validator;

beforeAll(async () => {
  ensureSoundnessImage();
  validator = await createValidator({ startup: HARNESS_STARTUP });
}, 600_000);

/** A chain that predicts nothing and allows everything: the harness must catch each kind of effect. */
const blind: Prediction = { verdict: 'allow', rule: 'policy.allow', opaque: false, exec: [], network: false, source: 'commands' };

describe('the harness sees what bash does', () => {
  const controls: Case[] = [
    { id: 'c0', cmd: 'rm -rf ~ /workspace/* && echo gone', source: 'control' },
    // The previous command deleted the home: the reset must have put the decoys back.
    { id: 'c1', cmd: 'cat ~/.ssh/id_rsa > /dev/null', source: 'control' },
    { id: 'c2', cmd: 'echo "alias ls=rm" >> ~/.bashrc', source: 'control' },
    { id: 'c3', cmd: "bash -c 'id -u' | tr -d 0-9", source: 'control' },
    { id: 'c4', cmd: "python3 -c 'import socket; s=socket.socket(); s.settimeout(1); s.connect_ex((\"127.0.0.1\", 9))'", source: 'control' },
    { id: 'c5', cmd: 'ln -s ~/.aws/credentials x && cat x', source: 'control' },
    { id: 'c6', cmd: 'sleep 30 & echo started', source: 'control' },
    { id: 'c7', cmd: 'cd /tmp && mv ~/.gitconfig y', source: 'control' },
  ];
  let obs: Map<string, ReturnType<typeof parseTrace>>;
  let runs: Awaited<ReturnType<typeof runBatch>>;
  beforeAll(async () => {
    runs = await runBatch(controls, { timeoutSec: 2, lock: LOCK });
    obs = new Map([...runs].map(([id, r]) => [id, parseTrace(r!.trace)]));
  }, 300_000);

  const kinds = (id: string, pred: Prediction = blind) => judge(pred, obs.get(id)!).bugs.map((b) => b.kind);

  it('a destructive command runs, and the next one finds the home and the decoys restored', () => {
    expect(kinds('c0')).toContain('unpredicted-exec');
    expect(judge(blind, obs.get('c1')!).secretReads).toEqual(['/home/agent/.ssh/id_rsa']);
    expect(kinds('c1')).toEqual(['unpredicted-exec', 'secret-read']);
  });

  it('writes to protected files, renames included, are seen (relative names resolved against the cwd)', () => {
    expect(judge(blind, obs.get('c2')!).protectedWrites).toEqual(['/home/agent/.bashrc']);
    expect(judge(blind, obs.get('c7')!).protectedWrites).toEqual(['/home/agent/.gitconfig']);
  });

  it('attributes execs to the process tree: a predicted shell string covers its programs, a missing one is a bug', () => {
    const o = obs.get('c3')!;
    expect(o.execs.map((e) => e.name)).toEqual(expect.arrayContaining(['bash', 'id', 'tr']));
    expect(judge({ ...blind, exec: ['bash', 'id', 'tr'] }, o).bugs).toEqual([]);
    const missing = judge({ ...blind, exec: ['bash', 'tr'] }, o).bugs;
    expect(missing.map((b) => b.detail)).toEqual([expect.stringMatching(/^id .* run by bash$/)]);
  });

  it('connect() attempts are seen with network none; predicted network use is not a bug', () => {
    expect(judge(blind, obs.get('c4')!).connects).toEqual(['python3→127.0.0.1:9']);
    expect(kinds('c4', { ...blind, exec: ['python3'] })).toEqual(['unpredicted-connect']);
    expect(kinds('c4', { ...blind, exec: ['python3'], network: true })).toEqual([]);
  });

  it('reads through a symlink are resolved to the decoy; opaque or non-allow verdicts are not read bugs', () => {
    expect(judge(blind, obs.get('c5')!).secretReads).toEqual(['/home/agent/.aws/credentials']);
    expect(kinds('c5', { ...blind, exec: ['ln', 'cat'], verdict: 'deny' })).toEqual([]);
    expect(kinds('c5', { ...blind, exec: ['ln', 'cat'], opaque: true })).toEqual([]);
  });

  it('a background job is bounded by the timeout and killed before the next command', () => {
    expect(runs.get('c6')!.run.timedOut).toBe(true);
    expect(runs.get('c6')!.run.clean).toBe(true);
    expect(runs.get('c7')!.run.clean).toBe(true);
  });
});

describe('soundness on the shared corpora (fast subset)', () => {
  it('no soundness bug: every hostile line, sampled benign lines, sampled metamorphic variants', async () => {
    const set = loadCases(SUBSET);
    const cases = [...set.hostile, ...set.variants, ...set.benign];
    const results = await runCases(cases, validator, { timeoutSec: 2, lock: LOCK, batchSize: cases.length });
    const report = buildReport(cases, results);
    const out = resolve(import.meta.dirname, '..', 'soundness', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'subset.json'), JSON.stringify(report, null, 1));
    console.log(summary(report, 200));
    // Only a command bash can never receive (a NUL byte) may lack a trace.
    expect(results.filter((r) => !r.run && !r.cmd.includes('\0')).map((r) => r.cmd)).toEqual([]);
    const bugs = report.results.flatMap((r) => r.bugs.map((b) => `${b.kind} [${r.id} ${r.verdict}] ${r.cmd}: ${b.detail}`));
    expect(bugs, `soundness bugs (report: ${join(out, 'subset.json')})`).toEqual([]);
  }, 900_000);
});
