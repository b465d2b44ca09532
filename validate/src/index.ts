/**
 * @airlock/validate — the bash validation chain: input checks → tree-sitter
 * parse → walk every command that would run → policy rules → verdict.
 *
 * Pure library: the only I/O is loading the tree-sitter wasm grammar (and a
 * policy file when asked), both inside async functions.
 */
export { createValidator } from './validator.ts';
export type { Effects, Span, Validator, ValidatorOptions, Verdict } from './validator.ts';
export type { Finding, OpaqueSpot } from './analyze.ts';
export { validateJsonl } from './jsonl.ts';
export { HOME_STARTUP_FILES, SANDBOX_STARTUP, shellStart, startupSteps } from './startup.ts';
export type { ShellStart, StartupModel, StartupStep } from './startup.ts';
export type { JsonlError, JsonlResult } from './jsonl.ts';
export {
  CodeRuleSchema,
  CommandRuleSchema,
  DEFAULT_POLICY_PATH,
  defaultPolicy,
  EnvRuleSchema,
  FAIL_CLOSED_RULES,
  LimitsSchema,
  loadPolicyFile,
  parsePolicy,
  PathRuleSchema,
  POLICY_VERSION,
  SANDBOX_RUNTIMES,
  PolicyError,
  policyHash,
  PolicySchema,
  VERDICTS,
} from './policy.ts';
export type { CodeRule, CommandRule, EnvRule, PathRule, Policy, SandboxRuntime, VerdictKind } from './policy.ts';
export { RULE_IDS } from './rule-ids.ts';
export { DEFAULT_SENSITIVE_FILES, FilesPolicySchema, fileChecker, resolveWorkspacePath } from './file-policy.ts';
export type { FileAccess, FileChecker, FilesPolicy, FileVerdict, ResolvedPath } from './file-policy.ts';
export type { RuleInfo } from './rule-ids.ts';
// Lower-level pieces, used by the benchmark's parser comparison and useful
// for tools that want the command list without a verdict.
export { bashWasmPath, GrammarError, grammarErrorCodes, loadBashGrammar } from './grammar.ts';
export type { GrammarErrorCode } from './grammar.ts';
export type { BashGrammar, ParseResult, SyntaxNode } from './grammar.ts';
export { walkScript } from './walk.ts';
export type { Assign, Cmd, Redirect, Stdin, Walked } from './walk.ts';
export type { Word } from './words.ts';
export { DEFAULT_EGRESS_ASK_WAIT_MS, EGRESS_PRESETS, EGRESS_UNLISTED, EgressAllowSchema, EgressRuleSchema, HostPatternSchema, NETWORK_MODES, decideEgress, expandAllow, hostMatches, hostPatternProblem, listsHostPort } from './egress-policy.ts';
export type { EgressAllow, EgressAsk, EgressDecision, EgressPreset, EgressRule, EgressUnlisted, NetworkMode } from './egress-policy.ts';
