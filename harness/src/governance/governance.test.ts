import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AirlockError, GovernancePolicySchema, GENESIS_HASH, PROTOCOL_VERSION } from '@airlock/proto';
import type { LogEvent } from '@airlock/proto';
import { authorize, authorizeRun, refuseSelfDecision } from './access.ts';
import { exhausted, mergeBudgets } from './budgets.ts';
import { applyEvent, emptyFold, foldRun } from './fold.ts';
import { issueCredential, verifyCredential } from './identity.ts';
import { detectLoop, type StepTrace } from './loops.ts';

const loops = GovernancePolicySchema.parse({}).loops;
const RUN = '01JAAAAAAAAAAAAAAAAAAAAAAA';

/** A trace entry: `cmd` ran with exit `code` and `out` bytes of output. */
const ran = (step: number, cmd: string, code: number, out = 10, snapshot?: string): StepTrace => ({ step, cmd, result: `${code}/${out}`, exitCode: code, refused: false, ...(snapshot ? { snapshot } : {}) });
const refused = (step: number, cmd: string): StepTrace => ({ step, cmd, result: null, exitCode: null, refused: true });

describe('loop detectors', () => {
  it('the same command with the same result 4 times in a row', () => {
    const t = [ran(1, 'a', 0), ran(2, 'b', 0), ran(3, 'b', 0), ran(4, 'b', 0)];
    expect(detectLoop(t, loops)).toBeNull();
    expect(detectLoop([...t, ran(5, 'b', 0)], loops)).toMatchObject({ detector: 'repeat', steps: [2, 3, 4, 5] });
    // A different result breaks it: the agent made progress.
    expect(detectLoop([...t.slice(0, 3), ran(4, 'b', 0, 11), ran(5, 'b', 0)], loops)).toBeNull();
  });

  it('the same command failing with the same exit code 3 times, whatever it printed', () => {
    const t = [ran(1, 'make', 2, 100), ran(2, 'make', 2, 120)];
    expect(detectLoop(t, loops)).toBeNull();
    expect(detectLoop([...t, ran(3, 'make', 2, 90)], loops)).toMatchObject({ detector: 'repeat_error', steps: [1, 2, 3] });
    expect(detectLoop([...t, ran(3, 'make', 1, 90)], loops)).toBeNull();
    // Three different failing commands are not a loop (real sessions do that while debugging).
    expect(detectLoop([ran(1, 'a', 1), ran(2, 'b', 1), ran(3, 'c', 1), ran(4, 'd', 1)], loops)).toBeNull();
  });

  it('A-B-A-B-A-B', () => {
    const t = [ran(1, 'a', 0, 1), ran(2, 'b', 1, 2), ran(3, 'a', 0, 1), ran(4, 'b', 1, 2), ran(5, 'a', 0, 1)];
    expect(detectLoop(t, loops)).toBeNull();
    expect(detectLoop([...t, ran(6, 'b', 1, 2)], loops)).toMatchObject({ detector: 'alternation', steps: [1, 2, 3, 4, 5, 6] });
  });

  it('3 refused steps in a row', () => {
    expect(detectLoop([refused(1, 'x'), refused(2, 'y')], loops)).toBeNull();
    expect(detectLoop([refused(1, 'x'), refused(2, 'y'), refused(3, 'z')], loops)).toMatchObject({ detector: 'denials', steps: [1, 2, 3] });
    expect(detectLoop([refused(1, 'x'), ran(2, 'y', 0), refused(3, 'z'), refused(4, 'w')], loops)).toBeNull();
  });

  it('an unchanged workspace over 12 steps of at most two commands warns; exploration does not', () => {
    // Polling: status, status, sleep, … (no 4 repeats, no strict A-B turns), nothing changes.
    const polled = Array.from({ length: 12 }, (_, i) => (i % 3 === 2 ? ran(i + 1, 'sleep 1', 0, 0, 'd1') : ran(i + 1, 'cat status', 0, 5, 'd1')));
    expect(detectLoop(polled.slice(0, 11), loops)).toBeNull();
    expect(detectLoop(polled, loops)).toMatchObject({ detector: 'stagnation', steps: polled.map((s) => s.step) });
    // One change of the workspace in the window: no stagnation.
    expect(detectLoop(polled.map((s, i) => (i === 5 ? { ...s, snapshot: 'd2' } : s)), loops)).toBeNull();
    const explore = Array.from({ length: 12 }, (_, i) => ran(i + 1, `cat f${i}`, 0, 5, 'd1'));
    expect(detectLoop(explore, loops)).toBeNull();
  });

  it('waiting (a bare sleep, as in a polling loop) is not repeating', () => {
    const sleeps = Array.from({ length: 10 }, (_, i) => ({ ...ran(i + 1, 'sleep 0.2', 0, 0), wait: true }));
    expect(detectLoop(sleeps, loops)).toBeNull();
    const polling = Array.from({ length: 8 }, (_, i) => (i % 2 ? { ...ran(i + 1, 'sleep 1', 0, 0), wait: true } : ran(i + 1, 'cat status', 0, 7)));
    expect(detectLoop(polling, loops)).toBeNull();
    const f = foldRun([ev({ type: 'step.verdict', step: 1, cmd: 'sleep 0.2', verdict: 'allow', rule: 'policy.allow', reason: 'x', policyHash: 'h' })]);
    expect(f.trace[0]?.wait).toBe(true);
  });

  it('a detector set to off stays quiet', () => {
    const off = GovernancePolicySchema.parse({ loops: { repeat: { threshold: 4, action: 'off' } } }).loops;
    expect(detectLoop([ran(1, 'b', 0), ran(2, 'b', 0), ran(3, 'b', 0), ran(4, 'b', 0)], off)).toBeNull();
  });

  it('finds no loop in the six real sessions (../shared/workloads), step by step', () => {
    const dir = resolve(import.meta.dirname, '..', '..', '..', '..', 'shared', 'workloads');
    expect(existsSync(dir), `workloads not found at ${dir}`).toBe(true);
    const sessions = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory());
    expect(sessions.length).toBe(6);
    let steps = 0;
    for (const s of sessions) {
      const recorded = readFileSync(join(dir, s.name, 'commands.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { step: number; cmd: string; returncode: number | null; observation_head: string });
      const trace: StepTrace[] = [];
      for (const r of recorded) {
        const out = createHash('sha256').update(r.observation_head).digest('hex');
        trace.push({ step: r.step, cmd: r.cmd.trim().replace(/\s+/g, ' '), result: `${String(r.returncode)}/${out}`, exitCode: r.returncode, refused: false });
        steps++;
        expect(detectLoop(trace, loops), `${s.name} step ${r.step}`).toBeNull();
      }
    }
    expect(steps).toBe(250);
  });
});

describe('budgets', () => {
  it('the first budget used up, checked before a step', () => {
    expect(exhausted({ steps: 3 }, { steps: 2, activeMs: 0, outputBytes: 0 })).toBeNull();
    expect(exhausted({ steps: 3 }, { steps: 3, activeMs: 0, outputBytes: 0 })).toEqual({ budget: 'steps', used: 3, limit: 3 });
    expect(exhausted({ outputBytes: 100 }, { steps: 9, activeMs: 0, outputBytes: 150 })).toEqual({ budget: 'outputBytes', used: 150, limit: 100 });
    expect(exhausted({}, { steps: 1e9, activeMs: 1e9, outputBytes: 1e9 })).toBeNull();
  });
  it('run overrides and raises win over the policy, field by field', () => {
    expect(mergeBudgets({ steps: 500, activeMs: 10 }, { steps: 3 }, undefined, { activeMs: 20 })).toEqual({ steps: 3, activeMs: 20 });
  });
});

let seq = 0;
const ev = (e: Record<string, unknown>): LogEvent => ({ v: PROTOCOL_VERSION, runId: RUN, seq: ++seq, ts: new Date(seq * 1000).toISOString(), by: 'harness', prev: GENESIS_HASH, ...e }) as LogEvent;
const op = { principal: 'olga', role: 'operator' } as const;
const exited = (step: number, exitCode: number) => ev({ type: 'step.exited', step, result: { runId: RUN, step, exitCode, signal: null, oomKilled: false, timedOut: false, sandboxDied: false, durationMs: 1500, stdoutBytes: 10, stderrBytes: 2, truncated: false } });

describe('the fold of a run log', () => {
  it('pause, resume, raise and cancel are state; usage counts steps, time and bytes', () => {
    const f = foldRun([
      ev({ type: 'step.requested', step: 1, cmd: 'ls' }),
      ev({ type: 'step.verdict', step: 1, cmd: 'ls', verdict: 'allow', rule: 'policy.allow', reason: 'x', policyHash: 'h' }),
      exited(1, 0),
      ev({ type: 'run.control', verb: 'pause', requestId: 'req-pause-1', reason: 'lunch', actor: op }),
    ]);
    expect(f).toMatchObject({ state: 'paused', paused: { cause: { kind: 'operator' }, reason: 'lunch', by: op }, used: { steps: 1, activeMs: 1500, outputBytes: 12 } });
    expect(f.applied.get('req-pause-1')).toMatchObject({ verb: 'pause', by: op });
    applyEvent(f, ev({ type: 'run.control', verb: 'raise', requestId: 'req-raise-1', budgets: { steps: 9 }, actor: op }));
    applyEvent(f, ev({ type: 'run.control', verb: 'resume', requestId: 'req-resume-1', actor: op }));
    expect(f).toMatchObject({ state: 'running', raised: { steps: 9 } });
    expect(f.paused).toBeUndefined();
    applyEvent(f, ev({ type: 'run.control', verb: 'cancel', requestId: 'req-cancel-1', actor: op }));
    expect(f).toMatchObject({ state: 'cancelling', termination: 'cancelled' });
    applyEvent(f, ev({ type: 'run.closed', reason: 'cancelled' }));
    expect(f).toMatchObject({ state: 'closed', termination: 'cancelled' });
  });

  it('a budget or loop pause carries its cause; a loop pause starts the window again', () => {
    const f = foldRun([
      ev({ type: 'step.verdict', step: 1, cmd: 'x', verdict: 'deny', rule: 'r', reason: 'x', policyHash: 'h' }),
      ev({ type: 'run.governed', action: 'pause', cause: { kind: 'loop', detector: 'denials', steps: [1] }, reason: 'r' }),
    ]);
    expect(f).toMatchObject({ state: 'paused', paused: { cause: { kind: 'loop', detector: 'denials' } }, trace: [] });
    const g = foldRun([ev({ type: 'run.governed', action: 'warn', cause: { kind: 'loop', detector: 'stagnation', steps: [1] }, reason: 'r' })]);
    expect(g).toMatchObject({ state: 'running', warnings: 1 });
  });

  it('a run closed without a stated reason succeeded', () => {
    expect(foldRun([ev({ type: 'run.closed', reason: 'closed by request' })]).termination).toBe('succeeded');
    expect(emptyFold().state).toBe('running');
  });
});

describe('credentials and roles', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');

  it('a credential names its principal, role and runs; a forged, altered or expired one is refused', () => {
    const t = issueCredential(privateKey, { principal: 'bot-1', role: 'agent', runs: [RUN], ttlMs: 60_000, now: 1000 });
    expect(verifyCredential(publicKey, t, 2000)).toEqual({ principal: 'bot-1', role: 'agent', runs: [RUN] });
    expect(() => verifyCredential(publicKey, t, 62_000)).toThrow(/expired/);
    expect(() => verifyCredential(other.publicKey, t, 2000)).toThrow(/not signed by this harness/);
    const [seg, sig] = t.split('.');
    const altered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(seg!, 'base64url').toString()), role: 'admin' })).toString('base64url');
    expect(() => verifyCredential(publicKey, `${altered}.${sig}`, 2000)).toThrow(/not signed/);
    expect(() => verifyCredential(publicKey, 'nonsense', 2000)).toThrow(AirlockError);
  });

  it('roles per verb; agents only on their own runs; nobody decides their own request', () => {
    const agent = { principal: 'bot-1', role: 'agent' as const };
    expect(() => authorize(agent, 'exec')).not.toThrow();
    for (const verb of ['decide', 'control', 'bundle']) expect(() => authorize(agent, verb)).toThrow(expect.objectContaining({ code: 'forbidden' }));
    expect(() => authorize({ principal: 'r', role: 'reviewer' }, 'exec')).toThrow(/only agent, operator, admin/);
    expect(() => authorize({ principal: 'r', role: 'reviewer' }, 'bundle')).not.toThrow();
    expect(() => authorizeRun(agent, RUN, 'bot-2')).toThrow(/belongs to bot-2/);
    expect(() => authorizeRun(agent, RUN, 'bot-1')).not.toThrow();
    expect(() => authorizeRun({ ...agent, runs: ['01JBBBBBBBBBBBBBBBBBBBBBBB'] }, RUN, undefined)).toThrow(/limited to runs/);
    expect(() => authorizeRun({ principal: 'olga', role: 'operator' }, RUN, 'bot-2')).not.toThrow();
    expect(() => refuseSelfDecision({ principal: 'olga', role: 'operator' }, 'olga', 'step 2')).toThrow(/may not decide it/);
    expect(() => refuseSelfDecision({ principal: 'olga', role: 'operator' }, 'bot-1', 'step 2')).not.toThrow();
  });
});
