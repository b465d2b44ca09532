import { analyzeScript, DeadlineError, rank, threadCpuMicros, type Ctx, type EffectsAcc, type Finding, type OpaqueSpot } from './analyze.ts';
import { compilePolicy, type CompiledPolicy } from './compile.ts';
import { GrammarError, loadBashGrammar, type BashGrammar } from './grammar.ts';
import { checkInput } from './input.ts';
import { defaultPolicy, policyHash, type Policy, type VerdictKind } from './policy.ts';
import type { StartupModel } from './startup.ts';

/** Character span in the validated command (JS string indices, i.e. UTF-16 code units). */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/**
 * What the chain predicts the command will do. Policy decides on it; the
 * soundness harness (`npm run soundness`) checks it against what bash does.
 */
export interface Effects {
  /** Programs executed: names as run (basename of a path), unwrapped from wrappers and nested scripts, builtins included. */
  readonly exec: readonly string[];
  /** Paths read, resolved against the tracked working directory (`~/…` for home). */
  readonly reads: readonly string[];
  /** Paths written, resolved the same way. */
  readonly writes: readonly string[];
  /** Hosts contacted; `*` when a network tool's target is only known at run time. */
  readonly network: readonly string[];
  /** Where the chain could not know what runs, reads or writes. Non-empty ⇒ the verdict is never `allow`. */
  readonly opaque: readonly OpaqueSpot[];
}

/** The chain's answer for one command. */
export interface Verdict {
  readonly verdict: VerdictKind;
  /** Stable dotted rule id (`exec.remote_code`), or `policy.allow` when nothing matched. */
  readonly rule: string;
  /** One sentence a person understands. */
  readonly reason: string;
  /** The offending part of the command; absent for `allow`. */
  readonly span?: Span;
  /** Every finding that tightened the verdict, strictest first (for audit). */
  readonly findings: readonly Finding[];
  /** Names of the commands found (after unwrapping `sudo`, `bash -c`, …); the same list as `effects.exec`. */
  readonly commands: readonly string[];
  /** What the command will do, as far as the chain can tell. */
  readonly effects: Effects;
}

/** A loaded validation chain bound to one policy. */
export interface Validator {
  readonly policy: Policy;
  /** {@link policyHash} of {@link Validator.policy}. */
  readonly policyHash: string;
  /** Runs the chain. Never throws: internal errors and timeouts are `deny`. */
  validate(cmd: string): Verdict;
}

/** Options for {@link createValidator}. */
export interface ValidatorOptions {
  /** Policy to enforce; defaults to `validate/policy/default.yaml`. */
  readonly policy?: Policy;
  /** The sandbox's shell start-up files (what `bash -l` and friends read first); defaults to SANDBOX_STARTUP. */
  readonly startup?: StartupModel;
}

/** Loads the bash grammar (wasm) once and returns a synchronous validator. */
export async function createValidator(options: ValidatorOptions = {}): Promise<Validator> {
  const policy = options.policy ?? (await defaultPolicy());
  const grammar = await loadBashGrammar();
  return makeValidator(policy, compilePolicy(policy), grammar, options.startup);
}

function makeValidator(policy: Policy, compiled: CompiledPolicy, grammar: BashGrammar, startup: StartupModel | undefined): Validator {
  return {
    policy,
    policyHash: policyHash(policy),
    validate(cmd) {
      try {
        return run(cmd, compiled, grammar, startup);
      } catch (err) {
        const timeout = err instanceof DeadlineError || (err instanceof GrammarError && err.code === 'parse_cancelled');
        const f: Finding = timeout
          ? { verdict: 'deny', rule: 'internal.timeout', reason: `validation took longer than ${policy.validation.timeoutMs} ms`, start: 0, end: typeof cmd === 'string' ? cmd.length : 0 }
          : { verdict: 'deny', rule: 'internal.error', reason: `validator failed: ${(err as Error)?.message ?? String(err)}`, start: 0, end: typeof cmd === 'string' ? cmd.length : 0 };
        return { verdict: 'deny', rule: f.rule, reason: f.reason, span: { start: f.start, end: f.end }, findings: [f], commands: [], effects: EMPTY_EFFECTS };
      }
    },
  };
}

const EMPTY_EFFECTS: Effects = Object.freeze({ exec: [], reads: [], writes: [], network: [], opaque: [] });

function newEffects(names: Set<string>): EffectsAcc {
  return { exec: names, reads: new Set(), writes: new Set(), network: new Set(), opaque: [] };
}

function run(cmd: string, p: CompiledPolicy, grammar: BashGrammar, startup: StartupModel | undefined): Verdict {
  if (typeof cmd !== 'string') throw new TypeError('command must be a string');
  const pol = p.policy;
  const findings: Finding[] = checkInput(cmd, pol.validation.maxInputBytes).map((f) => ({ ...f, verdict: p.verdictFor(f.rule, f.verdict) }));
  const names = new Set<string>();
  const effects = newEffects(names);
  if (findings.some((f) => f.rule === 'input.too_large')) return finish(findings, effects);
  if (cmd.trim() === '') {
    findings.push({ verdict: 'deny', rule: 'input.empty', reason: 'empty command', start: 0, end: cmd.length });
    return finish(findings, effects);
  }
  const wallStart = performance.now();
  const ctx: Ctx = { p, grammar, findings, deadline: wallStart + pol.validation.timeoutMs, cpuStart: threadCpuMicros(), budgetMs: pol.validation.timeoutMs, wallStart, names, effects, downloads: new Set(), written: new Map(), top: cmd, ...(startup ? { startup } : {}) };
  analyzeScript(ctx, cmd, 0, null, '', pol.workspace);
  return finish(findings, effects);
}

function finish(findings: Finding[], acc: EffectsAcc): Verdict {
  const commands = [...acc.exec];
  const effects: Effects = { exec: commands, reads: [...acc.reads], writes: [...acc.writes], network: [...acc.network], opaque: acc.opaque };
  let worst: Finding | undefined;
  for (const f of findings) if (!worst || rank(f.verdict) > rank(worst.verdict)) worst = f;
  if ((!worst || worst.verdict === 'allow') && acc.opaque.length > 0) {
    // Opaque is never allow, even when a policy override relaxed the finding that marked it.
    const o = acc.opaque[0]!;
    worst = { verdict: 'ask', rule: o.rule, reason: o.reason, start: o.start, end: o.end };
    findings.push(worst);
  }
  if (!worst || worst.verdict === 'allow') {
    return { verdict: 'allow', rule: 'policy.allow', reason: 'no rule matched', findings: [], commands, effects };
  }
  const sorted = [...findings].filter((f) => f.verdict !== 'allow').sort((a, b) => rank(b.verdict) - rank(a.verdict) || a.start - b.start);
  return { verdict: worst.verdict, rule: worst.rule, reason: worst.reason, span: { start: worst.start, end: worst.end }, findings: sorted, commands, effects };
}
