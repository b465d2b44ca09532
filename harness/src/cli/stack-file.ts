// What every CLI command reads before it connects: the local stack's file and the role credentials
// `up` wrote. Kept apart from stack.ts and credentials.ts, which start processes and mint keys, so
// that `exec`, `log` and `--help` load neither (nor @airlock/trust): see README "CLI start".
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Role } from '@airlock/proto';

export interface StackInfo {
  /** Where NATS listens (no credentials: safe to print). */
  natsUrl: string;
  /** The same with the client user's credentials (this file is 0600): what the CLI connects with. Absent for a NATS given with --nats. */
  clientUrl?: string;
  /** One credential file per role (`roles/<role>.json`, 0600): `./airlock --as ROLE` reads them. Absent for a NATS given with --nats. */
  rolesDir?: string;
  stateDir: string;
  pids: { nats?: number; runner: number; harness: number };
  startedAt: string;
}

export function stackFile(stateDir: string): string {
  return join(stateDir, 'stack.json');
}

export function readStack(stateDir: string): StackInfo | null {
  try {
    return JSON.parse(readFileSync(stackFile(stateDir), 'utf8')) as StackInfo;
  } catch {
    return null;
  }
}

export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A role's credential file as `ensureDeployment` wrote it: its NATS login (user JWT and nkey seed) and harness credential. */
export function readRoleFile(file: string): { role: Role; principal: string; user: string; jwt: string; seed: string; credential: string } {
  return JSON.parse(readFileSync(file, 'utf8')) as { role: Role; principal: string; user: string; jwt: string; seed: string; credential: string };
}

/** Where a runner's user JWT sits beside its identity file (`runners/<id>.json` → `runners/<id>.jwt`). */
export function runnerJwtFile(identityFile: string): string {
  return `${identityFile.replace(/\.json$/, '')}.jwt`;
}

/**
 * `nats://user:pass@host:port` for each server of a comma-separated list; for an operator-mode
 * login, `nats://<user JWT>:<seed>@host:port` (the connection code logs in with JWT and seed).
 */
export function withCredentials(servers: string, cred: { user: string; pass: string } | { jwt: string; seed: string }): string {
  const [user, pass] = 'jwt' in cred ? [cred.jwt, cred.seed] : [cred.user, cred.pass];
  return servers
    .split(',')
    .map((s) => s.replace(/^(nats:\/\/)?/, (p) => `${p || 'nats://'}${encodeURIComponent(user)}:${encodeURIComponent(pass)}@`))
    .join(',');
}
