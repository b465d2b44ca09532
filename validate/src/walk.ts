import type { SyntaxNode } from './grammar.ts';
import { evalWord, type Word } from './words.ts';

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

/** Everything the walk found in one script. */
export interface Walked {
  readonly cmds: Cmd[];
  readonly functions: FunctionDef[];
  readonly endlessLoops: EndlessLoop[];
  /** Variables assigned anywhere in the script. */
  readonly assigned: Set<string>;
}

interface State {
  readonly src: string;
  readonly out: Walked;
  cwd: string | null;
  sub: boolean;
  fn: string | null;
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
  const out: Walked = { cmds: [], functions: [], endlessLoops: [], assigned: new Set() };
  walk(root, { src, out, cwd, sub: false, fn: null }, null);
  return out;
}

function walk(node: SyntaxNode, st: State, stdin: Stdin | null): void {
  switch (node.type) {
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
    case 'function_definition':
      functionDef(node, st);
      return;
    case 'command_substitution':
    case 'process_substitution': {
      const saved = st.sub;
      st.sub = true;
      for (const c of node.children) walk(c, st, null);
      st.sub = saved;
      return;
    }
    case 'while_statement':
    case 'c_style_for_statement':
      loop(node, st);
      for (const c of node.children) walk(c, st, null);
      return;
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

function push(st: State, base: Omit<Cmd, 'stdin' | 'pipesOut' | 'cwd' | 'inSubstitution' | 'inFunction' | 'glued'>, stdin: Stdin | null): Cmd {
  const cmd: Cmd = { ...base, stdin, pipesOut: false, cwd: st.cwd, inSubstitution: st.sub, inFunction: st.fn, glued: false };
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
        name = evalWord(w, st.src);
        walkWords(w, st);
      }
    } else if (c.type === 'file_redirect' || c.type === 'heredoc_redirect' || c.type === 'herestring_redirect') {
      redirect(c, st, redirects, args);
    } else if (WORDISH.has(c.type)) {
      args.push(evalWord(c, st.src));
      walkWords(c, st);
    } else if (c.named) {
      walk(c, st, null);
    }
  }
  const own = stdinFromRedirects(redirects) ?? stdin;
  const cmd = push(st, { kind: name ? 'command' : 'assignment', name, args, assigns, redirects, start: node.start, end: node.end }, own);
  cmd.glued = glued;
  if (name?.value === 'cd') trackCd(st, args);
  return cmd;
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

function pipeline(children: readonly SyntaxNode[], st: State, stdin: Stdin | null): void {
  let feed: Stdin | null = stdin;
  const stages = children.filter((c) => c.named);
  for (let i = 0; i < stages.length; i++) {
    const stage = stages[i]!;
    const before = st.out.cmds.length;
    walk(stage, st, feed);
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
    const w = evalWord(c, src);
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
    } else if (c.named) {
      value = evalWord(c, st.src);
      walkWords(c, st);
    }
  }
  st.out.assigned.add(name);
  out.push({ name, value, start: node.start, end: node.end });
}

function declaration(node: SyntaxNode, st: State, stdin: Stdin | null): void {
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
    if (c.type === 'variable_assignment') collectAssigns(c, st, assigns);
    else if (WORDISH.has(c.type) || c.type === 'variable_name') {
      args.push(evalWord(c, st.src));
      walkWords(c, st);
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
    default:
      for (const c of node.children) walkWords(c, st);
  }
}

function trackCd(st: State, args: readonly Word[]): void {
  const positional = args.filter((a) => !(a.value ?? '').startsWith('-') || a.value === '-');
  const target = positional[0];
  if (!target) {
    st.cwd = '~';
    return;
  }
  if (target.value === null) {
    st.cwd = target.pattern.startsWith('~') && !target.pattern.includes('\u0001') ? target.pattern : null;
    return;
  }
  if (target.value === '-') {
    st.cwd = null;
    return;
  }
  st.cwd = resolvePath(st.cwd, target.value);
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
