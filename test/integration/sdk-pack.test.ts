// The SDK as a user gets it: `npm pack` of @airlock/proto and @airlock/client (built first),
// installed with plain `npm install <tarballs>` into an empty project outside the repository, and
// the README's quick-start script run there by plain node against a real stack.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useStack } from '../fixtures.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const EXAMPLE = join(ROOT, 'client', 'examples', 'quickstart.mjs');
const stack = useStack();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Runs npm (from PATH, as a user would), failing loudly with its output. Never synchronously: the
 * stack's harness and runner live in this process and keep their heartbeats going meanwhile.
 */
async function npm(args: string[], cwd: string): Promise<void> {
  const env = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
  await promisify(execFile)('npm', args, { cwd, encoding: 'utf8', timeout: 300_000, env }).catch((err: { stderr?: string; message: string }) => {
    throw new Error(`npm ${args.join(' ')} failed: ${err.message}\n${err.stderr ?? ''}`);
  });
}

describe('the packed SDK', () => {
  it('installs from its tarballs into an empty project and runs the README example under plain node', async () => {
    await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'proto/tsconfig.build.json', 'client/tsconfig.build.json'], { cwd: ROOT });
    const packs = mkdtempSync(join(tmpdir(), 'airlock-packs-'));
    const project = mkdtempSync(join(tmpdir(), 'airlock-sdk-user-'));
    dirs.push(packs, project);
    await npm(['pack', '--pack-destination', packs, './proto', './client'], ROOT);
    const tarballs = readdirSync(packs).filter((f) => f.endsWith('.tgz')).sort();
    expect(tarballs).toEqual(['airlock-client-0.1.0.tgz', 'airlock-proto-0.1.0.tgz']);
    // Only the build ships: no .ts sources (node refuses to run those from node_modules), no tests.
    const listing = execFileSync('tar', ['-tzf', join(packs, tarballs[0]!)], { encoding: 'utf8' });
    expect(listing).toContain('package/dist/index.js');
    expect(listing).toContain('package/dist/index.d.ts');
    expect(listing.split('\n').filter((l) => l.endsWith('.ts') && !l.endsWith('.d.ts'))).toEqual([]);

    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'sdk-user', version: '1.0.0', private: true }));
    // From the npm cache when it holds the NATS client and zod (it does after `make setup`), else the registry.
    await npm(['install', '--prefer-offline', ...tarballs.map((t) => join(packs, t))], project);
    copyFileSync(EXAMPLE, join(project, 'quickstart.mjs'));

    // Asynchronously: the stack's harness and runner live in this process and must keep answering.
    const ran = await promisify(execFile)(process.execPath, ['quickstart.mjs'], { cwd: project, encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', AIRLOCK_NATS: stack.nats.url } });
    expect(ran.stderr).toBe('');
    const lines = ran.stdout.trim().split('\n');
    expect(lines[0]).toBe('exit 3: hello from the sandbox');
    expect(lines).toContain('#1 run.opened');
    expect(lines.some((l) => /^#\d+ step\.exited$/.test(l))).toBe(true);
    const runId = /^run (\S+)$/.exec(lines.at(-1) ?? '')?.[1];
    expect(runId).toBeDefined();
    // `await using` closed the run when the script's scope ended.
    const record = (await stack.client.ps({ all: true })).runs.find((r) => r.runId === runId);
    expect(record?.status).toBe('closed');
  });

  it('is the example the README shows, word for word', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(readFileSync(EXAMPLE, 'utf8').trim());
  });
});
