// The network part of a policy that the runner's egress proxy enforces: which hosts a run's
// sandbox may reach through the proxy (`network.mode: proxy`), on which ports, and optionally with
// which HTTP methods and path prefixes. Everything not listed is denied. Pure data and matching;
// the proxy itself lives in runner/src/egress.
import { z } from 'zod';

/** How a sandbox reaches the network: not at all, or only through the run's audited egress proxy. */
export const NETWORK_MODES = ['none', 'proxy'] as const;
/** A network mode. */
export type NetworkMode = (typeof NETWORK_MODES)[number];

/**
 * What the proxy does with a connection to a host and port the allowlist does not name: refuse it,
 * or hold it while an operator decides (the harness's approvals).
 */
export const EGRESS_UNLISTED = ['deny', 'ask'] as const;
/** A `network.unlisted` setting. */
export type EgressUnlisted = (typeof EGRESS_UNLISTED)[number];
/** How long an asked connection waits for a decision unless the policy says (`network.askWaitMs`). */
export const DEFAULT_EGRESS_ASK_WAIT_MS = 60_000;

/**
 * Named allowlists for the common package registries, so a policy can say `allow: [pypi]`.
 * HTTPS only: a preset never opens plain HTTP.
 */
export const EGRESS_PRESETS = {
  pypi: ['pypi.org', 'files.pythonhosted.org'],
  npm: ['registry.npmjs.org'],
  crates: ['crates.io', 'index.crates.io', 'static.crates.io'],
  goproxy: ['proxy.golang.org', 'sum.golang.org'],
  github: ['github.com', 'api.github.com', 'codeload.github.com', 'raw.githubusercontent.com', 'objects.githubusercontent.com'],
} as const satisfies Record<string, readonly string[]>;
/** A preset's name. */
export type EgressPreset = keyof typeof EGRESS_PRESETS;
const PRESET_NAMES = Object.keys(EGRESS_PRESETS) as [EgressPreset, ...EgressPreset[]];

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Why a host pattern is not acceptable, or null. A pattern is a lowercase DNS name (`pypi.org`) or
 * `*.` and a name (`*.pythonhosted.org`: any name under it, not the name itself). IP literals are
 * refused: the proxy resolves names itself, and an allowlist of addresses would let a name that
 * resolves there (or a literal in a URL) through without saying who it is.
 */
export function hostPatternProblem(pattern: string): string | null {
  const name = pattern.startsWith('*.') ? pattern.slice(2) : pattern;
  if (pattern.includes(':') || IPV4.test(name)) return `${JSON.stringify(pattern)} is an IP address; allow hosts by name`;
  if (name !== name.toLowerCase()) return `${JSON.stringify(pattern)} must be lowercase`;
  const labels = name.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) {
    return `${JSON.stringify(pattern)} is not a host name or "*." and a host name (e.g. "pypi.org", "*.pythonhosted.org")`;
  }
  return null;
}

/** A host pattern (see {@link hostPatternProblem}). */
export const HostPatternSchema = z.string().superRefine((s, ctx) => {
  const problem = hostPatternProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** One allowlist entry: hosts, ports and (for plain HTTP) methods and path prefixes. */
export const EgressRuleSchema = z.strictObject({
  hosts: z.array(HostPatternSchema).min(1),
  /** Ports the hosts may be reached on. Default: 443 only. */
  ports: z.array(z.number().int().min(1).max(65_535)).min(1).optional(),
  /**
   * HTTP methods allowed. Only the proxy sees the method of plain-HTTP requests (and of HTTPS to a
   * host whose TLS it terminates for a secret); an opaque CONNECT tunnel to a rule with methods or
   * paths is refused, since the rule could not be enforced inside it.
   */
  methods: z.array(z.enum(HTTP_METHODS)).min(1).optional(),
  /** Path prefixes allowed (each starts with `/`); same visibility as `methods`. */
  paths: z.array(z.string().startsWith('/')).min(1).optional(),
});
/** One allowlist entry. */
export type EgressRule = z.infer<typeof EgressRuleSchema>;

/** An allowlist entry as written: a preset's name or a rule. */
export const EgressAllowSchema = z.union([z.enum(PRESET_NAMES), EgressRuleSchema], {
  error: (iss) => `${JSON.stringify(iss.input)} is not a preset (${PRESET_NAMES.join(', ')}) or a rule {hosts, ports?, methods?, paths?}`,
});
/** An allowlist entry as written. */
export type EgressAllow = z.infer<typeof EgressAllowSchema>;

/** The allowlist with presets expanded into rules. */
export function expandAllow(allow: readonly EgressAllow[]): EgressRule[] {
  return allow.map((a) => (typeof a === 'string' ? { hosts: [...EGRESS_PRESETS[a]], ports: [443] } : a));
}

/** Whether `host` (a lowercase DNS name) matches `pattern`. `*.x.org` matches names under x.org, not x.org. */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return host === pattern;
}

/** What a connection or request asks for. `method`/`path` only when the proxy can see them. */
export interface EgressAsk {
  host: string;
  port: number;
  method?: string;
  path?: string;
}

/** The allowlist's answer: the rule that allowed it, or why not. */
export type EgressDecision = { allowed: true; rule: EgressRule } | { allowed: false; reason: string };

/**
 * Decides one connection (no method/path: an opaque tunnel) or one HTTP request. A tunnel to a
 * rule that limits methods or paths is refused: what passes through it cannot be checked.
 */
export function decideEgress(rules: readonly EgressRule[], ask: EgressAsk): EgressDecision {
  const host = ask.host.toLowerCase();
  const byHost = rules.filter((r) => r.hosts.some((p) => hostMatches(p, host)));
  if (byHost.length === 0) return { allowed: false, reason: `${host} is not on the run's network allowlist` };
  const byPort = byHost.filter((r) => (r.ports ?? [443]).includes(ask.port));
  if (byPort.length === 0) return { allowed: false, reason: `${host} is allowed, but not on port ${ask.port}` };
  const tunnel = ask.method === undefined;
  for (const r of byPort) {
    const limited = r.methods !== undefined || r.paths !== undefined;
    if (tunnel && limited) continue;
    if (!tunnel && r.methods && !r.methods.includes(ask.method!.toUpperCase() as (typeof HTTP_METHODS)[number])) continue;
    if (!tunnel && r.paths && !r.paths.some((p) => (ask.path ?? '/').startsWith(p))) continue;
    return { allowed: true, rule: r };
  }
  return tunnel
    ? { allowed: false, reason: `${host}:${ask.port} is allowed only for some methods or paths, which an HTTPS tunnel cannot show` }
    : { allowed: false, reason: `${ask.method} ${ask.path ?? '/'} on ${host} is not allowed (methods or paths of the rule)` };
}

/**
 * Whether some rule names `host` on `port` (whatever its methods or paths): a connection to a host
 * and port no rule names is "unlisted", which `network.unlisted: ask` may hold for an operator.
 */
export function listsHostPort(rules: readonly EgressRule[], host: string, port: number): boolean {
  const h = host.toLowerCase();
  return rules.some((r) => r.hosts.some((p) => hostMatches(p, h)) && (r.ports ?? [443]).includes(port));
}
