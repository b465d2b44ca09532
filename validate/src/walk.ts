import type { SyntaxNode } from './grammar.ts';
import { evalWord, WordFlag, type Word } from './words.ts';

/** A redirection attached to a command. */
export interface Redirect {
  readonly kind: 'file' | 'heredoc' | 'herestring';
  /** Operator text: `>`, `>>`, `<`, `&>`, `<>`, `>&`, `<<`, `<<<` … */
  readonly op: string;
  /** File descriptor written before the operator (`2>`), or null. */
  readonly fd: string | null;
  /** Target word for file redirects and here-strings. */
  readonly target: Word | null;
  /** Body text of a heredoc (raw) or the value of a here-string. */
  readonly text: string | null;
  /** True when the heredoc body is subject to expansion (unquoted delimiter). */
  readonly expands: boolean;
  readonly start: number;
  readonly end: number;
}

/** `NAME=value` before a command, bare, or inside `export`/`declare`. */
export interface Assign {
  readonly name: string;
  readonly value: Word | null;
  readonly start: number;
  readonly end: number;
}

/** Where a command's standard input comes from. */
export type Stdin =
  | { readonly kind: 'pipe'; readonly from: readonly Cmd[] }
  | { readonly kind: 'text'; readonly text: string; readonly start: number; readonly end: number }
  | { readonly kind: 'dynamic'; readonly word: Word }
  | { readonly kind: 'file'; readonly target: Word | null };

/** One command the shell would run (or one bare statement with effects). */
export interface Cmd {
  readonly kind: 'command' | 'assignment' | 'declaration' | 'unset' | 'redirect';
  /** Command word (for declarations: `export`, `declare`, …). Null for bare assignments and redirect-only statements. */
  readonly name: Word | null;
  readonly args: Word[];
  readonly assigns: Assign[];
  readonly redirects: Redirect[];
  readonly start: number;
  readonly end: number;
  stdin: Stdin | null;
  /** The command's stdout feeds a pipe. */
  pipesOut: boolean;
  /** Working directory when it runs, if statically known. */
  readonly cwd: string | null;
  /** Other directories it may run in (null: unknown), e.g. after a `cd` that may have failed. */
  readonly cwdAlt: readonly (string | null)[];
  /** Symbolic links created earlier in the script (link → target). */
  readonly links: ReadonlyMap<string, string>;
  /** Known values of variables at this point (for paths built from them). */
  readonly env: ReadonlyMap<string, readonly string[]>;
  /** Runs inside `$(…)`, backticks or `<(…)`. */
  readonly inSubstitution: boolean;
  /** Defined inside a function body (runs when the function is called). */
  readonly inFunction: string | null;
  /**
   * Two words of the command touch with no blank between them, which means
   * tree-sitter split what bash reads as one word (for example
   * `` r`true`m ``): a parser differential.
   */
  glued: boolean;
}

/** A shell function definition. */
export interface FunctionDef {
  readonly name: string;
  readonly start: number;
  readonly end: number;
  /** Commands in the body. */
  readonly body: readonly Cmd[];
  readonly backgroundsOrPipes: boolean;
}

/** A loop with no visible way out (`while true`, `for ((;;))`). */
export interface EndlessLoop {
  readonly start: number;
  readonly end: number;
}

/** A backtick substitution, which bash re-reads after removing some backslashes. */
export interface Backtick {
  readonly start: number;
  readonly end: number;
  /** Inside double quotes (where `\"` is unescaped too). */
  readonly inDouble: boolean;
}

/** `for NAME in WORDS`: the values NAME takes (empty for `for NAME; do`, which loops over "$@"). */
export interface Loop {
  readonly name: string;
  readonly values: readonly Word[];
  /** `for NAME; do` (no `in`): the values are the positional parameters. */
  readonly positional: boolean;
  readonly start: number;
  readonly end: number;
}

/** Everything the walk found in one script. */
export interface Walked {
  readonly cmds: Cmd[];
  readonly functions: FunctionDef[];
  readonly endlessLoops: EndlessLoop[];
  /** Variables assigned anywhere in the script (by assignments). */
  readonly assigned: Set<string>;
  /** Variables set from run-time text without an assignment (`read`, `printf -v`, `mapfile`, `getopts`). */
  readonly readVars: Set<string>;
  readonly backticks: Backtick[];
  readonly loops: Loop[];
  /** Operands of `[[ … ]]` and `[ … ]` test expressions (not commands, but bash reads some as names or numbers). */
  readonly testWords: Word[];
  /**
   * Operands bash evaluates as arithmetic whose text is only known at run
   * time: a variable assigned here from input or command output, or a
   * substitution. bash evaluates array subscripts inside such text, so a
   * value like `a[$(id)]` runs a command.
   */
  readonly arithUnknown: ArithRef[];
}

/** See {@link Walked.arithUnknown}. */
export interface ArithRef {
  /** Variable name, or the substitution's text. */
  readonly what: string;
  readonly start: number;
  readonly end: number;
}

interface State {
  readonly src: string;
  /** Variables the script set so far, by assignment or from input, for {@link evalWord}. */
  readonly assigned: { has(name: string): boolean };
  readonly out: Walked;
  /** Working directory if the commands so far succeeded (null: unknown). */
  cwd: string | null;
  /** Other directories the shell may be in (a `cd` that may have failed, a branch not taken). */
  alt: readonly (string | null)[];
  /** `pushd` stack (replaced, never changed in place, so saved states can share it). */
  dirs: readonly (string | null)[];
  /** Directory before the last `cd` (`cd -`). */
  oldpwd: string | null;
  /** Symbolic links created so far: link path → target (both resolved). */
  links: ReadonlyMap<string, string>;
  /** Variables with a statically known value, as assigned so far in text order. */
  env: ReadonlyMap<string, readonly string[]>;
  sub: boolean;
  fn: string | null;
  dq: boolean;
  /** Variables declared integer (`declare -i`): their assigned values are arithmetic. */
  readonly ints: Set<string>;
}

const WORDISH = new Set([
  'word', 'string', 'raw_string', 'ansi_c_string', 'translated_string', 'concatenation', 'number',
  'simple_expansion', 'expansion', 'command_substitution', 'process_substitution', 'arithmetic_expansion',
  'brace_expression',
]);

/**
 * Walks a parsed script into the flat list of commands it would run, at any
 * nesting depth (substitutions, subshells, pipelines, lists, loops, function
 * bodies, heredoc bodies). `cwd` is the working directory at the start.
 */
export function walkScript(root: SyntaxNode, src: string, cwd: string | null): Walked {
  const out: Walked = { cmds: [], functions: [], endlessLoops: [], assigned: new Set(), readVars: new Set(), backticks: [], loops: [], testWords: [], arithUnknown: [] };
  const assigned = { has: (n: string) => out.assigned.has(n) || out.readVars.has(n) };
  walk(root, { src, assigned, out, cwd, alt: [], dirs: [], oldpwd: null, links: NO_LINKS, env: NO_ENV, sub: false, fn: null, dq: false, ints: new Set() }, null);
  return out;
}

const NO_LINKS: ReadonlyMap<string, string> = new Map();
const NO_ENV: ReadonlyMap<string, readonly string[]> = new Map();

type Dir = Pick<State, 'cwd' | 'alt' | 'dirs' | 'oldpwd' | 'env' | 'links'>;

function saveDir(st: State): Dir {
  return { cwd: st.cwd, alt: st.alt, dirs: st.dirs, oldpwd: st.oldpwd, env: st.env, links: st.links };
}

/** Restores the directory state (a subshell's `cd` and assignments do not outlive it). */
function restoreDir(st: State, d: Dir): void {
  st.cwd = d.cwd;
  st.alt = d.alt;
  st.dirs = d.dirs;
  st.oldpwd = d.oldpwd;
  st.env = d.env;
  st.links = d.links;
}

/** After code that may or may not have run (a branch, a loop body, the right side of `&&`): either state is possible. */
function mergeDir(st: State, before: Dir): void {
  st.alt = unionDirs(st.alt, st.cwd === before.cwd ? before.alt : [before.cwd, ...before.alt]);
  for (const [k, v] of before.env) {
    const now = st.env.get(k);
    if (now !== v) st.env = withEnv(st.env, k, now ? [...new Set([...now, ...v])] : null);
  }
  if (st.links !== before.links) for (const [k, v] of before.links) if (!st.links.has(k)) st.links = withLink(st.links, k, v);
}

function unionDirs(a: readonly (string | null)[], b: readonly (string | null)[]): readonly (string | null)[] {
  if (b.length === 0) return a;
  const out = [...a];
  for (const d of b) if (!out.includes(d)) out.push(d);
  // Too many possibilities: one unknown stands for all of them.
  return out.length > 6 ? [null] : out;
}

function withEnv(env: ReadonlyMap<string, readonly string[]>, name: string, values: readonly string[] | null): ReadonlyMap<string, readonly string[]> {
  const m = new Map(env);
  if (values === null || values.length > 16) m.delete(name);
  else m.set(name, values);
  return m;
}

function withLink(links: ReadonlyMap<string, string>, at: string, target: string): ReadonlyMap<string, string> {
  const m = new Map(links);
  m.set(at, target);
  return m;
}

function testOperands(node: SyntaxNode, st: State): void {
  for (const c of node.children) {
    if (WORDISH.has(c.type) || c.type === 'variable_name') st.out.testWords.push(evalWord(c, st.src, st));
    else if (c.named && c.type !== 'command_substitution' && c.type !== 'process_substitution') testOperands(c, st);
  }
}

/** Words after `for NAME in`; the body runs once per value. */
function forLoop(node: SyntaxNode, st: State): void {
  let name = '';
  let sawIn = false;
  const values: Word[] = [];
  let body: SyntaxNode | null = null;
  for (const c of node.children) {
    if (!c.named) {
      if (st.src.slice(c.start, c.end) === 'in') sawIn = true;
      continue;
    }
    if (c.type === 'variable_name' && !name) name = st.src.slice(c.start, c.end);
    else if (c.type === 'do_group' || c.type === 'compound_statement') body = c;
    else if (WORDISH.has(c.type)) {
      values.push(evalWord(c, st.src, st));
      walkWords(c, st);
    } else walk(c, st, null);
  }
  st.out.loops.push({ name, values, positional: !sawIn, start: node.start, end: node.end });
  st.out.readVars.add(name);
  // Literal words and globs are known (a glob stands for the names it matches); numbers from a numeric producer too.
  const known = values.every((v) => !v.free || numericWord(v)) && sawIn;
  const before = saveDir(st);
  st.env = withEnv(st.env, name, known ? values.map((v) => (numericWord(v) ? '0' : v.pattern)) : null);
  if (body) walk(body, st, null);
  mergeDir(st, before);
}

/** Shell variables that always hold numbers. */
const NUMERIC_VARS = new Set(['RANDOM', 'SRANDOM', 'SECONDS', 'LINENO', 'BASHPID', 'PPID', 'UID', 'EUID', 'OPTIND', 'EPOCHSECONDS', 'SHLVL', 'COLUMNS', 'LINES', 'HISTCMD', 'COMP_CWORD', 'COMP_POINT']);

/** Commands whose output is a number by construction (counts, sizes, sequences, clocks, ids). */
const NUMERIC_TOOL = /^(seq|nproc|wc\s+-[lcmw]+|date\s+\+%[sNYmdHMS]+|id\s+-[ug]|getconf\s+\w+|stat\s+(-c|--format=?)\s*'?%[sYXZ]'?|expr|tput\s+(cols|lines)|echo\s+\$\(\()(\s|$)/;
/** Last stage of a pipeline that leaves only numbers: a count, or the line-number field of `grep -n`. */
const NUMERIC_TAIL = /^(wc\s+-[lcmw]+|cut\s+-d\s*['"]?:['"]?\s+-f\s*1|cut\s+-f\s*1\s+-d\s*['"]?:['"]?)$/;
const LINE_FILTER = /^(head|tail)(\s+-n)?\s+-?\d+$/;

/**
 * Whether `$(…)` prints a number by construction, so its value in
 * arithmetic cannot carry code: a numeric tool, `… | wc -l`, or
 * `grep -n … | cut -d: -f1` (line numbers).
 */
export function numericSubstitution(raw: string): boolean {
  const m = /^"?\$\(([^`]*)\)"?$/s.exec(raw);
  if (!m || m[1]!.includes('$(') || m[1]!.includes('\n')) return false;
  const stages = m[1]!.split('|').map((x) => x.trim());
  if (stages.length === 1) return NUMERIC_TOOL.test(stages[0]!);
  const last = stages[stages.length - 1]!;
  if (/^wc\s+-[lcmw]+$/.test(last)) return true;
  if (!NUMERIC_TAIL.test(last)) return false;
  return /^(grep|rg)\s+(-\w*n\w*|--line-number)\b/.test(stages[0]!) && stages.slice(1, -1).every((x) => LINE_FILTER.test(x));
}

/** Whether a word's run-time value is a number (a numeric producer's output). */
function numericWord(w: Word): boolean {
  return w.value === null && numericSubstitution(w.raw);
}

/** Records the operands of an arithmetic expression whose text is unknown. */
function arithOperands(node: SyntaxNode, st: State): void {
  for (const c of node.children) {
    switch (c.type) {
      case 'variable_name':
        arithVar(st.src.slice(c.start, c.end), c, st);
        continue;
      case 'simple_expansion':
      case 'expansion': {
        const v = c.children.find((k) => k.type === 'variable_name' || k.type === 'subscript');
        if (v) arithVar(st.src.slice(v.start, v.end).replace(/\[.*$/, ''), c, st);
        arithOperands(c, st);
        continue;
      }
      case 'command_substitution':
        if (!numericSubstitution(st.src.slice(c.start, c.end))) st.out.arithUnknown.push({ what: st.src.slice(c.start, c.end), start: c.start, end: c.end });
        continue;
      case 'string':
      case 'word':
        // `let "x=y"`, a subscript word: identifiers in text.
        for (const m of st.src.slice(c.start, c.end).matchAll(/(?<![\w$])[A-Za-z_]\w*/g)) arithVar(m[0], c, st);
        continue;
      default:
        if (c.named) arithOperands(c, st);
    }
  }
}

function arithVar(name: string, at: SyntaxNode, st: State, depth = 0): void {
  if (NUMERIC_VARS.has(name) || depth > 4) return;
  const known = st.env.get(name);
  if (known) {
    // A value naming another variable is evaluated in turn.
    for (const v of known) if (/^[A-Za-z_]\w*$/.test(v)) arithVar(v, at, st, depth + 1);
    return;
  }
  // Never assigned here: the sandbox's own environment, not input.
  if (!st.assigned.has(name)) return;
  st.out.arithUnknown.push({ what: name, start: at.start, end: at.end });
}

/** `[[ a -eq b ]]` and friends evaluate both operands as arithmetic. */
function arithTest(node: SyntaxNode, st: State): void {
  for (const c of node.children) {
    if (c.type !== 'binary_expression') continue;
    const op = c.children.find((k) => k.type === 'test_operator');
    if (op && /^-(eq|ne|lt|le|gt|ge)$/.test(st.src.slice(op.start, op.end))) arithOperands(c, st);
    else arithTest(c, st);
  }
}

function walk(node: SyntaxNode, st: State, stdin: Stdin | null): void {
  switch (node.type) {
    case 'subshell': {
      const d = saveDir(st);
      for (const c of node.children) walk(c, st, stdin);
      restoreDir(st, d);
      return;
    }
    case 'list':
      list(node, st, stdin);
      return;
    case 'for_statement':
      forLoop(node, st);
      return;
    case 'test_command':
      testOperands(node, st);
      // `[[ a -eq b ]]` evaluates operands as arithmetic; the `[`/`test` builtin only accepts integers.
      if (st.src.startsWith('[[', node.start)) arithTest(node, st);
      for (const c of node.children) walk(c, st, null);
      return;
    case 'compound_statement':
      if (st.src.startsWith('((', node.start)) arithOperands(node, st);
      for (const c of node.children) walk(c, st, stdin);
      return;
    case 'if_statement':
    case 'case_statement': {
      const before = saveDir(st);
      for (const c of node.children) walk(c, st, null);
      mergeDir(st, before);
      return;
    }
    case 'command':
      command(node, st, stdin, []);
      return;
    case 'redirected_statement':
      redirected(node, st, stdin);
      return;
    case 'pipeline':
      pipeline(node.children, st, stdin);
      return;
    case 'variable_assignment':
    case 'variable_assignments': {
      const assigns: Assign[] = [];
      collectAssigns(node, st, assigns);
      push(st, { kind: 'assignment', name: null, args: [], assigns, redirects: [], start: node.start, end: node.end }, stdin);
      return;
    }
    case 'declaration_command':
    case 'unset_command':
      declaration(node, st, stdin);
      return;
    case 'function_definition': {
      const d = saveDir(st);
      functionDef(node, st);
      restoreDir(st, d);
      return;
    }
    case 'command_substitution':
    case 'process_substitution': {
      const saved = st.sub;
      const savedDq = st.dq;
      if (st.src.charCodeAt(node.start) === 96) st.out.backticks.push({ start: node.start, end: node.end, inDouble: st.dq });
      const d = saveDir(st);
      st.sub = true;
      st.dq = false;
      for (const c of node.children) walk(c, st, null);
      st.sub = saved;
      st.dq = savedDq;
      restoreDir(st, d);
      return;
    }
    case 'while_statement':
    case 'c_style_for_statement': {
      if (node.type === 'c_style_for_statement') arithOperands({ ...node, children: node.children.filter((c) => c.type !== 'do_group' && c.type !== 'compound_statement') }, st);
      loop(node, st);
      const before = saveDir(st);
      for (const c of node.children) walk(c, st, null);
      mergeDir(st, before);
      return;
    }
    case 'heredoc_body':
      // Unquoted heredoc bodies expand `$(…)` in the shell that reads them.
      for (const c of node.children) walk(c, st, null);
      return;
    case 'file_redirect':
    case 'heredoc_redirect':
    case 'herestring_redirect': {
      // Only reached for redirects outside a redirected_statement (rare);
      // record them on a redirect-only statement so path rules still see them.
      const redirects: Redirect[] = [];
      const extra: Word[] = [];
      redirect(node, st, redirects, extra);
      push(st, { kind: 'redirect', name: null, args: extra, assigns: [], redirects, start: node.start, end: node.end }, stdin);
      return;
    }
    default:
      for (const c of node.children) walk(c, st, stdin);
  }
}

function push(st: State, base: Omit<Cmd, 'stdin' | 'pipesOut' | 'cwd' | 'cwdAlt' | 'links' | 'env' | 'inSubstitution' | 'inFunction' | 'glued'>, stdin: Stdin | null): Cmd {
  const cmd: Cmd = { ...base, stdin, pipesOut: false, cwd: st.cwd, cwdAlt: st.alt, links: st.links, env: st.env, inSubstitution: st.sub, inFunction: st.fn, glued: false };
  st.out.cmds.push(cmd);
  return cmd;
}

function command(node: SyntaxNode, st: State, stdin: Stdin | null, redirects: Redirect[]): Cmd {
  const assigns: Assign[] = [];
  const args: Word[] = [];
  let name: Word | null = null;
  let prevEnd = -1;
  let glued = false;
  for (const c of node.children) {
    if (c.type === 'command_name' || WORDISH.has(c.type)) {
      if (c.start === prevEnd) glued = true;
      prevEnd = c.end;
    }
    if (c.type === 'variable_assignment') {
      collectAssigns(c, st, assigns);
    } else if (c.type === 'command_name') {
      const w = c.children[0];
      if (w) {
        name = evalWord(w, st.src, st);
        walkWords(w, st);
      }
    } else if (c.type === 'file_redirect' || c.type === 'heredoc_redirect' || c.type === 'herestring_redirect') {
      redirect(c, st, redirects, args);
    } else if (WORDISH.has(c.type)) {
      args.push(evalWord(c, st.src, st));
      walkWords(c, st);
    } else if (c.named) {
      walk(c, st, null);
    }
  }
  const own = stdinFromRedirects(redirects) ?? stdin;
  const cmd = push(st, { kind: name ? 'command' : 'assignment', name, args, assigns, redirects, start: node.start, end: node.end }, own);
  cmd.glued = glued;
  if (name?.value === 'let') for (const c of node.children) if (WORDISH.has(c.type) && c.type !== 'command_name') arithOperands({ ...c, children: [c] }, st);
  if (name?.value) afterCommand(st, name.value, args, assigns.length > 0);
  return cmd;
}

/** State changes a command makes for the commands after it: directory, links, variables. */
function afterCommand(st: State, name: string, args: readonly Word[], prefixed: boolean): void {
  switch (name) {
    case 'cd':
      if (!prefixed) trackCd(st, args);
      return;
    case 'pushd': {
      const old = st.cwd;
      if (args.some((a) => a.value === null || /^[-+]\d/.test(a.value))) {
        st.cwd = null;
        return;
      }
      if (positionalArgs(args).length === 0) return;
      trackCd(st, args);
      st.dirs = [...st.dirs, old];
      return;
    }
    case 'popd':
      if (st.dirs.length === 0) st.cwd = null;
      else {
        st.cwd = st.dirs[st.dirs.length - 1]!;
        st.dirs = st.dirs.slice(0, -1);
      }
      return;
    case 'ln':
    case 'mv':
    case 'cp':
    case 'install':
      trackLink(st, name, args);
      return;
    case 'read':
    case 'mapfile':
    case 'readarray':
    case 'getopts':
      for (const a of positionalArgs(args)) if (a.value && /^[A-Za-z_]\w*$/.test(a.value)) forget(st, a.value);
      return;
    case 'printf': {
      const i = args.findIndex((a) => a.value === '-v');
      const v = i >= 0 ? args[i + 1]?.value : null;
      if (v) forget(st, v.replace(/\[.*$/, ''));
      return;
    }
    default:
  }
}

function forget(st: State, name: string): void {
  st.out.readVars.add(name);
  if (st.env.has(name)) st.env = withEnv(st.env, name, null);
}

/** Arguments that are not options: words not starting with `-` (a lone `-` is one), and everything after `--`. */
export function positionalArgs(args: readonly Word[]): Word[] {
  const out: Word[] = [];
  let dd = false;
  for (const a of args) {
    if (!dd && a.value === '--') {
      dd = true;
      continue;
    }
    if (!dd && a.value !== null && a.value.startsWith('-') && a.value !== '-') continue;
    out.push(a);
  }
  return out;
}

/**
 * `ln [-s] TARGET LINK` / `mv SRC DEST` / `cp SRC DEST`: afterwards LINK (DEST) names what
 * TARGET (SRC) named, or holds the same content, so a path under it is resolved to the target
 * (`ln -s ~/.ssh k; cat k/id_rsa` reads `~/.ssh/id_rsa`; `cp /bin/bash ./x; ./x -c …` runs bash).
 */
function trackLink(st: State, name: string, args: readonly Word[]): void {
  const pos = positionalArgs(args);
  const tOpt = args.findIndex((a) => a.value === '-t' || a.value === '--target-directory');
  const tAttached = args.find((a) => a.value?.startsWith('--target-directory=') || /^-[a-zA-Z]*t./.test(a.value ?? ''));
  let dir: Word | null = null;
  let sources: Word[];
  if (tOpt >= 0 && args[tOpt + 1]) {
    dir = args[tOpt + 1]!;
    sources = pos.filter((a) => a !== dir);
  } else if (tAttached) {
    sources = pos;
  } else if (pos.length >= 2) {
    sources = pos.slice(0, -1);
  } else if (pos.length === 1 && name === 'ln') {
    // `ln -s TARGET`: the link is created in the current directory under the target's name.
    sources = pos;
  } else return;
  const symbolic = name === 'ln' && args.some((a) => /^-[a-zA-Z]*s/.test(a.value ?? '') || a.value === '--symbolic');
  const destWord = dir ?? (pos.length >= 2 && !tAttached ? pos[pos.length - 1]! : null);
  const dest = destWord ? (destWord.value ?? null) : '.';
  for (const src of sources) {
    const sv = src.value ?? (src.pattern.startsWith('~') && !src.pattern.includes('\u0001') ? src.pattern : null);
    if (sv === null || dest === null) continue;
    const destAbs = resolvePath(st.cwd, dest);
    if (destAbs === null) continue;
    const intoDir = dir !== null || sources.length > 1 || dest.endsWith('/') || dest === '.' || dest === '..';
    const base = sv.replace(/\/+$/, '').split('/').pop() ?? '';
    const at = intoDir ? resolvePath(destAbs, base) : destAbs;
    // A relative symlink target is relative to the link's directory.
    const linkDir = at ? at.slice(0, at.lastIndexOf('/')) || '/' : null;
    const target = symbolic && !sv.startsWith('/') && !sv.startsWith('~') ? resolvePath(linkDir, sv) : resolvePath(st.cwd, sv);
    if (at && target) st.links = withLink(st.links, at, target);
  }
}

function stdinFromRedirects(redirects: readonly Redirect[]): Stdin | null {
  let s: Stdin | null = null;
  for (const r of redirects) {
    if (r.fd !== null && r.fd !== '0') continue;
    if (r.kind === 'herestring' && r.target && r.target.value === null) s = { kind: 'dynamic', word: r.target };
    else if (r.kind === 'heredoc' || r.kind === 'herestring') s = { kind: 'text', text: r.text ?? '', start: r.start, end: r.end };
    else if (r.op === '<' || r.op === '<>') s = { kind: 'file', target: r.target };
  }
  return s;
}

function redirected(node: SyntaxNode, st: State, stdin: Stdin | null): void {
  const redirects: Redirect[] = [];
  const extraArgs: Word[] = [];
  const trailing: SyntaxNode[] = [];
  let body: SyntaxNode | null = null;
  for (const c of node.children) {
    if (c.type === 'file_redirect' || c.type === 'heredoc_redirect' || c.type === 'herestring_redirect') {
      redirect(c, st, redirects, extraArgs, trailing);
    } else if (body === null && c.named) {
      body = c;
    } else if (c.named) {
      walk(c, st, null);
    }
  }
  let produced: Cmd[];
  const before = st.out.cmds.length;
  if (body?.type === 'command') {
    const cmd = command(body, st, stdin, redirects);
    cmd.args.push(...extraArgs);
    produced = [cmd];
  } else {
    const own = stdinFromRedirects(redirects) ?? stdin;
    if (body) walk(body, st, own);
    produced = st.out.cmds.slice(before);
    // A compound body (`{ …; } > f`, `while …; done < f`): keep the redirects
    // on their own statement so path rules see them.
    push(st, { kind: 'redirect', name: null, args: extraArgs, assigns: [], redirects, start: node.start, end: node.end }, null);
  }
  // tree-sitter hangs `| next` and `&& next` written after a heredoc start
  // inside the heredoc node; they run after (or fed by) the redirected command.
  for (const t of trailing) {
    if (t.type === 'pipeline') {
      for (const p of produced) p.pipesOut = true;
      pipeline(t.children, st, { kind: 'pipe', from: produced });
    } else {
      walk(t, st, null);
    }
  }
}

const EXITS = /^(exit|return|false|exec)\b/;

/**
 * `a && b`, `a || b`: `b` runs in the state `a` left when `a` succeeded
 * (`&&`) or failed (`||`; a failed `cd` leaves the directory as it was).
 * After the list either outcome is possible, unless `b` leaves the shell
 * (`cd x || exit`).
 */
function list(node: SyntaxNode, st: State, stdin: Stdin | null): void {
  const kids = node.children;
  const left = kids.find((c) => c.named);
  const opNode = kids.find((c) => !c.named && (st.src.slice(c.start, c.end) === '&&' || st.src.slice(c.start, c.end) === '||'));
  const right = left ? kids.slice(kids.indexOf(left) + 1).find((c) => c.named) : undefined;
  if (!left || !opNode || !right) {
    for (const c of kids) walk(c, st, stdin);
    return;
  }
  const op = st.src.slice(opNode.start, opNode.end);
  const before = saveDir(st);
  walk(left, st, stdin);
  const afterLeft = saveDir(st);
  if (op === '&&') {
    // The left side succeeded: a `cd` in it did not fail.
    if (st.cwd !== before.cwd) st.alt = before.alt;
    walk(right, st, null);
    mergeDir(st, before);
    return;
  }
  restoreDir(st, { ...before, env: afterLeft.env, links: afterLeft.links });
  walk(right, st, null);
  if (EXITS.test(st.src.slice(right.start, right.end).trim())) {
    restoreDir(st, { ...afterLeft, alt: afterLeft.cwd !== before.cwd ? before.alt : afterLeft.alt });
    return;
  }
  const rightState = saveDir(st);
  restoreDir(st, afterLeft);
  mergeDir(st, rightState);
}

function pipeline(children: readonly SyntaxNode[], st: State, stdin: Stdin | null): void {
  let feed: Stdin | null = stdin;
  const stages = children.filter((c) => c.named);
  for (let i = 0; i < stages.length; i++) {
    const stage = stages[i]!;
    const before = st.out.cmds.length;
    // Every stage of a pipeline runs in a subshell.
    const d = saveDir(st);
    walk(stage, st, feed);
    restoreDir(st, d);
    const produced = st.out.cmds.slice(before).filter((c) => !c.inSubstitution || st.sub);
    if (i < stages.length - 1) for (const p of produced) p.pipesOut = true;
    feed = { kind: 'pipe', from: produced };
  }
}

function redirect(node: SyntaxNode, st: State, out: Redirect[], extraArgs: Word[], trailing?: SyntaxNode[]): void {
  const src = st.src;
  let op = '';
  let fd: string | null = null;
  let target: Word | null = null;
  if (node.type === 'heredoc_redirect') {
    let quoted = false;
    let text: string | null = null;
    for (const c of node.children) {
      if (!c.named) {
        if (!op) op = src.slice(c.start, c.end);
        continue;
      }
      if (c.type === 'heredoc_start') quoted = /['"\\]/.test(src.slice(c.start, c.end));
      else if (c.type === 'heredoc_body') {
        text = src.slice(c.start, c.end);
        walk(c, st, null);
      } else if (c.type === 'heredoc_end' || c.type === 'heredoc_content') continue;
      else if (c.type === 'file_redirect' || c.type === 'herestring_redirect') redirect(c, st, out, extraArgs);
      else if (trailing) trailing.push(c);
      else walk(c, st, null);
    }
    out.push({ kind: 'heredoc', op: op || '<<', fd: null, target: null, text: text ?? '', expands: !quoted, start: node.start, end: node.end });
    return;
  }
  for (const c of node.children) {
    if (!c.named) {
      if (!op) op = src.slice(c.start, c.end);
      continue;
    }
    if (c.type === 'file_descriptor') {
      fd = src.slice(c.start, c.end);
      continue;
    }
    if (!WORDISH.has(c.type)) {
      walk(c, st, null);
      continue;
    }
    const w = evalWord(c, src, st);
    walkWords(c, st);
    // bash treats words after the redirect target as ordinary arguments.
    if (target === null) target = w;
    else extraArgs.push(w);
  }
  if (node.type === 'herestring_redirect') {
    out.push({ kind: 'herestring', op: '<<<', fd, target, text: target?.value ?? target?.raw ?? '', expands: true, start: node.start, end: node.end });
  } else {
    out.push({ kind: 'file', op, fd, target, text: null, expands: false, start: node.start, end: node.end });
  }
}

function collectAssigns(node: SyntaxNode, st: State, out: Assign[]): void {
  if (node.type === 'variable_assignments') {
    for (const c of node.children) if (c.type === 'variable_assignment') collectAssigns(c, st, out);
    return;
  }
  let name = '';
  let value: Word | null = null;
  for (const c of node.children) {
    if (c.type === 'variable_name' || c.type === 'subscript') {
      if (!name) name = st.src.slice(c.start, c.end).replace(/\[.*$/, '');
      // `a[$(cmd)]=1`: the subscript is evaluated, substitutions included; for an indexed array as arithmetic.
      if (c.type === 'subscript') {
        walkWords(c, st);
        arithOperands({ ...c, children: c.children.slice(1) }, st);
      }
    } else if (c.named) {
      value = evalWord(c, st.src, st);
      walkWords(c, st);
      if (name && st.ints.has(name)) arithOperands({ ...node, children: [c] }, st);
    }
  }
  st.out.assigned.add(name);
  const plain = !st.src.slice(node.start, node.end).startsWith(name + '[');
  // Unknown parts that are not free (the fixed environment, confined substitutions) stay in the pattern as unknown.
  const known = value === null ? [''] : numericWord(value) ? ['0'] : !value.free ? [value.pattern] : null;
  st.env = withEnv(st.env, name, plain ? known : null);
  out.push({ name, value, start: node.start, end: node.end });
}

function declaration(node: SyntaxNode, st: State, stdin: Stdin | null): void {
  let integer = false;
  let name: Word | null = null;
  const args: Word[] = [];
  const assigns: Assign[] = [];
  for (const c of node.children) {
    if (!c.named) {
      if (name === null) {
        const t = st.src.slice(c.start, c.end);
        name = { start: c.start, end: c.end, raw: t, value: t, pattern: t, flags: 0, vars: [] };
      }
      continue;
    }
    if (c.type === 'variable_assignment') {
      if (integer) st.ints.add(st.src.slice(c.start, c.end).replace(/[[=+].*$/s, ''));
      collectAssigns(c, st, assigns);
    } else if (WORDISH.has(c.type) || c.type === 'variable_name') {
      const w = evalWord(c, st.src, st);
      args.push(w);
      walkWords(c, st);
      // `declare -i n`: every later assignment to n is evaluated as arithmetic.
      if (w.value !== null && /^-[a-zA-Z]*i/.test(w.value) && node.type !== 'unset_command') integer = true;
      else if (integer && c.type === 'variable_name') st.ints.add(st.src.slice(c.start, c.end));
      else if (integer && w.value !== null && /^[A-Za-z_]\w*$/.test(w.value)) st.ints.add(w.value);
    } else walk(c, st, null);
  }
  push(st, { kind: node.type === 'unset_command' ? 'unset' : 'declaration', name, args, assigns, redirects: [], start: node.start, end: node.end }, stdin);
}

function functionDef(node: SyntaxNode, st: State): void {
  let name = '';
  const savedFn = st.fn;
  const before = st.out.cmds.length;
  let pipes = false;
  for (const c of node.children) {
    if (!name && (c.type === 'word' || c.type === 'variable_name')) {
      name = st.src.slice(c.start, c.end);
      continue;
    }
    if (c.named) {
      st.fn = name;
      if (hasPipeOrBackground(c, st.src)) pipes = true;
      walk(c, st, null);
      st.fn = savedFn;
    }
  }
  st.out.functions.push({ name, start: node.start, end: node.end, body: st.out.cmds.slice(before), backgroundsOrPipes: pipes });
}

function hasPipeOrBackground(node: SyntaxNode, src: string): boolean {
  if (node.type === 'pipeline') return true;
  for (const c of node.children) {
    if (!c.named && src.slice(c.start, c.end) === '&') return true;
    if (hasPipeOrBackground(c, src)) return true;
  }
  return false;
}

function loop(node: SyntaxNode, st: State): void {
  const src = st.src;
  let endless = false;
  if (node.type === 'while_statement') {
    const cond = node.children.find((c) => c.named && c.type !== 'do_group');
    const t = cond ? src.slice(cond.start, cond.end).trim() : '';
    endless = /^(true|:|\[\s*1\s*\]|\(\(\s*1\s*\)\))\s*;?$/.test(t);
  } else {
    // for ((;;)) has no condition between the semicolons.
    endless = /^for\s*\(\(\s*[^;]*;\s*;/.test(src.slice(node.start, node.end));
  }
  if (!endless) return;
  const body = src.slice(node.start, node.end);
  if (/\b(break|exit|return)\b/.test(body)) return;
  st.out.endlessLoops.push({ start: node.start, end: node.end });
}

// Finds commands hidden inside word parts: `$(…)`, backticks, `<(…)`, and
// `$((…))` (whose subscripts can run substitutions too).
function walkWords(node: SyntaxNode, st: State): void {
  switch (node.type) {
    case 'word':
    case 'raw_string':
    case 'ansi_c_string':
    case 'number':
    case 'string_content':
      return;
    case 'command_substitution':
    case 'process_substitution':
      walk(node, st, null);
      return;
    case 'arithmetic_expansion':
      arithOperands(node, st);
      for (const c of node.children) walkWords(c, st);
      return;
    case 'expansion':
      // `${s:x}`, `${a[x]}`: offsets and indexed subscripts are arithmetic.
      if (node.children.some((c) => c.type === 'subscript' || (!c.named && st.src.slice(c.start, c.end) === ':'))) arithOperands({ ...node, children: node.children.filter((c, i) => i > 1 || c.type === 'subscript') }, st);
      for (const c of node.children) walkWords(c, st);
      return;
    case 'string': {
      const saved = st.dq;
      st.dq = true;
      for (const c of node.children) walkWords(c, st);
      st.dq = saved;
      return;
    }
    default:
      for (const c of node.children) walkWords(c, st);
  }
}

/**
 * `cd`: the next commands run in the new directory if it succeeded, in the
 * old one if it failed (kept in `alt`; `cd x && …` and `cd x || exit`
 * narrow that down in {@link list}).
 */
function trackCd(st: State, args: readonly Word[]): void {
  const positional = args.filter((a) => !(a.value ?? '').startsWith('-') || a.value === '-');
  const target = positional[0];
  const old = st.cwd;
  let next: string | null;
  if (!target) next = '~';
  else if (target.value === null) next = target.pattern.startsWith('~') || target.pattern.startsWith('/') ? knownPattern(target.pattern) : null;
  else if (target.value === '-') next = st.oldpwd;
  else next = resolvePath(st.cwd, target.value);
  if (next !== null) next = resolveLink(st.links, next);
  st.alt = unionDirs(st.alt, [old]);
  st.oldpwd = old;
  st.cwd = next;
}

/** A pattern with no unknown part and no glob, as a path. */
function knownPattern(p: string): string | null {
  return p.includes('\u0001') || /[*?[]/.test(p) ? null : resolvePath(null, p.replace(/\\(.)/g, '$1'));
}

/** Replaces a symbolic link created earlier at the start of `p` by its target. */
export function resolveLink(links: ReadonlyMap<string, string>, p: string): string {
  if (links.size === 0) return p;
  for (let k = 0; k < 8; k++) {
    let hit = false;
    for (const [at, target] of links) {
      if (p === at || p.startsWith(at + '/')) {
        // `ln -s / r`: r/etc/shadow is /etc/shadow, not //etc/shadow.
        p = (target.endsWith('/') ? target.slice(0, -1) : target) + p.slice(at.length) || '/';
        hit = true;
        break;
      }
    }
    if (!hit) break;
  }
  return p;
}

/**
 * Joins `p` onto `cwd` and normalises `.`, `..` and repeated slashes.
 * Returns null when the result cannot be known (relative path, unknown cwd).
 */
export function resolvePath(cwd: string | null, p: string): string | null {
  let base: string;
  if (p.startsWith('/')) base = p;
  else if (p === '~' || p.startsWith('~/')) base = p;
  else if (cwd === null) return null;
  else base = cwd + '/' + p;
  const home = base.startsWith('~');
  if (isNormalAbsolute(base, home ? 1 : 0)) return base;
  const parts = (home ? base.slice(1) : base).split('/');
  const out: string[] = [];
  for (const s of parts) {
    if (s === '' || s === '.') continue;
    if (s === '..') {
      if (out.length > 0) out.pop();
      else if (home) return '/'; // above ~: somewhere under /home, treat as root-ish
      continue;
    }
    out.push(s);
  }
  return (home ? '~' : '') + '/' + out.join('/');
}

/**
 * Whether `s` from `from` on is `/seg/seg…` with no empty, `.` or `..`
 * segment and no trailing slash: {@link resolvePath} would return it as is.
 */
function isNormalAbsolute(s: string, from: number): boolean {
  const n = s.length;
  if (n - from < 2 || s.charCodeAt(from) !== 47 || s.charCodeAt(n - 1) === 47) return false;
  let segStart = from + 1;
  for (let i = from + 1; i <= n; i++) {
    if (i < n && s.charCodeAt(i) !== 47) continue;
    const len = i - segStart;
    if (len === 0) return false;
    if (s.charCodeAt(segStart) === 46 && (len === 1 || (len === 2 && s.charCodeAt(segStart + 1) === 46))) return false;
    segStart = i + 1;
  }
  return true;
}
