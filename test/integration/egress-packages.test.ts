// Real package managers through the run's egress proxy: `pip download`, `pip install` and `npm
// install` fetch a package from a loopback test registry (a PEP 503 simple index and an npm registry,
// both over HTTPS, served by this test) through an allowed name, and fail with a message naming the
// name when the same registry is asked for under a name the policy does not list. The registries are
// plain CONNECT tunnels (no edge secret is for them): the tools verify the test CA themselves.
// pip is the image's (`python3-pip` in sandbox-images/base/packages.txt); npm is the host's, run in a
// test image that adds this Node binary and the host's npm to the default sandbox image.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { LogEvent } from '@airlock/proto';
import { DEFAULT_POLICY_PATH } from '@airlock/validate';
import { TestStack, containersOf, runEvents, testSession } from '../fixtures.ts';
import { makeUpstreamPki } from '../egress-upstreams.ts';

let stack: TestStack;
let server: Server;
let root: string;
let ws: string;
/** The test image with Node and npm (made once per Node/npm pair, kept for later runs). */
let npmImage: string;
/** The registries' files: path -> body. */
const files = new Map<string, { body: Buffer; type: string }>();
/** Every request the registries saw, `host path`. */
const hits: string[] = [];
const WHEEL = 'airlock_tiny-0.1.0-py3-none-any.whl';
const TGZ = 'airlock-tiny-1.0.0.tgz';

type Egress = Extract<LogEvent, { type: 'egress.connection' }>;
const egressOf = async (runId: string): Promise<Egress[]> => (await runEvents(stack.client, runId)).filter((e): e is Egress => e.type === 'egress.connection');

/** A pure-Python wheel (a zip with the module and its dist-info), made by the host's python3 zipfile. */
function makeWheel(dir: string): Buffer {
  const script = `
import base64, hashlib, sys, zipfile
files = {
  "airlock_tiny/__init__.py": "GREETING = 'hello from the test index'\\n",
  "airlock_tiny-0.1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: airlock-tiny\\nVersion: 0.1.0\\n",
  "airlock_tiny-0.1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: airlock-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
record = []
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for name, text in files.items():
        data = text.encode()
        z.writestr(name, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (name, digest, len(data)))
    record.append("airlock_tiny-0.1.0.dist-info/RECORD,,")
    z.writestr("airlock_tiny-0.1.0.dist-info/RECORD", "\\n".join(record) + "\\n")
`;
  execFileSync('python3', ['-c', script, join(dir, WHEEL)], { stdio: 'pipe' });
  return readFileSync(join(dir, WHEEL));
}

/** An npm package tarball (`package/` at the root, as `npm pack` makes it), made by the host's tar. */
function makeTarball(dir: string): Buffer {
  const pkg = join(dir, 'npmsrc', 'package');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'airlock-tiny', version: '1.0.0', main: 'index.js' }));
  writeFileSync(join(pkg, 'index.js'), "module.exports = 'hello from the test registry';\n");
  execFileSync('tar', ['-czf', join(dir, TGZ), '-C', join(dir, 'npmsrc'), 'package'], { stdio: 'pipe' });
  return readFileSync(join(dir, TGZ));
}

/** The registries' pages: a PEP 503 project page and an npm packument, both pointing at their files. */
function publish(wheel: Buffer, tgz: Buffer): void {
  const sha256 = createHash('sha256').update(wheel).digest('hex');
  files.set('/simple/airlock-tiny/', { type: 'text/html', body: Buffer.from(`<!DOCTYPE html><html><body><a href="/files/${WHEEL}#sha256=${sha256}">${WHEEL}</a></body></html>\n`) });
  files.set(`/files/${WHEEL}`, { type: 'application/octet-stream', body: wheel });
  const dist = { tarball: `https://npm.test/airlock-tiny/-/${TGZ}`, shasum: createHash('sha1').update(tgz).digest('hex'), integrity: `sha512-${createHash('sha512').update(tgz).digest('base64')}` };
  const version = { name: 'airlock-tiny', version: '1.0.0', main: 'index.js', dist };
  files.set('/airlock-tiny', { type: 'application/json', body: Buffer.from(JSON.stringify({ name: 'airlock-tiny', 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': version } })) });
  files.set(`/airlock-tiny/-/${TGZ}`, { type: 'application/octet-stream', body: tgz });
}

function serve(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'https://x').pathname;
  hits.push(`${(req.socket as { servername?: string }).servername ?? '?'} ${path}`);
  const f = files.get(path);
  if (!f) return void res.writeHead(404).end('not found\n');
  res.writeHead(200, { 'content-type': f.type, 'content-length': String(f.body.length) }).end(f.body);
}

/**
 * The default sandbox image plus the Node binary running this test and the host's npm (read-only,
 * under /opt/node): the default image carries no Node (nodejs + npm from Debian would add 194 MB and
 * 360 packages to it, see README). Built once per Node/npm pair and kept.
 */
function npmTestImage(dir: string): string {
  const npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
  const npmDir = dirname(dirname(npmCli));
  const npmVersion = (JSON.parse(readFileSync(join(npmDir, 'package.json'), 'utf8')) as { version: string }).version;
  const tag = `airlock-test/sandbox-npm:node${process.versions.node}-npm${npmVersion}`;
  try {
    execFileSync('docker', ['image', 'inspect', tag], { stdio: 'pipe' });
    return tag;
  } catch {
    // not built yet
  }
  const ctx = join(dir, 'npm-image');
  mkdirSync(join(ctx, 'node', 'bin'), { recursive: true });
  cpSync(process.execPath, join(ctx, 'node', 'bin', 'node'));
  cpSync(npmDir, join(ctx, 'node', 'lib', 'node_modules', 'npm'), { recursive: true, dereference: true });
  writeFileSync(
    join(ctx, 'Dockerfile'),
    ['FROM airlock/sandbox:default', 'COPY node /opt/node', 'USER root', 'RUN ln -s /opt/node/lib/node_modules/npm/bin/npm-cli.js /opt/node/bin/npm', 'USER 1000:1000', 'ENV PATH=/opt/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `LABEL airlock.test=${testSession()}`].join('\n') + '\n',
  );
  execFileSync('docker', ['build', '--quiet', '-t', tag, ctx], { stdio: 'pipe', env: { ...process.env, DOCKER_BUILDKIT: '0' } });
  return tag;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'airlock-egress-packages-'));
  const pki = makeUpstreamPki(root, 'egress-packages test registry CA', ['pypi.test', 'npm.test', 'evil.test']);
  publish(makeWheel(root), makeTarball(root));
  npmImage = npmTestImage(root);
  server = createServer({ key: pki.key, cert: pki.cert }, serve);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const dest = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const policy = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as { network: Record<string, unknown> };
  policy.network.mode = 'proxy';
  policy.network.allow = [{ hosts: ['pypi.test', 'npm.test'], ports: [443] }];
  // The test registries are non-default indexes on purpose (the validator would hold such installs for
  // approval; the unlisted one is read as a direct URL), and a venv's python is named like the system
  // one (held as exec.path_shadow).
  const overrides = (policy as { overrides?: Record<string, string> }).overrides;
  (policy as { overrides?: Record<string, string> }).overrides = { ...overrides, 'supply_chain.untrusted_index': 'allow', 'supply_chain.direct_url': 'allow', 'exec.path_shadow': 'allow' };
  const policyFile = join(root, 'policy.yaml');
  writeFileSync(policyFile, stringify(policy));
  // evil.test resolves to the same registry: what stops it is the allowlist, not a failed lookup.
  stack = await TestStack.start({ harness: { policyFile }, runner: { egressTestResolve: { 'pypi.test': dest, 'npm.test': dest, 'evil.test': dest } } });
  ws = mkdtempSync(join(tmpdir(), 'airlock-egress-packages-ws-'));
  writeFileSync(join(ws, 'registry-ca.pem'), pki.caPem);
  for (const f of ['', 'registry-ca.pem']) chownSync(join(ws, f), 1000, 1000);
}, 180_000);

afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
  server?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(ws, { recursive: true, force: true });
  expect(await containersOf(stack.runnerId)).toEqual([]);
});

/**
 * pip with the test registry's CA. REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE (set for every egress step,
 * the run's bundle) override pip's --cert inside requests, so the test removes them for pip. One
 * retry: pip reports a failed index fetch only in its retry warning (with --retries 0 only "from
 * versions: none" is left).
 */
const pip = (bin: string) => `env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE ${bin} --disable-pip-version-check --no-cache-dir --retries 1 --timeout 30 --cert registry-ca.pem`;
const PIP = pip('pip');
const DENIED = "airlock egress denied: evil.test is not on the run's network allowlist";

describe('package managers through the run proxy', () => {
  it('pip download and pip install (venv) from an allowed index succeed; the same index under an unlisted name fails naming it', async () => {
    const run = await stack.client.open({ workspace: ws });
    const dl = await run.exec(`${PIP} download --no-deps --only-binary=:all: --index-url https://pypi.test/simple/ -d dl airlock-tiny && ls dl`, { timeoutMs: 120_000 });
    expect(dl.exitCode, dl.stderr).toBe(0);
    expect(dl.stdout).toContain(`Saved ./dl/${WHEEL}`);
    expect(readFileSync(join(ws, 'dl', WHEEL))).toEqual(files.get(`/files/${WHEEL}`)!.body);

    // pip install into a venv (Debian's system Python is externally managed, PEP 668), then import it.
    // /tmp is noexec in a sandbox: the venv's pip runs through its python (a link to /usr/bin/python3).
    const inst = await run.exec(`python3 -m venv /tmp/venv && ${pip('/tmp/venv/bin/python -m pip')} install --index-url https://pypi.test/simple/ airlock-tiny && /tmp/venv/bin/python -c 'import airlock_tiny; print(airlock_tiny.GREETING)'`, { timeoutMs: 120_000 });
    expect(inst.exitCode, inst.stderr).toBe(0);
    expect(inst.stdout).toContain('Successfully installed airlock-tiny-0.1.0');
    expect(inst.stdout.trim().split('\n').at(-1)).toBe('hello from the test index');

    const denied = await run.exec(`${PIP} download --no-deps --index-url https://evil.test/simple/ -d dl2 airlock-tiny`, { timeoutMs: 120_000 });
    expect(denied.exitCode).not.toBe(0);
    expect(denied.stdout + denied.stderr).toContain(DENIED);
    // pip makes the -d directory before it looks anything up; nothing arrives in it.
    expect(readdirSync(join(ws, 'dl2'))).toEqual([]);

    expect(hits).toContain(`pypi.test /simple/airlock-tiny/`);
    expect(hits).toContain(`pypi.test /files/${WHEEL}`);
    expect(hits.filter((h) => h.startsWith('evil.test'))).toEqual([]);
    const egress = await egressOf(run.runId);
    expect(egress.filter((e) => e.host === 'pypi.test').every((e) => e.decision === 'allowed' && e.via === 'connect' && e.port === 443)).toBe(true);
    expect(egress.filter((e) => e.host === 'pypi.test').reduce((n, e) => n + e.bytesDown, 0)).toBeGreaterThan(1000);
    expect(egress.filter((e) => e.host === 'evil.test').map((e) => [e.decision, e.reason])).toContainEqual(['denied', "evil.test is not on the run's network allowlist"]);
    await stack.client.close(run.runId);
  }, 300_000);

  it('npm install from an allowed registry succeeds; the same registry under an unlisted name fails naming it', async () => {
    const run = await stack.client.open({ workspace: ws, image: npmImage });
    // Steps get the runner's PATH, not the image's: the test names the binaries.
    const npm = '/opt/node/bin/node /opt/node/lib/node_modules/npm/bin/npm-cli.js --no-audit --no-fund --no-update-notifier --fetch-retries=0 --cafile=/workspace/registry-ca.pem';
    const ok = await run.exec(`mkdir app && cd app && echo '{"name":"app","version":"1.0.0"}' > package.json && ${npm} --registry=https://npm.test/ install airlock-tiny && /opt/node/bin/node -p "require('airlock-tiny')"`, { timeoutMs: 180_000 });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout.trim().split('\n').at(-1)).toBe('hello from the test registry');
    expect(JSON.parse(readFileSync(join(ws, 'app', 'package.json'), 'utf8'))).toMatchObject({ dependencies: { 'airlock-tiny': '^1.0.0' } });
    expect(readdirSync(join(ws, 'app', 'node_modules', 'airlock-tiny')).sort()).toEqual(['index.js', 'package.json']);

    const denied = await run.exec(`mkdir app2 && cd app2 && echo '{"name":"app2","version":"1.0.0"}' > package.json && ${npm} --registry=https://evil.test/ install airlock-tiny`, { timeoutMs: 180_000 });
    expect(denied.exitCode).not.toBe(0);
    expect(denied.stdout + denied.stderr).toContain('evil.test');
    expect(denied.stdout + denied.stderr).toMatch(/403|airlock egress denied/);
    expect(statSync(join(ws, 'app2', 'node_modules'), { throwIfNoEntry: false })).toBeUndefined();

    expect(hits).toContain('npm.test /airlock-tiny');
    expect(hits).toContain(`npm.test /airlock-tiny/-/${TGZ}`);
    expect(hits.filter((h) => h.startsWith('evil.test'))).toEqual([]);
    const egress = await egressOf(run.runId);
    expect(egress.filter((e) => e.host === 'npm.test').every((e) => e.decision === 'allowed' && e.via === 'connect')).toBe(true);
    expect(egress.filter((e) => e.host === 'evil.test').map((e) => [e.decision, e.reason])).toContainEqual(['denied', "evil.test is not on the run's network allowlist"]);
    await stack.client.close(run.runId);
  }, 300_000);
});
