// Secrets at the edge: a step of an egress run sees a placeholder where a policy secret with `hosts`
// would be; the proxy puts the real value in place of the placeholder in requests to those hosts only
// (header values, the user:password of Basic authorization that git and curl make from URL userinfo,
// and the URL). A placeholder seen in a request to any other host stays as it is, and the event is
// flagged: a step tried to send a secret where the policy does not send it.
import { randomBytes } from 'node:crypto';
import { hostMatches } from '@airlock/validate';

/** One edge secret as the proxy holds it. */
export interface EdgeSecret {
  name: string;
  placeholder: string;
  value: string;
  hosts: string[];
}

/** A fresh placeholder for a secret (per run: a placeholder a step saved in a file keeps working). */
export function newPlaceholder(name: string): string {
  return `airlock-placeholder-${name}-${randomBytes(12).toString('hex')}`;
}

/** What substitution did to one request. */
export interface Substitution {
  /** Secrets put in (their names). */
  used: string[];
  /** Secrets whose placeholder went to a host they are not for (their names). */
  flagged: string[];
}

function replaceIn(text: string, host: string, secrets: readonly EdgeSecret[], out: Substitution): string {
  let result = text;
  for (const s of secrets) {
    if (!result.includes(s.placeholder)) continue;
    if (s.hosts.some((p) => hostMatches(p, host))) {
      result = result.split(s.placeholder).join(s.value);
      if (!out.used.includes(s.name)) out.used.push(s.name);
    } else if (!out.flagged.includes(s.name)) out.flagged.push(s.name);
  }
  return result;
}

/** Basic credentials decoded, substituted and encoded again (git sends URL userinfo this way). */
function replaceBasic(value: string, host: string, secrets: readonly EdgeSecret[], out: Substitution): string {
  const m = /^(basic)\s+([A-Za-z0-9+/=]+)\s*$/i.exec(value);
  if (!m) return replaceIn(value, host, secrets, out);
  const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
  const replaced = replaceIn(decoded, host, secrets, out);
  return replaced === decoded ? value : `${m[1]} ${Buffer.from(replaced, 'utf8').toString('base64')}`;
}

/** Substitutes a request's header values (in place of a copy) for `host`. */
export function substituteHeaders(headers: Record<string, string | string[]>, host: string, secrets: readonly EdgeSecret[], out: Substitution): Record<string, string | string[]> {
  if (secrets.length === 0) return headers;
  const result: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    const one = (x: string) => (k === 'authorization' || k === 'proxy-authorization' ? replaceBasic(x, host, secrets, out) : replaceIn(x, host, secrets, out));
    result[k] = Array.isArray(v) ? v.map(one) : one(v);
  }
  return result;
}

/** Substitutes a request path (with its query) for `host`. */
export function substitutePath(path: string, host: string, secrets: readonly EdgeSecret[], out: Substitution): string {
  return secrets.length === 0 ? path : replaceIn(path, host, secrets, out);
}
