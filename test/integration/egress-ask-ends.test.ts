// How an egress hold (`network.unlisted: ask`) ends, besides approve/deny/expiry (egress-ask.test.ts),
// with real sandboxes, the run's proxy and a loopback upstream: an operator's `reject_pause` refuses
// the connection and pauses the run (again after a resume, for a second hold of the same step); the
// run's close ends a hold (refused, expired, nothing left pending); and a standing `approve_run`
// grant outlives the runner: stopped and started again, the runner has no memory of it, the run
// moves to it from its last snapshot, and the grant still lets the host through without a new hold.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { Approval } from '@airlock/proto';
import { DEFAULT_POLICY_PATH } from '@airlock/validate';
import { errorCode, eventsOfType, runEvents, useStack, waitUntil } from '../fixtures.ts';

/** What reached the upstream (host header + path), in order. */
const hits: string[] = [];
let server: Server;
let root: string;
let ws: string;

const PROBE = `
import socket, sys, urllib.request, urllib.error
case, arg = sys.argv[1], sys.argv[2]
try:
    if case == "get":
        print("OK", urllib.request.urlopen(arg, timeout=90).read().decode().strip())
    else:
        host, path = arg.split("/", 1)
        s = socket.create_connection(("127.0.0.1", 3128), timeout=90)
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
except Exception as e:
    print("ERR", type(e).__name__, e)
`;

const stack = useStack(async () => {
  root = mkdtempSync(join(tmpdir(), 'airlock-egress-ends-'));
  server = createServer((req, res) => {
    hits.push(`${req.headers.host ?? ''}${req.url ?? ''}`);
    res.end(`served ${req.url ?? ''}\n`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const dest = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const policy = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as { network: Record<string, unknown> };
  policy.network.mode = 'proxy';
  policy.network.allow = [{ hosts: ['listed.test'], ports: [80] }];
  policy.network.unlisted = 'ask';
  policy.network.askWaitMs = 90_000;
  const policyFile = join(root, 'policy.yaml');
  writeFileSync(policyFile, stringify(policy));
  return {
    // A move after the runner restart waits for a runner up to openTimeoutMs: long enough for the restart.
    harness: { policyFile, openTimeoutMs: 60_000 },
    runner: { egressTestResolve: { 'listed.test': dest, 'pause.test': dest, 'closing.test': dest, 'kept.test': dest } },
  };
});

beforeAll(() => {
  ws = mkdtempSync(join(tmpdir(), 'airlock-egress-ends-ws-'));
  writeFileSync(join(ws, 'probe.py'), PROBE);
  chownSync(ws, 1000, 1000);
  chownSync(join(ws, 'probe.py'), 1000, 1000);
});

afterAll(() => {
  server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
  if (ws) rmSync(ws, { recursive: true, force: true });
});

/** Waits until the run has a pending egress hold other than those in `seen`, and returns it. */
async function nextHold(runId: string, seen: number[] = []): Promise<Approval> {
  let held: Approval | undefined;
  await waitUntil('an egress hold is pending', async () => {
    held = (await stack.client.approvals({ runId })).approvals.find((a) => a.egress !== undefined && a.status === 'pending' && !seen.includes(a.egress.hold));
    return held !== undefined;
  }, 60_000);
  return held!;
}

/** Pids of a run's egress proxy processes (its argv names the run). */
function proxyPids(runId: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', `egress/main.ts ${runId}`], { encoding: 'utf8' }).trim().split('\n').map(Number);
  } catch (err) {
    if ((err as { status?: number }).status === 1) return [];
    throw err;
  }
}

describe('how an egress hold ends', () => {
  it('reject_pause: the connection is refused naming the hold, the run is paused in the decider\'s name; a second hold of the same step paused again after a resume', async () => {
    const run = await stack.client.open({ workspace: ws });
    const step = run.exec('python3 probe.py get http://pause.test/one; python3 probe.py tunnel pause.test/two; echo after');
    const first = await nextHold(run.runId);
    expect(first).toMatchObject({ step: 1, egress: { host: 'pause.test', hold: 1, via: 'http' } });
    await stack.client.decide(run.runId, 1, 'reject_pause', { by: 'olga', hold: 1, note: 'not this one' });
    await waitUntil('the run is paused', async () => (await stack.client.runState(run.runId)).state === 'paused', 30_000);
    const paused = await stack.client.runState(run.runId);
    expect(paused.paused).toMatchObject({ cause: { kind: 'operator' }, by: { principal: 'olga' }, reason: 'egress 1.1 was denied and the run paused' });
    // A pause stops new steps; the step in flight goes on (to its next connection, held anew).
    await stack.client.resume(run.runId, { reason: 'look again' });
    const second = await nextHold(run.runId, [1]);
    expect(second).toMatchObject({ step: 1, egress: { host: 'pause.test', hold: 2, via: 'connect' } });
    await stack.client.decide(run.runId, 1, 'reject_pause', { by: 'olga', hold: 2 });
    const result = await step;
    expect(result.stdout).toBe('HTTP 403 airlock egress denied: egress 1.1 was denied by olga: not this one\nREFUSED HTTP/1.1 403 airlock egress denied: egress 1.2 was denied by olga\nafter\n');
    expect(hits.filter((h) => h.startsWith('pause.test'))).toEqual([]);
    // Paused again by the second denial (its own control, not the first one's replayed): no step starts.
    expect(await stack.client.runState(run.runId)).toMatchObject({ state: 'paused', paused: { reason: 'egress 1.2 was denied and the run paused' } });
    expect(await errorCode(run.exec('echo never'))).toBe('run_paused');

    const log = await runEvents(stack.client, run.runId);
    expect(eventsOfType(log, 'egress.decided').map((e) => [e.hold, e.decision, e.pause])).toEqual([[1, 'rejected', true], [2, 'rejected', true]]);
    expect(eventsOfType(log, 'run.control').map((e) => [e.verb, e.requestId, e.actor?.principal])).toEqual([
      ['pause', `deny-pause.${run.runId}.1-1`, 'olga'],
      ['resume', expect.any(String), expect.any(String)],
      ['pause', `deny-pause.${run.runId}.1-2`, 'olga'],
    ]);
    expect(eventsOfType(log, 'egress.connection').filter((e) => e.host === 'pause.test').map((e) => [e.decision, e.approval])).toEqual([
      ['held', '1.1'],
      ['denied', '1.1'],
      ['held', '1.2'],
      ['denied', '1.2'],
    ]);
    expect((await stack.client.approvals({ runId: run.runId })).approvals).toEqual([]);
    await stack.client.close(run.runId);
  }, 180_000);

  it('the run\'s close ends a hold: nothing reached the upstream, the hold is expired naming the close, nothing is left pending, the proxy is gone', async () => {
    const run = await stack.client.open({ workspace: ws });
    const step = run.exec('python3 probe.py get http://closing.test/never; echo after');
    const outcome = step.then(
      (r) => `exit ${r.exitCode}: ${r.stdout}`,
      (e: unknown) => `error ${(e as { code?: string }).code ?? String(e)}`,
    );
    const held = await nextHold(run.runId);
    expect(held).toMatchObject({ step: 1, egress: { host: 'closing.test', hold: 1 } });
    expect(proxyPids(run.runId)).toHaveLength(1);
    const closed = await stack.client.close(run.runId);
    expect(closed.status).toBe('closed');
    // The step's sandbox went with the run: the step ends (killed), never with the upstream's answer.
    expect(await outcome).not.toContain('served');
    expect(hits.filter((h) => h.startsWith('closing.test'))).toEqual([]);
    expect((await stack.client.approvals({ runId: run.runId })).approvals).toEqual([]);
    const [ended] = (await stack.client.approvals({ runId: run.runId, all: true })).approvals;
    expect(ended).toMatchObject({ status: 'expired', egress: { host: 'closing.test', hold: 1 } });
    expect(ended!.note).toMatch(/the run was closed \(closed by request\)/);
    await waitUntil('the proxy is stopped at close', () => proxyPids(run.runId).length === 0, 30_000);
    // Nothing pending anywhere, and nothing written into the closed run's log after its close.
    expect((await stack.client.approvals({})).approvals.filter((a) => a.runId === run.runId)).toEqual([]);
    const log = await runEvents(stack.client, run.runId);
    expect(log.at(-1)?.type).toBe('run.closed');
    expect(eventsOfType(log, 'egress.connection').filter((e) => e.host === 'closing.test').map((e) => e.decision)).toEqual(['held']);
  }, 180_000);

  it('approve for the run outlives the runner: restarted, it holds no memory of the grant, the run moves to it and the host still passes unasked', async () => {
    const run = await stack.client.open({ workspace: ws });
    const step = run.exec('python3 probe.py tunnel kept.test/before');
    const held = await nextHold(run.runId);
    expect(held).toMatchObject({ step: 1, egress: { host: 'kept.test', port: 80, via: 'connect', hold: 1 } });
    await stack.client.decide(run.runId, 1, 'approve_run', { by: 'olga', hold: 1 });
    expect(await step).toMatchObject({ exitCode: 0, stdout: 'TUNNEL served /before\n' });
    const oldProxy = proxyPids(run.runId);
    expect(oldProxy).toHaveLength(1);

    // The runner stops (its sandbox and proxy go with it) and starts again under the same id.
    const before = stack.runner;
    await stack.runner.drain(2000);
    expect(proxyPids(run.runId)).toEqual([]);
    await waitUntil('the harness declares the runner lost', async () => (await runEvents(stack.client, run.runId)).some((e) => e.type === 'runner.lost'), 60_000);
    await stack.startRunner(4);
    expect(stack.runner).not.toBe(before);
    await waitUntil('the run moved to the restarted runner', async () => (await runEvents(stack.client, run.runId)).some((e) => e.type === 'run.moved'), 90_000);

    const after = await run.exec('python3 probe.py tunnel kept.test/after; python3 probe.py get http://kept.test/plain');
    expect(after).toMatchObject({ exitCode: 0, stdout: 'TUNNEL served /after\nOK served /plain\n' });
    expect(proxyPids(run.runId)).toHaveLength(1);
    expect(proxyPids(run.runId)[0]).not.toBe(oldProxy[0]);
    expect(hits).toEqual(expect.arrayContaining(['kept.test/before', 'kept.test/after', 'kept.test/plain']));
    // No new hold: the one grant is all there is.
    expect((await stack.client.approvals({ runId: run.runId, all: true })).approvals.map((a) => [a.status, a.grant?.prefix])).toEqual([['approved', 'kept.test:80']]);
    const log = await runEvents(stack.client, run.runId);
    const moved = eventsOfType(log, 'run.moved');
    expect(moved).toEqual([expect.objectContaining({ fromRunner: stack.runnerId, toRunner: stack.runnerId })]);
    const kept = eventsOfType(log, 'egress.connection').filter((e) => e.host === 'kept.test');
    expect(kept.map((e) => [e.step, e.decision, e.approval])).toEqual([
      [1, 'held', '1.1'],
      [1, 'allowed', '1.1'],
      [2, 'allowed', '1.1'],
      [2, 'allowed', '1.1'],
    ]);
    expect(kept.filter((e) => e.step === 2).every((e) => e.seq > moved[0]!.seq)).toBe(true);
    await stack.client.close(run.runId);
  }, 240_000);
});
