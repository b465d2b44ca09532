// Only the harness can order a step (signed job tokens); secrets reach one step and never the log;
// proof bundles are verifiable offline and name the first tampered event.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, decode, outputBytes, replySchema, subjects, StepResultSchema } from '@airlock/proto';
import type { LogEvent } from '@airlock/proto';
import { readAudit, readRunLog } from '@airlock/ledger';
import { SnapshotStore } from '@airlock/snapshot';
import { connectNats } from '@airlock/transport';
import { DEFAULT_POLICY_PATH } from '@airlock/validate';
import { generateSigningKey, importPrivateKey, newJobClaims, signJob, verifyBundle } from '@airlock/trust';
import { TestStack, containersOf, runCli, runEvents } from '../fixtures.ts';
import { replayRun } from '@airlock/harness';

const SECRET = 'sk-live-Zq8vR2mX9wLp4TtY';
let stack: TestStack;
const cli = (args: string[]) => runCli(['--nats', stack.nats.url, ...args]);
const events = (runId: string) => runEvents(stack.client, runId);
let tmp: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'airlock-trust-'));
  const policy = join(tmp, 'policy.yaml');
  writeFileSync(policy, readFileSync(DEFAULT_POLICY_PATH, 'utf8').replace(/^secrets: \[\]$/m, 'secrets:\n  - name: API_TOKEN\n  - name: DEPLOY_KEY\n    commands: [git]').replace(/^    commands: \[\] /m, '    commands: [notify-team] ')
    // These tests print the granted secret on purpose, in every encoding, to prove the runner redacts it;
    // the validator would (rightly) ask about printing or encoding a secret.
    .replace(/^overrides: \{\}$/m, 'overrides:\n  exfil.secret_env: allow\n  exfil.secret_encoded: allow'));
  process.env.AIRLOCK_SECRET_API_TOKEN = SECRET;
  stack = await TestStack.start({ harness: { policyFile: policy } });
});
afterAll(async () => {
  delete process.env.AIRLOCK_SECRET_API_TOKEN;
  await stack?.[Symbol.asyncDispose]();
  rmSync(tmp, { recursive: true, force: true });
  expect(await containersOf(stack.runnerId)).toEqual([]);
});


describe('job tokens', () => {
  it('the runner refuses unsigned, forged, expired, replayed and mismatched requests, and audits each', async () => {
    const run = await stack.client.open({});
    const { policyHash } = (await stack.client.status()).harness;
    const key = importPrivateKey(readFileSync(stack.keyFile, 'utf8'));
    const forger = generateSigningKey().privateKey;
    await using conn = await connectNats({ servers: stack.nats.url, name: 'forger' });
    const send = async (step: number, cmd: string, token: string) => {
      const m = await conn.nc.request(subjects.runnerExec(stack.runnerId), encode({ v: 1, runId: run.runId, step, cmd, env: {}, timeoutMs: 5000, policyHash, token }), { timeout: 10_000 });
      return decode(replySchema(StepResultSchema), m.data);
    };
    const claims = (step: number, cmd: string, ttlMs = 60_000) => newJobClaims({ runId: run.runId, step, policyHash, cmd, ttlMs });
    const cases: Array<[string, number, string, string]> = [
      ['unsigned', 1, 'touch x', ''],
      ['forged', 1, 'touch x', signJob(claims(1, 'touch x'), forger)],
      ['expired', 1, 'touch x', signJob({ ...claims(1, 'touch x'), iat: Date.now() - 120_000, exp: Date.now() - 60_000 }, key)],
      ['other command', 1, 'touch y', signJob(claims(1, 'touch x'), key)],
      ['other step', 2, 'touch x', signJob(claims(1, 'touch x'), key)],
    ];
    for (const [what, step, cmd, token] of cases) {
      const r = await send(step, cmd, token);
      expect(r.ok, what).toBe(false);
      if (!r.ok) expect([what, r.error.code]).toEqual([what, 'unauthorized']);
    }
    // A valid token works once; the same token again is a replay.
    const good = signJob(claims(1, 'echo ok'), key);
    expect((await send(1, 'echo ok', good)).ok).toBe(true);
    const replay = await send(1, 'echo ok', good);
    expect(replay.ok === false && replay.error.code).toBe('unauthorized');
    expect(replay.ok === false && replay.error.message).toContain('replayed');

    const audit: LogEvent[] = [];
    for await (const e of readRunLog(conn.js, conn.jsm, 'system')) audit.push(e);
    const codes = audit.flatMap((e) => (e.type === 'message.rejected' ? [e.code] : []));
    for (const c of ['unauthorized.missing', 'unauthorized.bad_signature', 'unauthorized.expired', 'unauthorized.mismatch', 'unauthorized.replayed']) expect(codes).toContain(c);
    await stack.client.close(run.runId);
  });
});

describe('secrets', () => {
  it('a granted secret reaches its step only, and no form of it reaches the log, the audit or a snapshot', async () => {
    const c = stack.client;
    const run = await c.open({});
    const out: Buffer[] = [];
    const script = [
      'printf "%s\\n" "$API_TOKEN"',
      'printf "%s" "$API_TOKEN" | base64',
      'printf "%s" "$API_TOKEN" | od -An -tx1 | tr -d " \\n"; echo',
      't="$API_TOKEN"; printf "%s" "${t:0:7}"; sleep 0.1; printf "%s\\n" "${t:7}"',
      'python3 -c "import os,sys; t=os.environ[\'API_TOKEN\']; sys.stdout.write(t[:7]); sys.stdout.flush(); import time; time.sleep(0.1); sys.stdout.write(t[7:]+chr(10))"',
      'printf "%s" "$API_TOKEN" >&2',
      'echo "$API_TOKEN" > in-workspace.txt',
    ].join('; ');
    const r = await run.exec(script, { env: { API_TOKEN: '${secret:API_TOKEN}' }, onOutput: (_, d) => out.push(d) });
    expect(r.exitCode).toBe(0);
    const text = Buffer.concat(out).toString();
    expect(text).toContain('[REDACTED:API_TOKEN]');
    const forms = [SECRET, Buffer.from(SECRET).toString('base64').slice(0, 20), Buffer.from(SECRET).toString('hex'), encodeURIComponent(SECRET)];
    for (const f of forms) expect(text).not.toContain(f);

    // The next step does not get it.
    const later: Buffer[] = [];
    await run.exec('echo "[${API_TOKEN:-unset}]"', { onOutput: (_, d) => later.push(d) });
    expect(Buffer.concat(later).toString()).toBe('[unset]\n');

    // Not in the raw log (decoded output included), nor in the audit index.
    const raw = JSON.stringify(await events(run.runId));
    const decoded = (await events(run.runId)).flatMap((e) => (e.type === 'step.output' ? [outputBytes(e).toString()] : [])).join('');
    for (const f of forms) {
      expect(raw).not.toContain(f);
      expect(decoded).not.toContain(f);
    }
    const audit = [];
    for await (const e of readAudit(c.nats.js, c.nats.jsm, { runId: run.runId })) audit.push(JSON.stringify(e));
    expect(audit.join('')).not.toContain(SECRET);
    // A snapshot's metadata holds hashes and names, not contents (the file itself is the agent's doing).
    const snap = await run.snapshotAt(1);
    await using store = await SnapshotStore.open(c.nats.nc);
    const manifest = await store.getManifest(snap.digest);
    expect(JSON.stringify(manifest)).not.toContain(SECRET);
    await c.close(run.runId);
  });

  it('a process an earlier step left running cannot read a later step\'s secret', async () => {
    const c = stack.client;
    const run = await c.open({});
    // Steps 1-2 leave a snoop behind that copies every process's environment a moment later: written in one
    // step and started in the next, since the validator reads a script a single command writes and runs.
    await run.exec("printf 'sleep 1.5; cat /proc/[0-9]*/env%s > /tmp/stolen 2>/dev/null\\n' iron > /tmp/snoop.sh");
    await run.exec('bash /tmp/snoop.sh >/dev/null 2>&1 &');
    await run.exec('sleep 3', { env: { API_TOKEN: '${secret:API_TOKEN}' } });
    const out: Buffer[] = [];
    await run.exec('ls /tmp/stolen 2>&1; cat /tmp/stolen 2>/dev/null', { onOutput: (_, d) => out.push(d) });
    const text = Buffer.concat(out).toString();
    // The runner ended the snoop before the secret step started (the executor's isolation).
    expect(text).toContain('No such file');
    expect(text).not.toContain(SECRET);
    await c.close(run.runId);
  });

  it('refuses a secret the policy does not grant, or grants only to other commands', async () => {
    const c = stack.client;
    const run = await c.open({});
    await expect(run.exec('true', { env: { X: '${secret:NOT_GRANTED}' } })).rejects.toMatchObject({ code: 'secret_denied' });
    await expect(run.exec('cat /dev/null', { env: { K: '${secret:DEPLOY_KEY}' } })).rejects.toMatchObject({ code: 'secret_denied' });
    await c.close(run.runId);
  });
});


describe('proof bundles', () => {
  it('export, verify offline, and name the first tampered event', async () => {
    const c = stack.client;
    const run = await c.open({});
    for (const cmd of ['echo one > a', 'echo two >> a', 'cat a']) await run.exec(cmd);
    await c.close(run.runId);
    const file = join(tmp, 'run.bundle.json');
    const ex = await cli(['bundle', 'export', run.runId, '-o', file]);
    expect(ex.code, ex.stderr).toBe(0);
    const { keyId } = (await c.status()).harness;
    const ok = await cli(['bundle', 'verify', file, '--key-id', keyId]);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/^OK/);

    const bundle = JSON.parse(readFileSync(file, 'utf8')) as { events: Array<{ bytes: string }> };
    const n = bundle.events.length;
    expect(n).toBe((await events(run.runId)).length);
    const variant = (mutate: (b: typeof bundle) => void) => {
      const copy = JSON.parse(JSON.stringify(bundle)) as typeof bundle;
      mutate(copy);
      return verifyBundle(copy, { trustedKeyId: keyId });
    };
    // Flip one byte of event 5.
    const flipped = variant((b) => {
      const bytes = Buffer.from(b.events[4]!.bytes, 'base64');
      bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 1;
      b.events[4]!.bytes = bytes.toString('base64');
    });
    expect(flipped).toMatchObject({ ok: false, problem: { code: 'modified_event', seq: 5 } });
    const dropped = variant((b) => b.events.splice(6, 1));
    expect(dropped).toMatchObject({ ok: false, problem: { code: 'missing_event', seq: 7 } });
    const swapped = variant((b) => ([b.events[3], b.events[4]] = [b.events[4]!, b.events[3]!]));
    expect(swapped.ok === false && swapped.problem.code).toBe('out_of_order');
    const wrongKey = verifyBundle(bundle, { trustedKeyId: 'f'.repeat(64) });
    expect(wrongKey.ok).toBe(false);
    // The CLI says what is wrong and exits non-zero.
    const bad = join(tmp, 'bad.bundle.json');
    const copy = JSON.parse(JSON.stringify(bundle)) as typeof bundle;
    copy.events.splice(6, 1);
    writeFileSync(bad, JSON.stringify(copy));
    const failed = await cli(['bundle', 'verify', bad, '--key-id', keyId]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/FAIL .*missing_event at event 7/);
  });
});

describe('replay', () => {
  it('re-runs recorded steps from a snapshot in a fresh sandbox, reports per step, skips secret steps', async () => {
    const c = stack.client;
    const run = await c.open({});
    await run.exec('echo a > f');
    await run.exec('cat f; echo b >> f');
    await run.exec('date +%s%N > clock');
    await run.exec('printf "%s" "$API_TOKEN" | wc -c', { env: { API_TOKEN: '${secret:API_TOKEN}' } });
    await run.exec('exit 3');
    await run.exec('notify-team --now || echo not installed >> sent');
    // Names a network tool and the listed command as words, runs neither: idempotent.
    await run.exec('echo curl notify-team >> sent');
    await c.close(run.runId);

    // Replay works from the verified bundle alone: a second read of the live log could differ from it.
    const noLiveLog = {
      status: () => c.status(),
      bundle: (id: string) => c.bundle(id),
      open: (o: Parameters<typeof c.open>[0]) => c.open(o),
      close: (id: string) => c.close(id),
      run: () => {
        throw new Error('replay read the live log instead of the verified bundle');
      },
    } as unknown as typeof c;
    const all = await replayRun(noLiveLog, run.runId);
    expect(all.policyChanged).toBe(false);
    expect(all.steps.map((s) => [s.step, s.status])).toEqual([
      [1, 'match'],
      [2, 'match'],
      [3, 'differs'],
      [4, 'skipped'],
      [5, 'differs'],
      [6, 'skipped'],
      // Replayed (not skipped); its workspace differs only because step 6 was skipped before it.
      [7, 'differs'],
    ]);
    expect(all.steps[6]).toMatchObject({ exitCode: { recorded: 0, replayed: 0 }, output: { same: true }, workspace: { same: false } });
    // Non-idempotent by the run's pinned policy: a secret step, and a command the policy lists.
    expect(all.steps[3]!.reason).toBe('non-idempotent: asked for secrets API_TOKEN');
    expect(all.steps[5]!.reason).toBe('non-idempotent: runs notify-team (policy replay.nonIdempotent.commands)');
    const forced = await replayRun(c, run.runId, { fromStep: 6, includeNonIdempotent: true });
    expect(forced.steps).toMatchObject([
      { step: 6, status: 'match', exitCode: { recorded: 0, replayed: 0 } },
      { step: 7, status: 'match' },
    ]);
    // Step 3 writes the time: same exit and output, another workspace; step 5 follows it, so its
    // workspace differs too (the clock file), while its exit code matches.
    expect(all.steps[2]).toMatchObject({ exitCode: { recorded: 0, replayed: 0 }, output: { same: true }, workspace: { same: false } });
    expect(all.steps[4]).toMatchObject({ exitCode: { recorded: 3, replayed: 3 }, output: { same: true } });

    const from2 = await replayRun(c, run.runId, { fromStep: 2 });
    expect(from2.steps[0]).toMatchObject({ step: 2, status: 'match' });
    const replayRecord = (await c.ps({ all: true })).runs.find((r) => r.runId === from2.replayRunId);
    expect(replayRecord?.replayOf).toMatchObject({ runId: run.runId, fromStep: 2, policyChangeAllowed: false });
  });

  it('refuses to replay under a changed policy unless allowed, and records an allowed change', async () => {
    const c = stack.client;
    const run = await c.open({});
    await run.exec('echo one > f');
    await c.close(run.runId);
    // The harness restarts enforcing another policy than the run was pinned to.
    const changed = join(tmp, 'changed.yaml');
    writeFileSync(changed, readFileSync(join(tmp, 'policy.yaml'), 'utf8').replace(/^  keepLast: 50/m, '  keepLast: 49'));
    const before = (await c.status()).harness.policyHash;
    await stack.harness.drain(2000);
    await stack.startHarness({ policyFile: changed });
    expect((await c.status()).harness.policyHash).not.toBe(before);

    await expect(replayRun(c, run.runId)).rejects.toMatchObject({ code: 'policy_changed', message: expect.stringMatching(/was pinned to policy .* pass --allow-policy-change/) });
    const refused = await cli(['replay', run.runId]);
    expect(refused.code).toBe(126);
    expect(refused.stderr).toMatch(/pass --allow-policy-change/);

    const allowed = await replayRun(c, run.runId, { allowPolicyChange: true });
    expect(allowed.policyChanged).toBe(true);
    expect(allowed.steps).toMatchObject([{ step: 1, status: 'match' }]);
    const record = (await c.ps({ all: true })).runs.find((r) => r.runId === allowed.replayRunId);
    expect(record?.replayOf).toMatchObject({ runId: run.runId, policyChangeAllowed: true, originalPolicyHash: before });
  });
});
