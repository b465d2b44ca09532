// Edge secrets over HTTPS with real sandboxes: the run's proxy ends TLS for the hosts an edge secret
// is for (leaves signed by a CA made for the run; the sandbox trusts it through SSL_CERT_FILE & co),
// puts the real value in place of the placeholder for those hosts only, and verifies the real
// upstream (here a loopback HTTPS server whose CA the test makes with openssl and gives the runner as
// test-only configuration). Other allowed hosts stay tunnels the proxy cannot read.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { LogEvent } from '@airlock/proto';
import { DEFAULT_POLICY_PATH } from '@airlock/validate';
import { TestStack, containersOf, runEvents } from '../fixtures.ts';
import { makeBareRepo, makeUpstreamPki } from '../egress-upstreams.ts';

let stack: TestStack;
let server: Server;
/** An HTTPS upstream whose certificate no one trusts (self-signed): the proxy must refuse it. */
let rogue: Server;
let rogueHits = 0;
let root: string;
let ws: string;
const SECRET = 'ghp_edgeTlsSecret0123456789abcdef';
const OTHER = 'other-edge-secret-5b6c7d8e9f';
/** Each request the upstream saw: the TLS name, the Host header and the Authorization header. */
const seen: { sni: string; host: string; auth: string; path: string }[] = [];

type Egress = Extract<LogEvent, { type: 'egress.connection' }>;
const egressOf = async (runId: string): Promise<Egress[]> => (await runEvents(stack.client, runId)).filter((e): e is Egress => e.type === 'egress.connection');

/** /echo answers with the Authorization it got (an upstream that echoes a token); /repo.git/* wants Basic x:SECRET. */
function serve(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'https://x');
  const auth = String(req.headers.authorization ?? '');
  seen.push({ sni: (req.socket as { servername?: string }).servername ?? '', host: req.headers.host ?? '', auth, path: url.pathname });
  if (url.pathname === '/echo') return void res.end(`saw ${auth}\n`);
  if (auth !== `Basic ${Buffer.from(`x:${SECRET}`).toString('base64')}`) {
    return void res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end('need the token\n');
  }
  const file = normalize(join(root, 'www', url.pathname));
  if (!file.startsWith(join(root, 'www'))) return void res.writeHead(400).end();
  try {
    res.end(readFileSync(file));
  } catch {
    res.writeHead(404).end('not found\n');
  }
}

const PROBE = `
import os, ssl, sys, urllib.request, urllib.error
case, url = sys.argv[1], sys.argv[2]
def fetch(opener, var):
    r = urllib.request.Request(url, headers={"Authorization": "Bearer " + os.environ[var]})
    try:
        body = opener.open(r, timeout=30).read().decode()
        open(sys.argv[4], "w").write(body)
        print("OK", len(body))
    except urllib.error.HTTPError as e:
        print("HTTP", e.code, e.reason)
    except Exception as e:
        print("ERR", type(e).__name__, e)
if case == "auth":
    fetch(urllib.request.build_opener(), sys.argv[3])
elif case == "pinned":
    # Trusts only the test upstream's CA: succeeds only if the bytes come from the upstream itself.
    ctx = ssl.create_default_context(cafile="upstream-ca.pem")
    fetch(urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx)), sys.argv[3])
`;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'airlock-egress-tls-'));
  makeBareRepo(root, 'hello over https\n');
  const pki = makeUpstreamPki(root, 'egress-tls test upstream CA', ['api.github.test', 'other.test', 'plain.test']);
  server = createServer({ key: pki.key, cert: pki.cert }, serve);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const dest = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rogue.key', '-out', 'rogue.pem', '-days', '2', '-subj', '/CN=rogue.test', '-addext', 'subjectAltName=DNS:rogue.test'], { cwd: root, stdio: 'pipe' });
  rogue = createServer({ key: readFileSync(join(root, 'rogue.key')), cert: readFileSync(join(root, 'rogue.pem')) }, (_req, res) => {
    rogueHits++;
    res.end('rogue\n');
  });
  rogue.listen(0, '127.0.0.1');
  await once(rogue, 'listening');
  const policy = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as { network: Record<string, unknown>; secrets: unknown[]; overrides: Record<string, string> };
  policy.network.mode = 'proxy';
  policy.network.allow = [{ hosts: ['api.github.test', 'other.test', 'plain.test', 'rogue.test'], ports: [443] }];
  policy.secrets = [
    { name: 'GH_TOKEN', hosts: ['api.github.test', 'rogue.test'] },
    { name: 'OTHER_TOKEN', hosts: ['other.test'] },
  ];
  // The tests print a placeholder and search the sandbox for a key on purpose.
  policy.overrides = { ...policy.overrides, 'exfil.secret_env': 'allow', 'exfil.secret_search': 'allow' };
  process.env.AIRLOCK_SECRET_GH_TOKEN = SECRET;
  process.env.AIRLOCK_SECRET_OTHER_TOKEN = OTHER;
  const policyFile = join(root, 'policy.yaml');
  writeFileSync(policyFile, stringify(policy));
  stack = await TestStack.start({
    harness: { policyFile },
    runner: { egressTestResolve: { 'api.github.test': dest, 'other.test': dest, 'plain.test': dest, 'rogue.test': `127.0.0.1:${(rogue.address() as AddressInfo).port}` }, egressTestUpstreamCa: [pki.caPem] },
  });
  ws = mkdtempSync(join(tmpdir(), 'airlock-egress-tls-ws-'));
  writeFileSync(join(ws, 'probe.py'), PROBE);
  writeFileSync(join(ws, 'upstream-ca.pem'), pki.caPem);
  for (const f of ['', 'probe.py', 'upstream-ca.pem']) chownSync(join(ws, f), 1000, 1000);
}, 90_000);

afterAll(async () => {
  delete process.env.AIRLOCK_SECRET_GH_TOKEN;
  delete process.env.AIRLOCK_SECRET_OTHER_TOKEN;
  await stack?.[Symbol.asyncDispose]();
  server?.close();
  rogue?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(ws, { recursive: true, force: true });
  expect(await containersOf(stack.runnerId)).toEqual([]);
});

describe('edge secrets over HTTPS (per-run CA, interception for secret hosts only)', () => {
  it('the secret host gets the real token (header and git URL userinfo); another secret host gets the placeholder, flagged; a host without a secret is a plain tunnel; the token is nowhere in the sandbox or the log', async () => {
    const run = await stack.client.open({ workspace: ws });
    const env = { GH_TOKEN: '${secret:GH_TOKEN}', OTHER_TOKEN: '${secret:OTHER_TOKEN}' };
    const r = await run.exec(
      [
        'python3 probe.py auth https://api.github.test/echo GH_TOKEN gh.out',
        'python3 probe.py auth https://other.test/echo GH_TOKEN other.out',
        'python3 probe.py pinned https://plain.test/echo GH_TOKEN plain.out',
        'git clone -q "https://x:$GH_TOKEN@api.github.test/repo.git" cloned && cat cloned/hello.txt',
        'echo "$GH_TOKEN" > placeholder.txt',
      ].join('; '),
      { env },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^OK \d+\nOK \d+\nOK \d+\nhello over https\n$/);
    const placeholder = readFileSync(join(ws, 'placeholder.txt'), 'utf8').trim();
    expect(placeholder).toMatch(/^airlock-placeholder-GH_TOKEN-[0-9a-f]{24}$/);

    // The upstream saw the real value from api.github.test only; other.test and plain.test got the placeholder.
    const echoes = seen.filter((s) => s.path === '/echo');
    expect(echoes).toEqual([
      { sni: 'api.github.test', host: 'api.github.test', auth: `Bearer ${SECRET}`, path: '/echo' },
      { sni: 'other.test', host: 'other.test', auth: `Bearer ${placeholder}`, path: '/echo' },
      { sni: 'plain.test', host: 'plain.test', auth: `Bearer ${placeholder}`, path: '/echo' },
    ]);
    expect(seen.some((s) => s.path === '/repo.git/info/refs' && s.auth === `Basic ${Buffer.from(`x:${SECRET}`).toString('base64')}`)).toBe(true);
    // The echoing upstream's answer reached the sandbox redacted; the others as sent.
    expect(readFileSync(join(ws, 'gh.out'), 'utf8')).not.toContain(SECRET);
    expect(readFileSync(join(ws, 'gh.out'), 'utf8')).toMatch(/^saw Bearer .*GH_TOKEN/);
    expect(readFileSync(join(ws, 'other.out'), 'utf8')).toBe(`saw Bearer ${placeholder}\n`);

    const egress = await egressOf(run.runId);
    const gh = egress.filter((e) => e.host === 'api.github.test');
    expect(gh.find((e) => e.path === '/echo')).toMatchObject({ via: 'https', method: 'GET', decision: 'allowed', secrets: ['GH_TOKEN'] });
    expect(gh.filter((e) => e.path?.startsWith('/repo.git/')).length).toBeGreaterThan(1);
    expect(gh.every((e) => e.via === 'https')).toBe(true);
    expect(egress.find((e) => e.host === 'other.test')).toMatchObject({ via: 'https', decision: 'allowed', flagged: 'the placeholder of GH_TOKEN was sent to other.test, which the secret is not for; left unsubstituted (possible exfiltration)' });
    expect(egress.filter((e) => e.host === 'plain.test')).toEqual([expect.objectContaining({ via: 'connect', decision: 'allowed' })]);

    await stack.client.close(run.runId);
    const all = JSON.stringify(await runEvents(stack.client, run.runId));
    expect(all).toContain('snapshot.created');
    expect(all).not.toContain(SECRET);
    const files = readdirSync(ws, { recursive: true, encoding: 'utf8' }).map((f) => join(ws, f)).filter((f) => statSync(f).isFile());
    expect(files.length).toBeGreaterThan(5);
    expect(files.filter((f) => readFileSync(f).includes(SECRET))).toEqual([]);
  }, 180_000);

  it('the proxy verifies the upstream as any client would: an untrusted certificate is a 502, and the token is not sent', async () => {
    const run = await stack.client.open({ workspace: ws });
    const r = await run.exec('python3 probe.py auth https://rogue.test/echo GH_TOKEN rogue.out', { env: { GH_TOKEN: '${secret:GH_TOKEN}' } });
    expect(r.stdout).toBe('HTTP 502 airlock egress: upstream rogue.test:443 failed\n');
    expect(rogueHits).toBe(0);
    const e = (await egressOf(run.runId)).find((x) => x.host === 'rogue.test');
    expect(e).toMatchObject({ via: 'https', decision: 'allowed', secrets: ['GH_TOKEN'] });
    expect(e?.reason).toMatch(/^upstream rogue\.test:443 failed: self[- ]signed certificate/);
    await stack.client.close(run.runId);
  }, 120_000);

  it('the sandbox sees the run CA certificate and bundle, never a key; each run has its own CA', async () => {
    const cas: string[] = [];
    for (const n of [1, 2]) {
      const run = await stack.client.open({ workspace: ws });
      const r = await run.exec(
        'ls /opt/airlock/egress; echo "$SSL_CERT_FILE $REQUESTS_CA_BUNDLE $GIT_SSL_CAINFO $NODE_EXTRA_CA_CERTS"; grep -c "BEGIN CERTIFICATE" "$SSL_CERT_FILE"; grep -rls "PRIVATE KEY" /opt /tmp /etc /home /workspace "$PWD" || echo no-key; cat /opt/airlock/egress/ca.pem',
      );
      const lines = r.stdout.trim().split('\n');
      expect(lines.slice(0, 4), `run ${n}`).toEqual(['ca-bundle.pem', 'ca.pem', 'forwarder.py', 'p']);
      expect(lines[4]).toBe('/opt/airlock/egress/ca-bundle.pem /opt/airlock/egress/ca-bundle.pem /opt/airlock/egress/ca-bundle.pem /opt/airlock/egress/ca.pem');
      expect(Number(lines[5])).toBeGreaterThan(100);
      expect(lines[6]).toBe('no-key');
      expect(lines[7]).toBe('-----BEGIN CERTIFICATE-----');
      expect(lines.at(-1)).toBe('-----END CERTIFICATE-----');
      cas.push(lines.slice(7).join('\n'));
      await stack.client.close(run.runId);
    }
    expect(cas[0]).not.toBe(cas[1]);
  }, 120_000);
});
