// The proxy's door for unlisted hosts (unlisted.ts) and its IPC asker (ask-ipc.ts), against a real
// unix-socket proxy and a loopback upstream, with the asker stubbed (the harness's side is covered by
// test/integration/egress-ask.test.ts).
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EgressAskResult, EgressTarget } from '@airlock/proto';
import { expandAllow } from '@airlock/validate';
import { childAsker, type AskMessage } from './ask-ipc.ts';
import { createEgressProxy, type EgressEvent } from './proxy.ts';
import { admit } from './unlisted.ts';

let dir: string;
let web: Server;
let proxy: Server;
const seen: string[] = [];
const events: EgressEvent[] = [];
const asked: EgressTarget[] = [];
/** What the stubbed decider answers next. */
let answer: EgressAskResult = { allowed: false, reason: 'unset' };

const rules = expandAllow([{ hosts: ['listed.test'], ports: [80], methods: ['GET'] }]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'egress-unlisted-'));
  web = createServer((req, res) => {
    seen.push(`${req.headers.host}${req.url}`);
    res.end('served');
  });
  web.listen(0, '127.0.0.1');
  await once(web, 'listening');
  const dest = `127.0.0.1:${(web.address() as AddressInfo).port}`;
  proxy = createEgressProxy({
    rules,
    testResolve: { 'listed.test': dest, 'ask.test': dest },
    onEvent: (e) => events.push(e),
    secrets: () => [],
    ask: async (t) => {
      asked.push(t);
      return answer;
    },
  });
  proxy.listen(join(dir, 'p'));
  await once(proxy, 'listening');
});

afterAll(async () => {
  proxy.close();
  web.close();
  await rm(dir, { recursive: true, force: true });
});

/** One plain-HTTP proxy request: status and status text. */
function get(url: string, method = 'GET'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ socketPath: join(dir, 'p'), method, path: url, headers: { host: u.host } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: res.statusMessage ?? '' }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('unlisted hosts under network.unlisted: ask', () => {
  it('an unlisted name is asked about: allowed goes upstream tagged with the hold; refused is a 403 with the answer, nothing upstream', async () => {
    answer = { allowed: true, approval: '3.1', reason: 'approved by olga (egress 3.1)' };
    expect(await get('http://ask.test/yes')).toEqual({ status: 200, text: 'OK' });
    answer = { allowed: false, approval: '3.2', reason: 'egress 3.2 was denied by olga' };
    expect(await get('http://ask.test/no')).toEqual({ status: 403, text: 'airlock egress denied: egress 3.2 was denied by olga' });
    expect(asked).toEqual([{ host: 'ask.test', port: 80, via: 'http', method: 'GET', path: '/yes' }, { host: 'ask.test', port: 80, via: 'http', method: 'GET', path: '/no' }]);
    expect(seen).toEqual(['ask.test/yes']);
    expect(events.map((e) => [e.host, e.decision, e.approval])).toEqual([['ask.test', 'allowed', '3.1'], ['ask.test', 'denied', '3.2']]);
  });

  it('IP literals and a listed host whose rule limits methods are refused without asking', async () => {
    asked.length = 0;
    answer = { allowed: true, approval: '9.9', reason: 'would allow' };
    expect((await get('http://10.1.2.3/x')).status).toBe(403);
    expect(await get('http://listed.test/x', 'POST')).toEqual({ status: 403, text: 'airlock egress denied: POST /x on listed.test is not allowed (methods or paths of the rule)' });
    expect(asked).toEqual([]);
  });

  it('admit: no asker, or an asker that throws, is a refusal', async () => {
    const target: EgressTarget = { host: 'ask.test', port: 443, via: 'connect' };
    expect(await admit({ rules }, target, () => 'not listed')).toEqual({ refused: 'not listed' });
    expect(await admit({ rules, ask: () => Promise.reject(new Error('boom')) }, target, () => 'not listed')).toEqual({ refused: 'the ask failed: boom' });
    expect(await admit({ rules, ask: () => Promise.reject(new Error('never called')) }, target, () => null)).toEqual({ refused: null });
  });

  it('childAsker: answers match their ids; no answer in time is a denial', async () => {
    const sent: AskMessage[] = [];
    const asker = childAsker((m) => sent.push(m), 300);
    const a = asker.ask({ host: 'a.test', port: 443, via: 'connect' });
    const b = asker.ask({ host: 'b.test', port: 443, via: 'connect' });
    asker.onMessage({ type: 'answer', id: sent[1]!.id, answer: { allowed: true, reason: 'b ok' } });
    expect(await b).toEqual({ allowed: true, reason: 'b ok' });
    expect(await a).toEqual({ allowed: false, reason: 'no answer from the runner within 300 ms: denied' });
    // A late answer for a settled ask changes nothing.
    asker.onMessage({ type: 'answer', id: sent[0]!.id, answer: { allowed: true, reason: 'late' } });
  });
});
