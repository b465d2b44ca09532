import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AirlockError, ROLES, RUN_ID_PATTERN } from '@airlock/proto';
import type { Role } from '@airlock/proto';
import type { Budgets, RunState } from '@airlock/proto';
import type { Airlock } from '@airlock/client';
import { addWatchCommand } from './watch.ts';

/** What the governance commands need from the CLI's main module. */
export interface CliKit {
  withClient<T>(fn: (c: Airlock) => Promise<T>): Promise<T>;
  asJson(): boolean;
  out(line: string): void;
  /** The state directory (`up` keeps the harness key in `<state>/harness/key.pem`). */
  stateDir(): string;
}

/** `30m`, `2h`, `7d` in ms. */
function ttlMs(text: string): number {
  const m = /^(\d+)([smhd])$/.exec(text);
  if (!m) throw new AirlockError('bad_request', `--ttl wants a duration like 30m, 2h or 7d, got ${JSON.stringify(text)}`);
  return Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** One line (or a few) for people: state, cause, budgets used. */
export function formatRunState(s: RunState): string {
  const lines = [`run ${s.runId}: ${s.state.toUpperCase()}${s.termination ? ` (${s.termination})` : ''}${s.stepInFlight ? `, step ${s.stepInFlight} running` : ''}`];
  if (s.paused) {
    const c = s.paused.cause;
    const why = c.kind === 'operator' ? `by ${s.paused.by?.principal ?? 'an operator'}` : c.kind === 'budget' ? `budget ${c.budget} used up (${c.used} of ${c.limit})` : `loop ${c.detector} (steps ${c.steps.join(', ')})`;
    lines.push(`  paused ${why} at ${s.paused.at}: ${s.paused.reason}`);
  }
  const budget = (name: keyof Budgets, used: number, unit = '', digits = 0) => `${name} ${digits ? used.toFixed(digits) : Math.round(used)}${unit}${s.budgets[name] !== undefined ? ` of ${s.budgets[name]}${unit}` : ''}`;
  lines.push(`  used: ${budget('steps', s.used.steps)}, ${budget('activeMs', s.used.activeMs, ' ms')}, ${budget('outputBytes', s.used.outputBytes, ' B')}, ${budget('cpuSeconds', s.used.cpuSeconds, ' s', 2)}, ${budget('cost', s.used.cost, '', 2)}${s.warnings ? `; ${s.warnings} loop warning(s)` : ''}`);
  if (s.lastControl) lines.push(`  last control: ${s.lastControl.verb} by ${s.lastControl.by.principal} (${s.lastControl.by.role}) at ${s.lastControl.at}`);
  return lines.join('\n');
}

const positive = (v: string, flag: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new AirlockError('bad_request', `${flag} wants a whole number > 0, got ${JSON.stringify(v)}`);
  return n;
};

const nonNegative = (v: string, flag: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new AirlockError('bad_request', `${flag} wants a whole number >= 0, got ${JSON.stringify(v)}`);
  return n;
};

/** A number > 0 (CPU seconds and cost may be fractional). */
export const positiveNumber = (v: string, flag: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new AirlockError('bad_request', `${flag} wants a number > 0, got ${JSON.stringify(v)}`);
  return n;
};

/** `pause`, `resume`, `cancel`, `kill`, `raise`, `watch`: operators govern runs. */
export function addGovernanceCommands(program: Command, kit: CliKit): void {
  const show = (s: RunState) => (kit.asJson() ? kit.out(JSON.stringify({ type: 'run.state', ...s })) : kit.out(formatRunState(s)));
  for (const [verb, what] of [
    ['pause', 'pause a run: no new step starts until it is resumed (the running step finishes)'],
    ['resume', 'resume a paused run (paused by an operator, a budget or a loop detector)'],
    ['cancel', 'cancel a run: the running step finishes, then the run closes (termination: cancelled)'],
    ['kill', 'kill a run now: its sandbox is removed mid-step and the run closes (termination: killed)'],
  ] as const) {
    const cmd = program
      .command(verb)
      .description(`${what}; operators only, recorded in the run's log with who and why`)
      .argument('<run>', 'run id')
      .option('--reason <text>', 'why, for the log')
      .option('--request-id <id>', 'idempotency key: sending the same request again changes nothing (default: a fresh one)');
    if (verb === 'pause') cmd.option('--interrupt', 'also interrupt the running step: SIGINT, then SIGTERM after the grace period').option('--grace <ms>', 'with --interrupt: ms between SIGINT and SIGTERM (default 10000)');
    cmd.action((runId: string, o: { reason?: string; requestId?: string; interrupt?: boolean; grace?: string }) =>
      kit.withClient(async (c) =>
        show(
          await c.control(runId, verb, {
            requestId: o.requestId ?? randomUUID(),
            ...(o.reason ? { reason: o.reason } : {}),
            ...(o.interrupt ? { interrupt: true } : {}),
            ...(o.grace !== undefined ? { graceMs: nonNegative(o.grace, '--grace') } : {}),
          }),
        ),
      ),
    );
  }
  program
    .command('raise')
    .description("raise a run's budgets (operators); then `resume` a run a budget paused")
    .argument('<run>', 'run id')
    .option('--steps <n>', 'steps budget')
    .option('--active-ms <n>', 'active wall time budget, ms')
    .option('--output-bytes <n>', 'output bytes budget')
    .option('--cpu-seconds <n>', 'CPU seconds budget (the sandboxes\' cgroup CPU time)')
    .option('--cost <n>', 'cost budget (sum of the cost figures the agent reports per step)')
    .option('--reason <text>', 'why, for the log')
    .option('--request-id <id>', 'idempotency key')
    .action((runId: string, o: { steps?: string; activeMs?: string; outputBytes?: string; cpuSeconds?: string; cost?: string; reason?: string; requestId?: string }) =>
      kit.withClient(async (c) => {
        const budgets: Budgets = {
          ...(o.steps ? { steps: positive(o.steps, '--steps') } : {}),
          ...(o.activeMs ? { activeMs: positive(o.activeMs, '--active-ms') } : {}),
          ...(o.outputBytes ? { outputBytes: positive(o.outputBytes, '--output-bytes') } : {}),
          ...(o.cpuSeconds ? { cpuSeconds: positiveNumber(o.cpuSeconds, '--cpu-seconds') } : {}),
          ...(o.cost ? { cost: positiveNumber(o.cost, '--cost') } : {}),
        };
        if (Object.keys(budgets).length === 0) throw new AirlockError('bad_request', 'name a budget to raise: --steps, --active-ms, --output-bytes, --cpu-seconds or --cost');
        show(await c.raise(runId, budgets, { requestId: o.requestId ?? randomUUID(), ...(o.reason ? { reason: o.reason } : {}) }));
      }),
    );
  program
    .command('credential')
    .description("issue a credential signed with the harness key (on the harness's host: the key file is 0600), e.g. a run-scoped, expiring one for an agent")
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .requiredOption('--name <principal>', 'who it names (recorded as the actor of everything done with it)')
    .option('--runs <ids...>', 'limit an agent to these runs (and the runs it opens itself)')
    .option('--ttl <duration>', 'expires after this long (30m, 2h, 7d); default: does not expire')
    .option('--key-file <file>', 'the harness signing key (default: <state>/harness/key.pem)')
    .action(async (o: { role: string; name: string; runs?: string[]; ttl?: string; keyFile?: string }) => {
      if (!(ROLES as readonly string[]).includes(o.role)) throw new AirlockError('bad_request', `--role is one of ${ROLES.join(', ')}, got ${JSON.stringify(o.role)}`);
      for (const r of o.runs ?? []) if (!RUN_ID_PATTERN.test(r)) throw new AirlockError('bad_request', `--runs wants run ids, got ${JSON.stringify(r)}`);
      // Loaded here only: minting keys is the one command that needs @airlock/trust (README "CLI start").
      const [{ importPrivateKey }, { issueCredential }] = await Promise.all([import('@airlock/trust'), import('../governance/identity.ts')]);
      const key = importPrivateKey(readFileSync(o.keyFile ?? join(kit.stateDir(), 'harness', 'key.pem'), 'utf8'));
      const ttl = o.ttl ? ttlMs(o.ttl) : undefined;
      const credential = issueCredential(key, { principal: o.name, role: o.role as Role, ...(o.runs ? { runs: o.runs } : {}), ...(ttl !== undefined ? { ttlMs: ttl } : {}) });
      if (kit.asJson()) kit.out(JSON.stringify({ type: 'credential', role: o.role, principal: o.name, ...(o.runs ? { runs: o.runs } : {}), ...(ttl !== undefined ? { expiresAt: new Date(Date.now() + ttl).toISOString() } : {}), credential }));
      else kit.out(credential);
    });
  addWatchCommand(program, kit);
}
