// The real Codex CLI (npm @openai/codex, pinned in test/package.json), set up the way the README tells
// users to: a CODEX_HOME whose config.toml points the model at a loopback Responses API and whose
// environments.toml makes `./airlock codex-env` the only environment.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AIRLOCK_BIN } from '../fixtures.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** The version this suite was verified with; the test fails if another one is installed. */
export const CODEX_VERSION = '0.171.0';

/** The npm launcher of the installed Codex (it starts the native binary of this platform). */
export const CODEX_BIN = join(ROOT, 'node_modules', '.bin', 'codex');

/** Fails loudly when Codex is missing or is not the pinned version. */
export function checkCodexInstalled(): string {
  if (!existsSync(CODEX_BIN)) throw new Error(`Codex CLI not found at ${CODEX_BIN}: run \`npm ci\` (test/package.json pins @openai/codex ${CODEX_VERSION})`);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', '@openai', 'codex', 'package.json'), 'utf8')) as { version: string };
  if (pkg.version !== CODEX_VERSION) throw new Error(`@openai/codex ${pkg.version} is installed, this suite is verified with ${CODEX_VERSION}`);
  return execFileSync(CODEX_BIN, ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } }).trim();
}

function tomlString(s: string): string {
  return JSON.stringify(s);
}

/** config.toml: the scripted model, no approvals or sandbox of Codex's own (Airlock is both), no telemetry. */
export function configToml(modelBaseUrl: string, model = 'scripted'): string {
  return [
    `model = ${tomlString(model)}`,
    'model_provider = "scripted"',
    'approval_policy = "never"',
    'sandbox_mode = "danger-full-access"',
    'check_for_update_on_startup = false',
    '',
    '[model_providers.scripted]',
    'name = "Scripted loopback model"',
    `base_url = ${tomlString(modelBaseUrl)}`,
    'wire_api = "responses"',
    '',
    '[analytics]',
    'enabled = false',
    '',
    '[feedback]',
    'enabled = false',
    '',
    '[otel]',
    'exporter = "none"',
    'log_user_prompt = false',
    '',
  ].join('\n');
}

/** environments.toml: Airlock is the default and only environment (no local one). */
export function environmentsToml(args: readonly string[]): string {
  return [
    'default = "airlock"',
    'include_local = false',
    '',
    '[[environments]]',
    'id = "airlock"',
    `program = ${tomlString(AIRLOCK_BIN)}`,
    `args = [${args.map(tomlString).join(', ')}]`,
    // Opening a run (a container) on a loaded machine can take longer than Codex's 10 s default.
    'initialize_timeout_sec = 120',
    '',
  ].join('\n');
}

/** A fresh CODEX_HOME with both files. */
export function makeCodexHome(modelBaseUrl: string, codexEnvArgs: readonly string[], model?: string): string {
  const home = mkdtempSync(join(tmpdir(), 'airlock-codex-home-'));
  writeFileSync(join(home, 'config.toml'), configToml(modelBaseUrl, model));
  writeFileSync(join(home, 'environments.toml'), environmentsToml(codexEnvArgs));
  return home;
}

export interface CodexRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `codex exec PROMPT` in `cwd` with only PATH, HOME and CODEX_HOME set; fails after `timeoutMs`. */
export function runCodexExec(o: { cwd: string; codexHome: string; prompt: string; timeoutMs: number }): Promise<CodexRun> {
  return new Promise((done, fail) => {
    const child = spawn(CODEX_BIN, ['exec', '--skip-git-repo-check', o.prompt], {
      cwd: o.cwd,
      env: { PATH: process.env.PATH ?? '', HOME: o.codexHome, CODEX_HOME: o.codexHome },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`codex exec did not finish in ${o.timeoutMs} ms; stderr tail: ${stderr.slice(-4000)}`));
    }, o.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}
