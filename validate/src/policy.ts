import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { GovernancePolicySchema, canonicalJson, sha256Hex } from '@airlock/proto';
import { FilesPolicySchema } from './file-policy.ts';
import { EGRESS_UNLISTED, EgressAllowSchema, HostPatternSchema, NETWORK_MODES } from './egress-policy.ts';

/** The three verdicts, least to most strict. */
export const VERDICTS = ['allow', 'ask', 'deny'] as const;
/** A validation verdict. */
export type VerdictKind = (typeof VERDICTS)[number];

/** Current policy file format version. */
export const POLICY_VERSION = 1;

const VerdictSchema = z.enum(VERDICTS);
const RuleId = z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/, 'rule ids are dotted lowercase, e.g. "net.reverse_shell"');
const Regex = z.string().refine((s) => {
  try {
    new RegExp(s, 'u');
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

const RuleBase = { id: RuleId, verdict: VerdictSchema, reason: z.string().min(1) };

/** A rule on a command (after wrappers such as `sudo`, `env`, `bash -c` are unwrapped). */
export const CommandRuleSchema = z.strictObject({
  ...RuleBase,
  /** Command basenames; a path-qualified `/tmp/rm` matches `rm`. */
  commands: z.array(z.string().min(1)).min(1),
  /** First non-option argument must be one of these (e.g. `push` for git). */
  subcommands: z.array(z.string()).optional(),
  /** Any of these options present (`-r` also matches inside `-rf`). */
  flags: z.array(z.string()).optional(),
  /** Any argument matches any of these regexes. */
  argsMatch: z.array(Regex).optional(),
});

/** A rule on paths a command reads or writes, as globs (`~` home, `**` any depth, relative = any workspace dir). */
export const PathRuleSchema = z.strictObject({
  ...RuleBase,
  access: z.enum(['read', 'write']),
  patterns: z.array(z.string().min(1)).min(1),
  except: z.array(z.string().min(1)).optional(),
});

/** A rule on environment assignments (`NAME=v cmd`, `export NAME=v`). */
export const EnvRuleSchema = z.strictObject({
  ...RuleBase,
  /** Variable names; `*` is a wildcard (`LD_*`). */
  names: z.array(z.string().min(1)).min(1),
  /** Only when the value matches this regex (absent: any value). */
  valueMatch: Regex.optional(),
});

/** A rule on inline interpreter code (`python -c`, `node -e`, heredocs fed to interpreters). All regexes must match. */
export const CodeRuleSchema = z.strictObject({
  ...RuleBase,
  all: z.array(Regex).min(1),
});

/** OCI runtimes a policy may ask for; the runner sets it on the sandbox (`HostConfig.Runtime`). */
export const SANDBOX_RUNTIMES = ['runc', 'runsc'] as const;
/** A sandbox runtime. */
export type SandboxRuntime = (typeof SANDBOX_RUNTIMES)[number];

/** Sandbox limits the runner applies to each run's container. */
export const LimitsSchema = z.strictObject({
  memoryBytes: z.number().int().positive(),
  pids: z.number().int().positive(),
  nanoCpus: z.number().int().positive(),
  tmpfsBytes: z.number().int().positive(),
  stepTimeoutMs: z.number().int().positive(),
});

/** The policy file: rules plus sandbox settings. */
export const PolicySchema = z.strictObject({
  version: z.literal(POLICY_VERSION),
  name: z.string().min(1),
  /** Absolute path of the workspace inside the sandbox; relative paths resolve against it. */
  workspace: z.string().startsWith('/').default('/workspace'),
  /**
   * The OCI runtime of the run's sandboxes: `runc` (kernel namespaces) or `runsc` (gVisor, a user-space
   * kernel in front of the host's). A runner whose engine lacks the runtime refuses the run.
   */
  runtime: z.enum(SANDBOX_RUNTIMES).default('runc'),
  limits: LimitsSchema,
  network: z.strictObject({
    /**
     * `none`: the sandbox has no network interface. `proxy`: still none, but the run's egress proxy
     * (runner/src/egress) is reachable from the sandbox's loopback and lets through only `allow`.
     * Any other mode is refused rather than run without the network it names.
     */
    mode: z.string().default('none').pipe(
      z.enum(NETWORK_MODES, { error: (iss) => `${JSON.stringify(iss.input)} is not implemented; only "none" (no network) or "proxy" (egress through the run's audited proxy, see network.allow)` }),
    ),
    /**
     * With mode `proxy`: what the sandbox may reach (presets such as `pypi`, or rules
     * `{hosts, ports?, methods?, paths?}`); everything else is denied. Absent: nothing (and older
     * policies keep their hash).
     */
    allow: z.array(EgressAllowSchema).optional(),
    /**
     * With mode `proxy`: what happens to a connection to a host and port no `allow` rule lists.
     * `deny` (the default, also when absent) refuses it; `ask` holds it while an operator decides
     * (`airlock approve`), at most `askWaitMs`. Absent keeps older policies' hashes.
     */
    unlisted: z.enum(EGRESS_UNLISTED).optional(),
    /** How long an asked connection is held for a decision (ms, default 60 000); never longer than the step's time left. */
    askWaitMs: z.number().int().min(1000).max(3_600_000).optional(),
    /** Commands that open network connections. */
    tools: z.array(z.string()),
    /** Hosts treated as local (no egress). */
    localHosts: z.array(z.string()),
    /** Verdict for a network tool reaching a non-local host with data the chain cannot see (uploads, URLs or headers built at run time). */
    external: VerdictSchema,
    /**
     * Verdict for a plain download: a fetch tool, a literal URL, nothing uploaded, no value built at run
     * time. Whether it can reach the host is the network policy's business; a downloaded file that the
     * same command executes is `exec.remote_code` whatever this says. Absent: same as `external`
     * (so a policy written before this setting keeps its behaviour and its hash).
     */
    fetch: VerdictSchema.optional(),
  }),
  validation: z.strictObject({
    maxInputBytes: z.number().int().positive().default(65_536),
    /** How deep `bash -c "…"` strings are re-parsed before giving up (giving up is `deny`). */
    maxDepth: z.number().int().min(1).max(32).default(6),
    /** Wall-clock budget for the whole chain per command; exceeding it is `deny`. */
    timeoutMs: z.number().int().positive().default(250),
  }),
  /** Verdicts for built-in rule ids (see README). Fail-closed rules cannot be relaxed. */
  overrides: z.record(RuleId, VerdictSchema).default({}),
  commands: z.array(CommandRuleSchema).default([]),
  paths: z.array(PathRuleSchema).default([]),
  env: z.array(EnvRuleSchema).default([]),
  code: z.array(CodeRuleSchema).default([]),
  /** Secrets a step may receive (by name, as `${secret:NAME}` in its env); none unless listed. */
  secrets: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
        /** Only steps whose every command is one of these may receive it; any command when absent. */
        commands: z.array(z.string()).optional(),
        /**
         * Secrets at the edge: the sandbox gets only a placeholder, and the run's egress proxy puts
         * the value into requests to these hosts (headers, URL userinfo) and nowhere else.
         */
        hosts: z.array(HostPatternSchema).min(1).optional(),
      }),
    )
    .default([]),
  /** File tools (read, write, edit, list, stat): which writes are held (see file-policy.ts). */
  files: FilesPolicySchema.optional(),
  /** Snapshot retention: snapshots kept per run by `./airlock gc` (the latest of an open run always). */
  snapshots: z.strictObject({ keepLast: z.number().int().min(1).default(50) }).default({ keepLast: 50 }),
  /**
   * Which recorded steps `./airlock replay` treats as non-idempotent: reported as skipped, not re-run,
   * unless `--include-non-idempotent` is given. A step is non-idempotent when any test below holds.
   */
  replay: z
    .strictObject({
      nonIdempotent: z
        .strictObject({
          /** A step that received a secret (its effect is usually outside the workspace). */
          secrets: z.boolean().default(true),
          /** A step that runs one of `network.tools` (as the validation chain finds the commands, not as words). */
          network: z.boolean().default(true),
          /** A step that runs one of these commands (e.g. a deploy script). */
          commands: z.array(z.string().min(1)).default([]),
        })
        .default({ secrets: true, network: true, commands: [] }),
    })
    .default({ nonIdempotent: { secrets: true, network: true, commands: [] } }),
  /** Budgets and loop detection of runs (the harness's defaults when absent; absent keeps older policies' hashes). */
  governance: GovernancePolicySchema.optional(),
});

/** A validated policy. */
export type Policy = z.infer<typeof PolicySchema>;
/** A command rule. */
export type CommandRule = z.infer<typeof CommandRuleSchema>;
/** A path rule. */
export type PathRule = z.infer<typeof PathRuleSchema>;
/** An environment rule. */
export type EnvRule = z.infer<typeof EnvRuleSchema>;
/** An inline-code rule. */
export type CodeRule = z.infer<typeof CodeRuleSchema>;

/** Built-in rules whose verdict a policy may not weaken (the chain fails closed on them). */
export const FAIL_CLOSED_RULES: readonly string[] = [
  'internal.error', 'internal.timeout', 'parse.error', 'parse.depth_limit',
  'input.too_large', 'input.nul_byte', 'input.control_char', 'input.encoding',
];

/** A policy file that could not be read or did not validate. Says where. */
export class PolicyError extends Error {
  override name = 'PolicyError';
  /** File name given to the parser (or `<inline>`). */
  readonly file: string;
  /** 1-based line of the problem, when known. */
  readonly line: number | undefined;
  /** 1-based column of the problem, when known. */
  readonly column: number | undefined;
  /** Dotted path of the offending field (`commands.3.verdict`), when known. */
  readonly field: string | undefined;
  constructor(message: string, opts: { file: string; line?: number; column?: number; field?: string; cause?: unknown }) {
    const where = `${opts.file}${opts.line ? `:${opts.line}:${opts.column ?? 1}` : ''}`;
    super(`${where}: ${opts.field ? `${opts.field}: ` : ''}${message}`, { cause: opts.cause });
    this.file = opts.file;
    this.line = opts.line;
    this.column = opts.column;
    this.field = opts.field;
  }
}

/**
 * Parses and validates policy text (YAML, which includes JSON). Throws
 * {@link PolicyError} naming the file, line, column and field of the first problem.
 */
export function parsePolicy(text: string, filename = '<inline>'): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const pos = lineCounter.linePos(yamlError.pos[0]);
    throw new PolicyError(yamlError.message.split('\n')[0] ?? 'YAML syntax error', {
      file: filename, line: pos.line, column: pos.col, cause: yamlError,
    });
  }
  const result = PolicySchema.safeParse(doc.toJS());
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const node = nodeAt(doc.contents, issue.path);
    const pos = node?.range ? lineCounter.linePos(node.range[0]) : undefined;
    throw new PolicyError(issue.message, {
      file: filename, line: pos?.line, column: pos?.col, field: issue.path.join('.') || '(root)', cause: result.error,
    });
  }
  const policy = result.data;
  for (const [id, verdict] of Object.entries(policy.overrides)) {
    const failClosed = FAIL_CLOSED_RULES.includes(id) && verdict !== 'deny';
    const opaqueAllowed = id.startsWith('opaque.') && verdict === 'allow';
    if (failClosed || opaqueAllowed) {
      const node = nodeAt(doc.contents, ['overrides', id]);
      const pos = node?.range ? lineCounter.linePos(node.range[0]) : undefined;
      const why = failClosed ? `rule ${id} fails closed and cannot be set to ${verdict}` : `rule ${id} marks what the validator cannot know; it can be ask or deny, never allow`;
      throw new PolicyError(why, {
        file: filename, line: pos?.line, column: pos?.col, field: `overrides.${id}`,
      });
    }
  }
  const egress = egressProblem(policy);
  if (egress) {
    const node = nodeAt(doc.contents, egress.path);
    const pos = node?.range ? lineCounter.linePos(node.range[0]) : undefined;
    throw new PolicyError(egress.message, { file: filename, line: pos?.line, column: pos?.col, field: egress.path.join('.') });
  }
  return policy;
}

/**
 * Settings that only mean something through the egress proxy, written for a policy without it:
 * refused rather than silently doing nothing.
 */
function egressProblem(policy: Policy): { path: (string | number)[]; message: string } | null {
  if (policy.network.askWaitMs !== undefined && policy.network.unlisted !== 'ask') return { path: ['network', 'askWaitMs'], message: 'askWaitMs is how long an asked connection waits: it needs network.unlisted: ask' };
  if (policy.network.mode === 'proxy') return null;
  if (policy.network.allow !== undefined) return { path: ['network', 'allow'], message: 'an allowlist needs network.mode: proxy (with mode "none" the sandbox has no network at all)' };
  if (policy.network.unlisted !== undefined) return { path: ['network', 'unlisted'], message: 'asking for unlisted hosts needs network.mode: proxy (with mode "none" the sandbox has no network at all)' };
  const i = policy.secrets.findIndex((s) => s.hosts !== undefined);
  if (i >= 0) return { path: ['secrets', i, 'hosts'], message: 'a secret given at the edge needs network.mode: proxy (the proxy puts it into requests to these hosts)' };
  return null;
}

function nodeAt(root: unknown, path: readonly PropertyKey[]): YamlNode | undefined {
  let node = root as YamlNode | undefined;
  let last = node;
  for (const key of path) {
    if (isMap(node)) node = node.get(key as string, true) as YamlNode | undefined;
    else if (isSeq(node)) node = node.get(key as number, true) as YamlNode | undefined;
    else break;
    if (node === undefined) break;
    last = node;
  }
  return node ?? last;
}

/** Reads and validates a policy file. Throws {@link PolicyError}. */
export async function loadPolicyFile(file: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new PolicyError(`cannot read policy file: ${(err as Error).message}`, { file, cause: err });
  }
  return parsePolicy(text, file);
}

/** Path of the policy shipped with this package (`validate/policy/default.yaml`). */
export const DEFAULT_POLICY_PATH: string = fileURLToPath(new URL('../policy/default.yaml', import.meta.url));

/** Loads the shipped default policy. */
export function defaultPolicy(): Promise<Policy> {
  return loadPolicyFile(DEFAULT_POLICY_PATH);
}

/**
 * SHA-256 (hex) of the policy's canonical JSON (proto's `canonicalJson`: keys sorted at every
 * level, no whitespace). The same policy hashes the same however the file was formatted (YAML or
 * JSON, key order, comments, defaults spelled out or not).
 */
export function policyHash(policy: Policy): string {
  return sha256Hex(canonicalJson(PolicySchema.parse(policy)));
}
