// The proxy's door for hosts the allowlist does not name: refused, unless the run's policy says
// `network.unlisted: ask`, in which case the connection waits here while the runner asks the
// harness (ask.ts), and goes on or is refused by what an operator decided (or by expiry).
import { listsHostPort, type EgressRule } from '@airlock/validate';
import type { EgressAskResult, EgressTarget } from '@airlock/proto';
import { isIpLiteral } from './address.ts';

/** Asks whoever decides (the runner, then the harness) about a connection no rule names. Never rejects. */
export type AskUnlisted = (target: EgressTarget) => Promise<EgressAskResult>;

/** What admitting a target needs from the proxy's options. */
export interface AdmitOptions {
  rules: readonly EgressRule[];
  /** Set when the run's policy says `network.unlisted: ask`. */
  ask?: AskUnlisted | undefined;
}

/** The proxy's decision: null = let it through; `approval` names the egress hold that decided, if one did. */
export interface Admission {
  refused: string | null;
  approval?: string;
}

/**
 * Decides a target with the allowlist (`refuse`: the proxy's own check), and for a refusal of a
 * name no rule lists on that port, asks when the policy says so. IP literals are never asked about,
 * nor a listed host whose rule limits methods or paths (the rule said what it allows).
 */
export async function admit(opts: AdmitOptions, target: EgressTarget, refuse: () => string | null): Promise<Admission> {
  const refused = refuse();
  if (!refused || !opts.ask || isIpLiteral(target.host) || listsHostPort(opts.rules, target.host, target.port)) return { refused };
  const answer = await opts.ask(target).catch((err: unknown) => ({ allowed: false, reason: `the ask failed: ${(err as Error).message}` }) as EgressAskResult);
  const tag = answer.approval ? { approval: answer.approval } : {};
  return answer.allowed ? { refused: null, ...tag } : { refused: answer.reason, ...tag };
}
