import type { User } from '@nats-io/jwt';
import type { NatsAuthority, NatsUser } from './authority.ts';

/** A user's permissions as a nats-server config file writes them (`authorization.users[].permissions`). */
export interface ConfigPermissions {
  publish?: string[] | { allow?: string[]; deny?: string[] };
  subscribe?: string[] | { allow?: string[]; deny?: string[] };
  allow_responses?: { max?: number; expires?: string };
}

/**
 * The same permissions as user JWT claims, so one table (`rolePermissions`, `runnerPermissions`)
 * serves both a config-file deployment and an operator-mode one.
 */
export function jwtPermissions(p: ConfigPermissions): Partial<User> {
  const side = (s: ConfigPermissions['publish']) => (s === undefined ? undefined : Array.isArray(s) ? { allow: [...s] } : { ...(s.allow ? { allow: [...s.allow] } : {}), ...(s.deny ? { deny: [...s.deny] } : {}) });
  const pub = side(p.publish);
  const sub = side(p.subscribe);
  return {
    ...(pub ? { pub } : {}),
    ...(sub ? { sub } : {}),
    ...(p.allow_responses ? { resp: { max: p.allow_responses.max ?? 1, ttl: durationNs(p.allow_responses.expires ?? '0s') } } : {}),
  };
}

/** `25h`, `90s`, `500ms` as nanoseconds (a JWT's response TTL is a Go duration). */
export function durationNs(text: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unitMs * 1_000_000;
}

/**
 * A runner's operator-mode user: its JWT names the runner's own nkey (`U…` public key), so the
 * runner logs in with the seed it already has and the JWT (not secret: useless without the seed).
 */
export async function runnerUser(authority: NatsAuthority, runnerId: string, publicNkey: string, permissions: ConfigPermissions): Promise<Omit<NatsUser, 'seed'>> {
  return authority.mintFor(`runner ${runnerId}`, publicNkey, jwtPermissions(permissions));
}
