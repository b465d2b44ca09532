// The run's CA in the sandbox's system trust store: programs that ignore SSL_CERT_FILE & co (they
// read /etc/ssl/certs/ca-certificates.crt, OpenSSL's and curl's default) still trust the run's CA for
// the hosts the proxy intercepts, in that run only: the run's bundle is bind-mounted over the system
// path read-only, the image's own file stays as it was, and another run sees its own CA, not this one's.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DEFAULT_POLICY_PATH } from '@airlock/validate';
import { TestStack, containersOf, testSession } from '../fixtures.ts';
import { makeBareRepo, makeUpstreamPki } from '../egress-upstreams.ts';

let stack: TestStack;
let server: Server;
let root: string;
let ws: string;
const SECRET = 'ghp_trustStoreSecret0123456789ab';
/** The Authorization header of each request the upstream saw. */
const seen: string[] = [];
/** Every variable that points a tool at a trust store other than the system one. */
const TRUST_VARS = ['SSL_CERT_FILE', 'SSL_CERT_DIR', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'NODE_EXTRA_CA_CERTS'];
const WITHOUT_TRUST_VARS = `env ${TRUST_VARS.map((v) => `-u ${v}`).join(' ')}`;
const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** Python's default context: with no variable set it reads OpenSSL's default CA file, the system bundle. */
const PROBE = `
import os, sys, urllib.request
r = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + os.environ["GH_TOKEN"]})
try:
    print("OK", urllib.request.urlopen(r, timeout=30).read().decode().strip())
except Exception as e:
    print("ERR", type(e).__name__, e)
`;

/** The PEM certificates of a bundle, normalised. */
const certsOf = (pem: string): string[] => [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => m[0].replace(/\s+/g, ''));

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'airlock-egress-trust-'));
  makeBareRepo(root, 'hello through the system trust store\n');
  const pki = makeUpstreamPki(root, 'egress-trust test upstream CA', ['api.github.test']);
  server = createServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    const auth = String(req.headers.authorization ?? '');
    seen.push(auth);
    const url = new URL(req.url ?? '/', 'https://x');
    if (url.pathname === '/echo') return void res.end(auth === `Bearer ${SECRET}` ? 'token arrived\n' : 'no token\n');
    const file = normalize(join(root, 'www', url.pathname));
    if (!file.startsWith(join(root, 'www'))) return void res.writeHead(400).end();
    try {
      res.end(readFileSync(file));
    } catch {
      res.writeHead(404).end('not found\n');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const policy = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as { network: Record<string, unknown>; secrets: unknown[]; overrides: Record<string, string> };
  policy.network.mode = 'proxy';
  policy.network.allow = [{ hosts: ['api.github.test'], ports: [443] }];
  policy.secrets = [{ name: 'GH_TOKEN', hosts: ['api.github.test'] }];
  // The test writes to the system bundle on purpose (the mount, not the validator, must stop it).
  policy.overrides = { ...policy.overrides, 'exfil.secret_env': 'allow', 'exfil.secret_search': 'allow', 'fs.write_system': 'allow' };
  process.env.AIRLOCK_SECRET_GH_TOKEN = SECRET;
  const policyFile = join(root, 'policy.yaml');
  writeFileSync(policyFile, stringify(policy));
  stack = await TestStack.start({
    harness: { policyFile },
    runner: { egressTestResolve: { 'api.github.test': `127.0.0.1:${(server.address() as AddressInfo).port}` }, egressTestUpstreamCa: [pki.caPem] },
  });
  ws = mkdtempSync(join(tmpdir(), 'airlock-egress-trust-ws-'));
  writeFileSync(join(ws, 'probe.py'), PROBE);
  for (const f of ['', 'probe.py']) chownSync(join(ws, f), 1000, 1000);
}, 90_000);

afterAll(async () => {
  delete process.env.AIRLOCK_SECRET_GH_TOKEN;
  await stack?.[Symbol.asyncDispose]();
  server?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(ws, { recursive: true, force: true });
  expect(await containersOf(stack.runnerId)).toEqual([]);
});

describe('the run CA in the system trust store', () => {
  it('tools that ignore the trust variables trust the run CA through the system bundle, for that run only; the key never enters', async () => {
    const env = { GH_TOKEN: '${secret:GH_TOKEN}' };
    const a = await stack.client.open({ workspace: ws });
    const b = await stack.client.open({ workspace: ws });

    // Python's default context and git (curl's default CA file), every trust variable removed: the
    // proxy intercepts (an edge secret is for the host) and both trust its leaf through the system path.
    const r = await a.exec(`${WITHOUT_TRUST_VARS} python3 probe.py https://api.github.test/echo; ${WITHOUT_TRUST_VARS} git clone -q "https://x:$GH_TOKEN@api.github.test/repo.git" cloned && cat cloned/hello.txt; rm -rf cloned`, { env });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('OK token arrived\nhello through the system trust store\n');
    expect(seen).toContain(`Bearer ${SECRET}`);

    // What each sandbox's system path holds: the public roots and its own run's CA, no key.
    const bundleOf = async (run: typeof a) => {
      const x = await run.exec(`cat ${SYSTEM_BUNDLE}; echo ===; cat /opt/airlock/egress/ca.pem`);
      expect(x.exitCode).toBe(0);
      const [bundle = '', ca = ''] = x.stdout.split('===\n');
      return { bundle, ca: certsOf(ca)[0]! };
    };
    const inA = await bundleOf(a);
    const inB = await bundleOf(b);
    expect(certsOf(inA.bundle)).toContain(inA.ca);
    expect(certsOf(inB.bundle)).toContain(inB.ca);
    expect(inA.ca).not.toBe(inB.ca);
    expect(certsOf(inB.bundle)).not.toContain(inA.ca);
    expect(certsOf(inA.bundle)).not.toContain(inB.ca);
    expect(certsOf(inA.bundle).length).toBeGreaterThan(50);
    for (const x of [inA, inB]) expect(x.bundle).not.toMatch(/PRIVATE KEY/);
    // Read-only, also for the step's processes.
    const w = await a.exec(`echo x >> ${SYSTEM_BUNDLE}`);
    expect(w.exitCode).not.toBe(0);
    expect(w.stderr).toMatch(/Read-only file system|Permission denied/);

    // The image's own file is untouched: a sandbox of the same image started outside any run has neither CA.
    const image = execFileSync('docker', ['run', '--rm', '--network', 'none', '--label', `airlock.test=${testSession()}`, '--entrypoint', 'cat', 'airlock/sandbox:default', SYSTEM_BUNDLE], { encoding: 'utf8' });
    expect(certsOf(image).length).toBeGreaterThan(50);
    expect(certsOf(image)).not.toContain(inA.ca);
    expect(certsOf(image)).not.toContain(inB.ca);

    // A closed run's bundle goes with it; the other run still reaches the host through its own.
    await stack.client.close(a.runId);
    const rb = await b.exec(`${WITHOUT_TRUST_VARS} python3 probe.py https://api.github.test/echo`, { env });
    expect(rb.stdout).toBe('OK token arrived\n');
    await stack.client.close(b.runId);
  }, 180_000);
});
