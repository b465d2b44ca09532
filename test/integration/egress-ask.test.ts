// `network.unlisted: ask` with real sandboxes: a connection (plain HTTP, or a CONNECT tunnel) to a
// host no allowlist rule names is held by the run's proxy while the runner asks the harness, which
// holds it as an approval beside held commands (same verbs, same roles). An operator's approval lets
// it reach the loopback upstream; approve-for-run lets later connections to that host:port pass
// unasked; a denial or an expiry (bounded by the step's time left) is a 403 naming the hold, with
// nothing sent upstream and the denial in the audit; the agent cannot decide its own hold; with the
// harness gone nothing is held (denied, audited).
import { once } from 'node:events';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readAuditEntries, type AuditEntry } from '@airlock/ledger';
import type { Airlock } from '@airlock/client';
import { issueCredential } from '@airlock/harness';
import { EgressAskResultSchema, PROTOCOL_VERSION, decodeReply, encode, subjects } from '@airlock/proto';
import type { Approval, LogEvent } from '@airlock/proto';
import { importPrivateKey } from '@airlock/trust';
import { DEFAULT_POLICY_PATH } from '@airlock/validate';
import { errorCode, runCli, runEvents, useStack, waitUntil } from '../fixtures.ts';

/** Paths the upstream served, in order (what reached it). */
const hits: string[] = [];
let server: Server;
let root: string;
let ws: string;

const PROBE = `
import socket, sys, urllib.request, urllib.error
case, arg = sys.argv[1], sys.argv[2]
try:
    if case == "get":
        print("OK", urllib.request.urlopen(arg, timeout=60).read().decode().strip())
    else:
        host, path = arg.split("/", 1)
        s = socket.create_connection(("127.0.0.1", 3128), timeout=60)
        s.sendall(("CONNECT %s:80 HTTP/1.1\\r\\nHost: %s:80\\r\\n\\r\\n" % (host, host)).encode())
        head = s.recv(400).decode().splitlines()[0]
        if " 200 " not in head:
            print("REFUSED", head)
            sys.exit(0)
        s.sendall(("GET /%s HTTP/1.1\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n" % (path, host)).encode())
        data = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            data += c
        print("TUNNEL", data.decode().split("\\r\\n\\r\\n", 1)[1].strip())
except urllib.error.HTTPError as e:
    print("HTTP", e.code, e.reason)
`;

const stack = useStack(async () => {
  root = mkdtempSync(join(tmpdir(), 'airlock-egress-ask-'));
  server = createServer((req, res) => {
    hits.push(`${req.headers.host ?? ''}${req.url ?? ''}`);
    res.end(`served ${req.url ?? ''}\n`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const dest = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const policy = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as { network: Record<string, unknown>; commands: unknown[] };
  // A command that reads like a held connection is held on its own (an egress approval never covers it).
  policy.commands.push({ id: 'test.connect_word', verdict: 'ask', reason: 'a command named CONNECT', commands: ['CONNECT'] });
  policy.network.mode = 'proxy';
  policy.network.allow = [{ hosts: ['listed.test'], ports: [80] }];
  policy.network.unlisted = 'ask';
  policy.network.askWaitMs = 60_000;
  const policyFile = join(root, 'policy.yaml');
  writeFileSync(policyFile, stringify(policy));
  return {
    harness: { policyFile, auth: 'required' as const },
    runner: { egressTestResolve: { 'listed.test': dest, 'ask.test': dest, 'other.test': dest, 'late.test': dest, 'gone.test': dest } },
  };
});

beforeAll(() => {
  ws = mkdtempSync(join(tmpdir(), 'airlock-egress-ask-ws-'));
  writeFileSync(join(ws, 'probe.py'), PROBE);
  chownSync(ws, 1000, 1000);
  chownSync(join(ws, 'probe.py'), 1000, 1000);
});

afterAll(() => {
  server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
  if (ws) rmSync(ws, { recursive: true, force: true });
});

const of = <T extends LogEvent['type']>(log: LogEvent[], type: T) => log.filter((e): e is Extract<LogEvent, { type: T }> => e.type === type);

async function audit(runId: string, verdict: 'ask' | 'deny'): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of readAuditEntries(stack.client.nats.js, stack.client.nats.jsm, { runId, verdict })) out.push(e);
  return out;
}

/** Waits until the run has a pending egress hold, and returns it. */
async function pendingHold(client: Airlock, runId: string): Promise<Approval> {
  let held: Approval | undefined;
  await waitUntil('an egress hold is pending', async () => {
    held = (await client.approvals({ runId })).approvals.find((a) => a.egress !== undefined && a.status === 'pending');
    return held !== undefined;
  }, 60_000);
  return held!;
}

const credential = (principal: string, role: 'agent' | 'operator') => issueCredential(importPrivateKey(readFileSync(stack.keyFile, 'utf8')), { principal, role });

describe('egress to an unlisted host asks an operator', () => {
  it('is held; the agent may not decide it; an operator approves (CLI) and the request reaches the upstream; log and audit show it', async () => {
    await using bot = await stack.as('bot-1', 'agent');
    await using olga = await stack.as('olga', 'operator');
    const run = await bot.open({ workspace: ws });
    const r = bot.run(run.runId);
    expect(await r.exec('python3 probe.py get http://listed.test/a')).toMatchObject({ step: 1, stdout: 'OK served /a\n' });
    const step = r.exec('python3 probe.py get http://ask.test/held');
    const held = await pendingHold(olga, run.runId);
    expect(held).toMatchObject({ step: 2, rule: 'egress.unlisted', requestedBy: 'bot-1', cmd: 'GET http://ask.test:80/held', egress: { host: 'ask.test', port: 80, via: 'http', method: 'GET', path: '/held', hold: 1 } });
    expect(held.choices!.map((c) => c.decision)).toEqual(['approve', 'approve_run', 'reject', 'reject_pause']);
    expect(Date.parse(held.expiresAt!) - Date.parse(held.requestedAt)).toBeLessThanOrEqual(60_000);
    expect(hits).not.toContain('ask.test/held');
    // The agent's own credential: refused by role (SDK and CLI alike), nothing decided.
    expect(await errorCode(bot.decide(run.runId, 2, 'approve', { by: 'bot-1', hold: 1 }))).toBe('forbidden');
    const agentCli = await runCli(['--nats', stack.nats.url, 'approve', run.runId, '2.1'], { env: { AIRLOCK_CREDENTIAL: credential('bot-1', 'agent') } });
    expect(agentCli.code).not.toBe(0);
    expect(agentCli.stderr).toMatch(/forbidden|may not/);
    const listed = await runCli(['--nats', stack.nats.url, 'approvals', '--run', run.runId], { env: { AIRLOCK_CREDENTIAL: credential('olga', 'operator') } });
    expect(listed.stdout).toContain(' 2.1  PENDING');
    expect(listed.stdout).toContain('GET http://ask.test:80/held');
    const cli = await runCli(['--nats', stack.nats.url, 'approve', run.runId, '2.1', '--note', 'fine'], { env: { AIRLOCK_CREDENTIAL: credential('olga', 'operator') } });
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toContain(`egress 2.1 of ${run.runId} approved by olga: the held connection goes through (once)`);
    expect(await step).toMatchObject({ step: 2, exitCode: 0, stdout: 'OK served /held\n' });
    expect(hits.filter((h) => h === 'ask.test/held')).toHaveLength(1);

    const log = await runEvents(stack.client, run.runId);
    const egress = of(log, 'egress.connection').filter((e) => e.host === 'ask.test');
    expect(egress).toEqual([
      expect.objectContaining({ step: 2, decision: 'held', approval: '2.1', via: 'http', method: 'GET', path: '/held', by: 'harness' }),
      expect.objectContaining({ step: 2, decision: 'allowed', approval: '2.1', address: '127.0.0.1' }),
    ]);
    expect(of(log, 'egress.decided')).toEqual([expect.objectContaining({ step: 2, hold: 1, host: 'ask.test', port: 80, decision: 'approved', decidedBy: 'olga', note: 'fine', actor: { principal: 'olga', role: 'operator' } })]);
    const asked = (await audit(run.runId, 'ask')).filter((e) => e.type === 'egress.connection');
    expect(asked).toEqual([expect.objectContaining({ decision: 'held', host: 'ask.test', approval: '2.1' })]);
    await bot.close(run.runId);
  }, 180_000);

  it('approve for the run: the tunnel goes through, and a later step\'s connection to the same host:port is not held', async () => {
    await using bot = await stack.as('bot-1', 'agent');
    await using olga = await stack.as('olga', 'operator');
    const run = await bot.open({ workspace: ws });
    const r = bot.run(run.runId);
    const step = r.exec('python3 probe.py tunnel other.test/first');
    const held = await pendingHold(olga, run.runId);
    expect(held).toMatchObject({ step: 1, cmd: 'CONNECT other.test:80', egress: { host: 'other.test', port: 80, via: 'connect', hold: 1 } });
    expect(await olga.decide(run.runId, 1, 'approve_run', { by: 'olga', hold: 1 })).toMatchObject({ status: 'approved', grant: { rule: 'egress.unlisted', prefix: 'other.test:80' } });
    expect(await step).toMatchObject({ exitCode: 0, stdout: 'TUNNEL served /first\n' });
    // Later steps: same host and port pass at once (two connections, two kinds).
    expect(await r.exec('python3 probe.py tunnel other.test/second; python3 probe.py get http://other.test/third')).toMatchObject({ step: 2, exitCode: 0, stdout: 'TUNNEL served /second\nOK served /third\n' });
    expect(hits).toEqual(expect.arrayContaining(['other.test/first', 'other.test/second', 'other.test/third']));
    expect((await olga.approvals({ runId: run.runId, all: true })).approvals).toHaveLength(1);
    const log = await runEvents(stack.client, run.runId);
    const egress = of(log, 'egress.connection').filter((e) => e.host === 'other.test' && e.port === 80);
    expect(egress.map((e) => [e.step, e.decision, e.approval])).toEqual([
      [1, 'held', '1.1'],
      [1, 'allowed', '1.1'],
      [2, 'allowed', '1.1'],
      [2, 'allowed', '1.1'],
    ]);
    expect(of(log, 'egress.decided')).toEqual([expect.objectContaining({ decision: 'approved', forRun: true })]);
    // The harness answers from the standing grant too (a runner that restarted has no memory of it),
    // holds another port anew, and refuses a runner that does not hold the run (audited).
    const ask = async (runnerId: string, body: Record<string, unknown>) => decodeReply(EgressAskResultSchema, (await stack.client.nats.nc.request(subjects.egressAsk(runnerId), encode({ v: PROTOCOL_VERSION, runId: run.runId, step: 2, via: 'connect', ...body }), { timeout: 30_000 })).data, 'egress ask');
    expect(await ask(stack.runnerId, { host: 'other.test', port: 80, waitMs: 5000 })).toMatchObject({ allowed: true, forRun: true, approval: '1.1' });
    expect(await ask(stack.runnerId, { host: 'other.test', port: 8080, waitMs: 1000 })).toEqual({ allowed: false, approval: '2.1', reason: 'egress 2.1: nobody decided within 1000 ms (expired, a denial)' });
    await expect(ask('not-the-holder', { host: 'other.test', port: 80, waitMs: 5000 })).rejects.toThrow(/does not hold open run/);
    // The refusal is answered first and recorded after: wait for the record.
    await waitUntil('the refused ask is audited', async () => (await runEvents(stack.client, 'system')).some((e) => e.type === 'message.rejected' && e.code === 'egress_ask.unauthorized' && e.subject === subjects.egressAsk('not-the-holder')), 30_000);
    // The approved hold's text as a command is held for itself: an egress approval lets no command through.
    expect(await errorCode(r.exec('CONNECT other.test:80'))).toBe('validation_ask');
    await bot.close(run.runId);
  }, 180_000);

  it('deny: the step sees a 403 naming the hold and the reason, the upstream saw nothing, the denial is in ./airlock audit', async () => {
    await using bot = await stack.as('bot-1', 'agent');
    await using olga = await stack.as('olga', 'operator');
    const run = await bot.open({ workspace: ws });
    const r = bot.run(run.runId);
    const step = r.exec('python3 probe.py get http://ask.test/refused; python3 probe.py tunnel ask.test/refused-too');
    const first = await pendingHold(olga, run.runId);
    await olga.decide(run.runId, 1, 'reject', { by: 'olga', hold: first.egress!.hold, note: 'not needed' });
    const second = await pendingHold(olga, run.runId);
    expect(second.egress).toMatchObject({ hold: 2, via: 'connect' });
    await olga.decide(run.runId, 1, 'reject', { by: 'olga', hold: 2 });
    const result = await step;
    expect(result.stdout).toBe('HTTP 403 airlock egress denied: egress 1.1 was denied by olga: not needed\nREFUSED HTTP/1.1 403 airlock egress denied: egress 1.2 was denied by olga\n');
    expect(hits.filter((h) => h.includes('refused'))).toEqual([]);
    const denied = (await audit(run.runId, 'deny')).filter((e) => e.type === 'egress.connection');
    expect(denied).toEqual([expect.objectContaining({ decision: 'denied', approval: '1.1', reason: 'egress 1.1 was denied by olga: not needed' }), expect.objectContaining({ decision: 'denied', approval: '1.2', via: 'connect' })]);
    const cli = await runCli(['--nats', stack.nats.url, 'audit', '--run', run.runId], { env: { AIRLOCK_CREDENTIAL: credential('olga', 'operator') } });
    expect(cli.stdout).toMatch(/ASK {6}egress\.unlisted/);
    expect(cli.stdout).toMatch(/DENY {5}egress\.denied .*egress 1\.1 was denied by olga: not needed/);
    expect(cli.stdout).toContain('→ GET http://ask.test:80/refused');
    const log = await runEvents(stack.client, run.runId);
    expect(of(log, 'egress.decided').map((e) => [e.hold, e.decision])).toEqual([[1, 'rejected'], [2, 'rejected']]);
    await bot.close(run.runId);
  }, 180_000);

  it('expiry is a denial, and the wait is never longer than the step\'s time left', async () => {
    await using bot = await stack.as('bot-1', 'agent');
    const run = await bot.open({ workspace: ws });
    const started = Date.now();
    const result = await bot.run(run.runId).exec('python3 probe.py get http://late.test/never', { timeoutMs: 9000 });
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(result.exitCode).toBe(0);
    const m = /^HTTP 403 airlock egress denied: egress 1\.1: nobody decided within (\d+) ms \(expired, a denial\)\n$/.exec(result.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(9000);
    expect(hits.filter((h) => h.startsWith('late.test'))).toEqual([]);
    const [expired] = (await bot.approvals({ runId: run.runId, all: true })).approvals;
    expect(expired).toMatchObject({ status: 'expired', decidedBy: 'harness', egress: { host: 'late.test' } });
    const log = await runEvents(stack.client, run.runId);
    expect(of(log, 'egress.decided')).toEqual([expect.objectContaining({ hold: 1, decision: 'expired', decidedBy: 'harness' })]);
    expect(of(log, 'egress.connection').map((e) => e.decision)).toEqual(['held', 'denied']);
    await bot.close(run.runId);
  }, 120_000);

  it('with the harness gone nothing is held: the connection is denied at once (fail closed) and audited', async () => {
    await using bot = await stack.as('bot-1', 'agent');
    const run = await bot.open({ workspace: ws });
    // The step waits for a file the test writes once the harness is down, then connects.
    const step = bot.run(run.runId).exec('while [ ! -e go ]; do sleep 0.1; done; python3 probe.py get http://gone.test/x; echo done > went');
    step.catch(() => undefined);
    await waitUntil('the step is running', async () => (await runEvents(stack.client, run.runId)).some((e) => e.type === 'step.started'), 30_000);
    await stack.harness.drain(1000);
    writeFileSync(join(ws, 'go'), '');
    await waitUntil('the step went on', () => {
      try {
        return readFileSync(join(ws, 'went'), 'utf8') === 'done\n';
      } catch {
        return false;
      }
    }, 60_000);
    await stack.restartHarness();
    const log = await runEvents(stack.client, run.runId);
    const egress = of(log, 'egress.connection').filter((e) => e.host === 'gone.test');
    expect(egress).toEqual([expect.objectContaining({ decision: 'denied' })]);
    expect(egress[0]!.reason).toMatch(/^gone\.test:80 is not on the run's network allowlist, and the harness could not be asked \(.+\): denied \(fail closed\)$/);
    expect(hits.filter((h) => h.startsWith('gone.test'))).toEqual([]);
    expect((await bot.approvals({ runId: run.runId, all: true })).approvals).toEqual([]);
    expect((await audit(run.runId, 'deny')).filter((e) => e.type === 'egress.connection')).toHaveLength(1);
    rmSync(join(ws, 'go'));
    rmSync(join(ws, 'went'));
    await bot.close(run.runId);
  }, 180_000);
});
