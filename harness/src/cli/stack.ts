import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { SERVICE_NODE_FLAGS } from '@airlock/proto';
import { Airlock } from '@airlock/client';
import { ensureDeployment, withCredentials } from './credentials.ts';
import { alive, readStack, stackFile, type StackInfo } from './stack-file.ts';

export { alive, readStack, stackFile };
export type { StackInfo };

/** Repository root: the runner and harness entry points are spawned from here. */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');

export interface StackOptions {
  stateDir: string;
  /** Connect to this NATS instead of starting one. */
  natsUrl?: string;
  /** Port of the embedded nats-server. */
  port: number;
  slots: number;
  runnerId: string;
  /** Children outlive this process (the CLI returns once the stack answers). */
  detach: boolean;
  /** Policy file for the harness (else AIRLOCK_POLICY, else the shipped default). */
  policyFile?: string;
  /** Progress lines for people. */
  say: (line: string) => void;
}


function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      done(true);
    });
    sock.once('error', () => done(false));
  });
}

/** A started service: its process, its name and where its output goes. */
interface Child {
  name: string;
  process: ChildProcess;
  log: string;
}

/** The last lines of a log file (what a service said before it died), or nothing. */
function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>, children: Child[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    const dead = children.find((c) => c.process.exitCode !== null);
    if (dead) throw new Error(`${what}: ${dead.name} exited early (code ${dead.process.exitCode}); the end of ${dead.log}:\n${tail(dead.log)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms; see the logs`);
}

/**
 * Starts NATS (unless one is given), a runner and the harness on this machine, and waits until the
 * harness answers and the runner has announced itself.
 */
export async function up(opts: StackOptions): Promise<{ info: StackInfo; children: ChildProcess[] }> {
  const logs = join(opts.stateDir, 'logs');
  mkdirSync(logs, { recursive: true });
  const children: Child[] = [];
  const start = (name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const log = join(logs, `${name}.log`);
    const out = openSync(log, 'a');
    const child = spawn(cmd, args, {
      cwd: REPO_ROOT,
      detached: opts.detach,
      stdio: ['ignore', out, out],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });
    if (opts.detach) child.unref();
    children.push({ name, process: child, log });
    return child;
  };

  let natsUrl = opts.natsUrl;
  let natsPid: number | undefined;
  // Our own NATS runs in operator (JWT) mode with this deployment's users: harness, client and one
  // per role, one for the runner (its own identity nkey, its own subjects only); the harness pins
  // the runner's keys. A NATS given with --nats
  // is the operator's to configure (`node --conditions=airlock-source deploy/credentials.ts` writes the same files for it).
  const keyFile = join(opts.stateDir, 'harness', 'key.pem');
  // With our own NATS, every role gets a NATS user and a credential signed by the harness key, and
  // the harness requires credentials (AIRLOCK_AUTH=required).
  const creds = natsUrl ? undefined : await ensureDeployment(join(opts.stateDir, 'credentials'), [opts.runnerId], { harnessKeyFile: keyFile });
  try {
    if (!natsUrl) {
      if (await portOpen(opts.port)) throw new Error(`port ${opts.port} is taken; pass --port N, or --nats URL to use that server`);
      const dataDir = join(opts.stateDir, 'nats');
      mkdirSync(dataDir, { recursive: true });
      const nats = start('nats', 'nats-server', ['-c', creds!.natsConf, '-js', '-sd', dataDir, '-a', '127.0.0.1', '-p', String(opts.port)]);
      natsPid = nats.pid;
      natsUrl = `nats://127.0.0.1:${opts.port}`;
      opts.say(`nats-server   ${natsUrl} (JetStream data in ${dataDir}; operator mode, config ${creds!.natsConf})`);
      await waitFor('nats-server', 10_000, () => portOpen(opts.port), children);
    }
    const node = process.execPath;
    // Credentials go through the environment, not argv (which `ps` shows to every user).
    const harnessEnv = creds
      ? {
          AIRLOCK_NATS_URL: withCredentials(natsUrl, creds.harness),
          AIRLOCK_RUNNERS_FILE: creds.runnersFile,
          AIRLOCK_AUTH: 'required',
          // Operator mode: the harness mints each run's log grant for its runner, and revokes it.
          AIRLOCK_NATS_AUTHORITY_FILE: creds.authorityFile,
          AIRLOCK_NATS_SYSTEM_URL: withCredentials(natsUrl, creds.system),
        }
      : {};
    const harness = start('harness', node, [...SERVICE_NODE_FLAGS, join(REPO_ROOT, 'harness/src/main.ts'), ...(creds ? [] : ['--nats', natsUrl]), '--key-file', keyFile, '--secrets-dir', join(opts.stateDir, 'secrets'), ...(opts.policyFile ? ['--policy', opts.policyFile] : [])], { ...secretEnv(), ...harnessEnv });
    const identity = creds?.runners.find((r) => r.runnerId === opts.runnerId)?.identityFile;
    const runner = start('runner', node, [...SERVICE_NODE_FLAGS, join(REPO_ROOT, 'runner/src/main.ts'), '--nats', natsUrl, '--id', opts.runnerId, ...(identity ? ['--identity', identity] : []), '--slots', String(opts.slots), '--state-dir', join(opts.stateDir, 'runner'), '--harness-key', `${keyFile}.pub`, '--pool', process.env.AIRLOCK_POOL ?? '2']);
    opts.say(`runner        ${opts.runnerId} (${opts.slots} slots), harness; logs in ${logs}`);
    const clientUrl = creds ? withCredentials(natsUrl, creds.client) : undefined;
    const operator = creds?.roles.operator;
    await using client = await Airlock.connect({ servers: operator ? withCredentials(natsUrl, operator) : (clientUrl ?? natsUrl), ...(operator?.credential ? { credential: operator.credential } : {}) });
    await waitFor('harness and runner', 30_000, async () => (await client.status({ timeoutMs: 1000 })).runners.some((r) => r.runnerId === opts.runnerId), children);
    const info: StackInfo = {
      natsUrl,
      ...(clientUrl ? { clientUrl } : {}),
      ...(creds ? { rolesDir: join(creds.dir, 'roles') } : {}),
      stateDir: opts.stateDir,
      pids: { ...(natsPid ? { nats: natsPid } : {}), runner: runner.pid!, harness: harness.pid! },
      startedAt: new Date().toISOString(),
    };
    writeFileSync(stackFile(opts.stateDir), JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
    chmodSync(stackFile(opts.stateDir), 0o600);
    return { info, children: children.map((c) => c.process) };
  } catch (err) {
    for (const c of children.reverse()) c.process.kill('SIGKILL');
    throw err;
  }
}

/** `AIRLOCK_SECRET_*` and `AIRLOCK_POLICY` go to the harness only; the runner gets no secret. */
function secretEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('AIRLOCK_SECRET_') || k === 'AIRLOCK_POLICY'));
}

/** Stops a stack started by `up`: harness, then runner (which removes its sandboxes), then NATS. */
export async function down(stateDir: string, say: (line: string) => void): Promise<boolean> {
  const info = readStack(stateDir);
  if (!info) return false;
  for (const [name, pid] of [['harness', info.pids.harness], ['runner', info.pids.runner], ['nats-server', info.pids.nats]] as const) {
    if (!alive(pid)) continue;
    process.kill(pid!, 'SIGTERM');
    const deadline = Date.now() + 20_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (alive(pid)) process.kill(pid!, 'SIGKILL');
    say(`stopped ${name} (pid ${pid})`);
  }
  if (existsSync(stackFile(stateDir))) rmSync(stackFile(stateDir));
  return true;
}
