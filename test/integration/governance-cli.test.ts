// The operator verbs from the command line (issue 14): pause, resume, raise, watch, cancel, kill,
// each with --json, against the real stack with a harness that requires credentials, restarting the
// harness in the middle; an agent's credential is refused every one (exit 77) and the refusal is in
// the run's log. The last test starts `./airlock up` and checks the role credentials it makes and
// that NATS itself stops an agent's user from publishing an operator subject.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, jwtAuthenticator } from '@nats-io/transport-node';
import { Airlock } from '@airlock/client';
import { issueCredential, withCredentials } from '@airlock/harness';
import { encode, PROTOCOL_VERSION, subjects } from '@airlock/proto';
import { importPrivateKey } from '@airlock/trust';
import { AIRLOCK_BIN, freePort, runCli, runEvents, useStack } from '../fixtures.ts';

const harness = { auth: 'required' as const };
const stack = useStack({ harness });

const credential = (principal: string, role: 'agent' | 'operator' | 'reviewer') => issueCredential(importPrivateKey(readFileSync(stack.keyFile, 'utf8')), { principal, role });
const cli = (who: 'agent' | 'operator' | 'reviewer', args: string[]) =>
  runCli(['--nats', stack.nats.url, '--json', ...args], { env: { AIRLOCK_CREDENTIAL: credential(who === 'agent' ? 'bot-1' : who === 'operator' ? 'olga' : 'rita', who) } });
const lines = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('./airlock operator verbs', () => {
  it('pause, watch, raise, resume, cancel, kill with --json; an agent is refused each (exit 77); across a harness restart', async () => {
    const opened = await cli('agent', ['open']);
    expect(opened.code, opened.stderr).toBe(0);
    const runId = lines(opened.stdout)[0]!.runId as string;
    expect((await cli('agent', ['exec', runId, '--', 'echo hi'])).code).toBe(0);

    for (const verb of [['pause'], ['resume'], ['cancel'], ['kill'], ['raise', '--steps', '9']]) {
      const r = await cli('agent', [verb[0]!, runId, ...verb.slice(1)]);
      expect(r.code, `${verb[0]}: ${r.stdout}${r.stderr}`).toBe(77);
      expect(lines(r.stdout)[0]).toMatchObject({ type: 'error', code: 'forbidden' });
    }
    const paused = await cli('operator', ['pause', runId, '--reason', 'look at it', '--request-id', 'cli-pause-0001']);
    expect(paused.code, paused.stderr).toBe(0);
    expect(lines(paused.stdout)[0]).toMatchObject({ type: 'run.state', state: 'paused', paused: { reason: 'look at it', by: { principal: 'olga', role: 'operator' } } });

    await stack.restartHarness();

    const held = await cli('agent', ['exec', runId, '--', 'echo blocked']);
    expect(held.code).toBe(125);
    expect(lines(held.stdout).at(-1)).toMatchObject({ type: 'error', code: 'run_paused' });
    const watched = await cli('reviewer', ['watch', runId, '--once']);
    expect(watched.code, watched.stderr).toBe(0);
    expect(lines(watched.stdout)[0]).toMatchObject({ type: 'run.state', state: 'paused', used: { steps: 1 } });
    const human = await runCli(['--nats', stack.nats.url, 'watch', runId, '--once'], { env: { AIRLOCK_CREDENTIAL: credential('rita', 'reviewer') } });
    expect(human.stdout).toMatch(/PAUSED[\s\S]*paused by olga[\s\S]*used: steps 1/);
    expect((await cli('reviewer', ['pause', runId])).code).toBe(77);
    // The same request id again: the same answer, nothing new in the log.
    expect(lines((await cli('operator', ['pause', runId, '--request-id', 'cli-pause-0001'])).stdout)[0]).toMatchObject({ state: 'paused' });
    expect(lines((await cli('operator', ['raise', runId, '--steps', '50'])).stdout)[0]).toMatchObject({ budgets: { steps: 50 } });
    expect(lines((await cli('operator', ['resume', runId])).stdout)[0]).toMatchObject({ state: 'running' });
    expect((await cli('agent', ['exec', runId, '--', 'echo again'])).code).toBe(0);
    expect(lines((await cli('operator', ['cancel', runId, '--reason', 'done'])).stdout)[0]).toMatchObject({ state: 'closed', termination: 'cancelled' });
    expect(lines((await cli('operator', ['kill', runId])).stdout)[0]).toMatchObject({ state: 'closed', termination: 'cancelled' });

    const log = await runEvents(stack.client, runId);
    expect(log.filter((e) => e.type === 'run.control').map((e) => e.type === 'run.control' && [e.verb, e.actor?.principal])).toEqual([
      ['pause', 'olga'],
      ['raise', 'olga'],
      ['resume', 'olga'],
      ['cancel', 'olga'],
    ]);
    expect(log.filter((e) => e.type === 'access.denied').length).toBe(6);
    const text = await runCli(['--nats', stack.nats.url, 'log', runId], { env: { AIRLOCK_CREDENTIAL: credential('rita', 'reviewer') } });
    expect(text.stdout).toMatch(/PAUSE by olga \(operator\): look at it/);
    expect(text.stdout).toMatch(/ACCESS DENIED on airlock\.v1\.api\.op\.control to bot-1 \(agent\)/);
  });
});

describe('./airlock credential', () => {
  it('issues a run-scoped, expiring agent credential: its runs only, refused (and audited) elsewhere, refused once expired', async () => {
    await using olga = await Airlock.connect({ servers: stack.nats.url, credential: credential('olga', 'operator') });
    const mine = await olga.open({});
    const other = await olga.open({});
    const issued = await runCli(['--json', 'credential', '--role', 'agent', '--name', 'bot-7', '--runs', mine.runId, '--ttl', '1h', '--key-file', stack.keyFile]);
    expect(issued.code, issued.stderr).toBe(0);
    const c = lines(issued.stdout)[0]!;
    expect(c).toMatchObject({ type: 'credential', role: 'agent', principal: 'bot-7', runs: [mine.runId], expiresAt: expect.any(String) });
    await using bot = await Airlock.connect({ servers: stack.nats.url, credential: c.credential as string });
    expect(await bot.run(mine.runId).exec('echo mine')).toMatchObject({ exitCode: 0, stdout: 'mine\n' });
    await expect(bot.run(other.runId).exec('echo not mine')).rejects.toMatchObject({ code: 'forbidden' });
    const denied = (await runEvents(stack.client, other.runId)).filter((e) => e.type === 'access.denied');
    expect(denied).toMatchObject([{ actor: { principal: 'bot-7', role: 'agent' } }]);
    const expired = await runCli(['--json', 'credential', '--role', 'agent', '--name', 'bot-8', '--runs', mine.runId, '--ttl', '1s', '--key-file', stack.keyFile]);
    await new Promise((r) => setTimeout(r, 1500));
    await using late = await Airlock.connect({ servers: stack.nats.url, credential: lines(expired.stdout)[0]!.credential as string });
    await expect(late.run(mine.runId).exec('echo late')).rejects.toMatchObject({ code: 'forbidden', message: expect.stringContaining('expired') });
    await olga.close(mine.runId);
    await olga.close(other.runId);
  });
});

describe('./airlock up makes one credential per role', () => {
  it('role files are 0600, --as picks one, and NATS refuses an agent user on operator subjects', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'airlock-up-roles-'));
    const port = await freePort();
    const env = { AIRLOCK_HOME: stateDir };
    try {
      const upped = await runCli(['up', '--detach', '--port', String(port), '--runner-id', `roles-${process.pid}`], { env, timeoutMs: 90_000 });
      expect(upped.code, upped.stderr).toBe(0);
      expect(upped.stdout).toContain('--as agent|operator|reviewer|admin');
      const roles = join(stateDir, 'credentials', 'roles');
      for (const role of ['agent', 'operator', 'reviewer', 'admin']) {
        expect(statSync(join(roles, `${role}.json`)).mode & 0o777).toBe(0o600);
        expect(JSON.parse(readFileSync(join(roles, `${role}.json`), 'utf8'))).toMatchObject({ role, user: role, credential: expect.any(String) });
      }
      const run = lines((await runCli(['--json', '--as', 'agent', 'open'], { env })).stdout)[0]!.runId as string;
      expect((await runCli(['--as', 'agent', 'exec', run, '--', 'echo ok'], { env })).stdout).toBe('ok\n');
      // No credential given: the operator's.
      expect(lines((await runCli(['--json', 'pause', run], { env })).stdout)[0]).toMatchObject({ state: 'paused', paused: { by: { principal: 'operator', role: 'operator' } } });
      // The agent's NATS user cannot even publish on an operator subject: the server refuses it.
      const agent = JSON.parse(readFileSync(join(roles, 'agent.json'), 'utf8')) as { user: string; jwt: string; seed: string; credential: string };
      const nc = await connect({ servers: `127.0.0.1:${port}`, authenticator: jwtAuthenticator(agent.jwt, new TextEncoder().encode(agent.seed)) });
      const errors: string[] = [];
      const watch = async () => {
        for await (const s of nc.status()) errors.push(JSON.stringify(s));
      };
      watch().catch((e: unknown) => errors.push(String(e)));
      nc.publish(subjects.api.control, encode({ v: PROTOCOL_VERSION, runId: run, verb: 'resume', requestId: 'sneaky-resume-01' }));
      await nc.flush().catch((e: unknown) => errors.push(String(e)));
      await new Promise((r) => setTimeout(r, 300));
      await nc.close();
      expect(errors.join(' ')).toContain('PermissionViolation');
      expect(errors.join(' ')).toContain(subjects.api.control);
      // …while through the harness the agent's credential is refused by role.
      await using a = await Airlock.connect({ servers: withCredentials(`nats://127.0.0.1:${port}`, agent), credential: agent.credential });
      await expect(a.runState(run)).resolves.toMatchObject({ state: 'paused' });
      const kill = await runCli(['--json', '--as', 'agent', 'kill', run], { env, timeoutMs: 90_000 });
      expect(kill.code).not.toBe(0);
      expect(lines((await runCli(['--json', '--as', 'admin', 'kill', run], { env })).stdout)[0]).toMatchObject({ termination: 'killed' });
    } finally {
      spawnSync(AIRLOCK_BIN, ['down'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', AIRLOCK_HOME: stateDir }, timeout: 60_000 });
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 180_000);
});
