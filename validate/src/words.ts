import type { SyntaxNode } from './grammar.ts';

/**
 * Bit flags describing how a shell word was spelled. They let rules tell
 * `rm` from `r''m`, `$'\x72m'`, `$x` or `/???/?m` without re-reading text.
 */
export const WordFlag = {
  quoted: 1 << 0,
  unquoted: 1 << 1,
  /** `$x`, `${x}` and friends. */
  expansion: 1 << 2,
  /** `$(…)`, backticks, `<(…)`, `>(…)`. */
  substitution: 1 << 3,
  ansiC: 1 << 4,
  /** Unquoted `*`, `?` or `[`. */
  glob: 1 << 5,
  brace: 1 << 6,
  /** Quoted and unquoted parts glued together, or an empty quoted part (`r''m`). */
  splice: 1 << 7,
  /** `${x:0:1}`, `${x//a/b}` … any operator inside `${}`. */
  paramOp: 1 << 8,
  /** `${!x}`. */
  indirect: 1 << 9,
  /** `${x@P}` and other transformations that re-evaluate text. */
  transform: 1 << 10,
  /** A backslash escape in an unquoted part (`\rm`). */
  escape: 1 << 11,
  arithmetic: 1 << 12,
  /** `$@`, `$*`, `$1`…, `${a[@]}`. */
  positional: 1 << 13,
} as const;

/**
 * Marks text the validator cannot know (an expansion's value). It never
 * occurs in a policy pattern, so it only matches a pattern's wildcards.
 */
export const UNKNOWN = '\u0001';

/** One shell word, evaluated statically as far as possible. */
export interface Word {
  readonly start: number;
  readonly end: number;
  /** Source text of the word. */
  readonly raw: string;
  /** Value after quote removal, or null when any part is only known at run time. */
  readonly value: string | null;
  /**
   * Value as a glob pattern for path rules: unquoted glob characters stay
   * special, quoted ones are escaped, `$HOME` becomes `~` and other unknown
   * parts become {@link UNKNOWN}.
   */
  readonly pattern: string;
  readonly flags: number;
  /** Names of the variables this word expands. */
  readonly vars: readonly string[];
  /**
   * Further values of {@link pattern} when a variable in it has several
   * known values (a `for` loop variable): one pattern per combination.
   */
  readonly alts?: readonly string[];
  /**
   * Some unknown part can be any text the command produces at run time: a
   * command substitution whose output is not confined to the workspace, or a
   * variable this script assigned from input or command output. (Variables
   * the script never assigns come from the sandbox's fixed environment.)
   */
  readonly free?: true;
}

/**
 * Known variable values at a point of the script (name → every value it may
 * have, as patterns: quoted glob characters escaped, a loop over a glob keeps
 * the glob).
 */
export type KnownVars = ReadonlyMap<string, readonly string[]>;

/** What {@link evalWord} knows about the script around the word. */
export interface WordScope {
  readonly env: KnownVars;
  readonly cwd: string | null;
  /** Variables the script set so far (known value or not). */
  readonly assigned: { has(name: string): boolean };
}

/**
 * Substitutions whose output names no file outside the workspace or the
 * temporary directory, or is not a path at all: the current or repository
 * directory, listings under a relative directory, temporary names, program
 * locations, numbers, clocks and names of the machine or user.
 */
const CONFINED_SUBSTITUTION = /^"?\$\(\s*(pwd|git\s+rev-parse\s+--(show-toplevel|show-prefix|git-dir|abbrev-ref|short)\b[^|;&]*|git\s+rev-parse\s+(HEAD|--verify)[^|;&]*|git\s+(branch|describe|log)\s[^|;&]*|mktemp(\s+-d)?(\s+-p\s+\/tmp)?(\s+[\w./-]*X+[\w.-]*)?|dirname\s+("?\$0"?|"?\$\{BASH_SOURCE(\[0\])?\}"?|"?\$BASH_SOURCE"?)|(find|ls|fd|rg\s+--files|git\s+ls-files|git\s+diff\s+--name-only)(\s+(?!\/|~|\.\.)[^|;&<>`$]*)?(\s*\|\s*(head|tail|sort|grep|xargs\s+-n\s*1)\b[^|;&<>`$]*)*|which\s+[\w.-]+|command\s+-v\s+[\w.-]+|date\b[^|;&]*|whoami|hostname|uname(\s+-\w+)?|id(\s+-\w+)?|nproc|python[0-9.]*\s+--version|node\s+(-v|--version))\s*\)"?$/;

/** Whether a command substitution's output is confined (see {@link CONFINED_SUBSTITUTION}). */
export function confinedSubstitution(raw: string): boolean {
  return CONFINED_SUBSTITUTION.test(raw);
}

interface Acc {
  value: string | null;
  pattern: string;
  flags: number;
  vars: string[];
  parts: number;
  /** Alternative patterns (see {@link Word.alts}), null when there is one. */
  alts: string[] | null;
  /** Inside double quotes: glob characters of substituted values are literal. */
  dq: boolean;
  readonly env: KnownVars | null;
  readonly cwd: string | null;
  readonly assigned: { has(name: string): boolean } | null;
  free: boolean;
}

/** At most this many alternative patterns per word; beyond it the part is unknown. */
const MAX_ALTS = 16;

/** Appends `text` to the pattern (and every alternative). */
function addPattern(acc: Acc, text: string): void {
  acc.pattern += text;
  if (acc.alts) for (let i = 0; i < acc.alts.length; i++) acc.alts[i] += text;
}

/**
 * A variable whose value is known at this point (assigned earlier in the
 * same script, a loop over literal words, `$PWD`, `$TMPDIR`): its values go
 * into the pattern so paths built from it are resolved. The word's value
 * stays unknown (null): only path and host checks use the pattern.
 */
function knownVar(acc: Acc, name: string): boolean {
  let values = acc.env?.get(name);
  if (values === undefined) {
    if (name === 'PWD' && acc.cwd !== null) values = [acc.cwd];
    else if (name === 'TMPDIR') values = ['/tmp'];
    else return false;
  }
  if (values.length === 0) return false;
  const quote = (v: string): string => v;
  acc.value = null;
  acc.flags |= WordFlag.expansion;
  if (values.length === 1) {
    addPattern(acc, quote(values[0]!));
    return true;
  }
  const bases = [acc.pattern, ...(acc.alts ?? [])];
  if (bases.length * values.length > MAX_ALTS) return false;
  const all: string[] = [];
  for (const b of bases) for (const v of values) all.push(b + quote(v));
  acc.pattern = all[0]!;
  acc.alts = all.slice(1);
  return true;
}

const HOME_VARS = new Set(['HOME']);

/** Evaluates a word-like node (`word`, `string`, `concatenation`, …) of `src`. */
export function evalWord(node: SyntaxNode, src: string, scope: WordScope | null = null): Word {
  const acc: Acc = { value: '', pattern: '', flags: 0, vars: [], parts: 0, alts: null, dq: false, env: scope?.env ?? null, cwd: scope?.cwd ?? null, assigned: scope?.assigned ?? null, free: false };
  part(node, src, acc, true);
  if (node.type === 'concatenation') {
    const q = acc.flags & WordFlag.quoted;
    const u = acc.flags & WordFlag.unquoted;
    if (q && u) acc.flags |= WordFlag.splice;
  }
  return {
    start: node.start,
    end: node.end,
    raw: src.slice(node.start, node.end),
    value: acc.value,
    pattern: acc.pattern,
    flags: acc.flags,
    vars: acc.vars,
    ...(acc.alts && acc.alts.length > 0 ? { alts: acc.alts } : {}),
    ...(acc.free ? { free: true as const } : {}),
  };
}

function dynamic(acc: Acc, flag: number): void {
  acc.value = null;
  addPattern(acc, UNKNOWN);
  acc.flags |= flag;
}

function lit(acc: Acc, text: string, quoted: boolean): void {
  if (acc.value !== null) acc.value += text;
  addPattern(acc, quoted ? text.replace(/[*?[\]\\]/g, '\\$&') : text);
}

function part(node: SyntaxNode, src: string, acc: Acc, top: boolean): void {
  acc.parts++;
  switch (node.type) {
    case 'word':
    case 'number':
    case 'variable_name':
    case 'test_operator':
    case 'file_descriptor': {
      acc.flags |= WordFlag.unquoted;
      unquoted(src.slice(node.start, node.end), acc);
      return;
    }
    case 'raw_string': {
      acc.flags |= WordFlag.quoted;
      const inner = src.slice(node.start + 1, node.end - 1);
      if (inner === '') acc.flags |= WordFlag.splice;
      lit(acc, inner, true);
      return;
    }
    case 'string':
    case 'translated_string': {
      acc.flags |= WordFlag.quoted;
      let any = false;
      const savedDq = acc.dq;
      acc.dq = true;
      // tree-sitter-bash leaves newlines between a string's children out of every node: the gaps are string text.
      let pos = node.start + 1;
      for (const c of node.children) {
        if (c.start > pos && c.start < node.end) {
          any = true;
          lit(acc, unescapeDouble(src.slice(pos, c.start)), true);
        }
        pos = Math.max(pos, c.end);
        if (!c.named) continue;
        any = true;
        if (c.type === 'string_content') lit(acc, unescapeDouble(src.slice(c.start, c.end)), true);
        else part(c, src, acc, false);
      }
      acc.dq = savedDq;
      if (!any && !top) acc.flags |= WordFlag.splice;
      if (!any && top) lit(acc, '', true);
      return;
    }
    case 'ansi_c_string': {
      acc.flags |= WordFlag.quoted | WordFlag.ansiC;
      lit(acc, decodeAnsiC(src.slice(node.start + 2, node.end - 1)), true);
      return;
    }
    case 'concatenation': {
      for (const c of node.children) part(c, src, acc, false);
      return;
    }
    case 'simple_expansion': {
      const name = node.children.find((c) => c.named);
      const n = name ? src.slice(name.start, name.end) : '';
      acc.vars.push(n);
      if (HOME_VARS.has(n)) {
        acc.value = null;
        addPattern(acc, '~');
        acc.flags |= WordFlag.expansion;
        return;
      }
      if (knownVar(acc, n)) return;
      if (acc.assigned?.has(n)) acc.free = true;
      dynamic(acc, WordFlag.expansion | (/^[@*0-9]$/.test(n) ? WordFlag.positional : 0));
      return;
    }
    case 'expansion': {
      expansion(node, src, acc);
      return;
    }
    case 'command_substitution':
    case 'process_substitution':
      if (node.type === 'command_substitution' && !confinedSubstitution(src.slice(node.start, node.end))) acc.free = true;
      dynamic(acc, WordFlag.substitution);
      return;
    case 'arithmetic_expansion':
      dynamic(acc, WordFlag.arithmetic);
      return;
    case 'brace_expression':
      dynamic(acc, WordFlag.brace);
      return;
    default:
      if (!node.named) {
        // Punctuation inside a concatenation (for example `{`, `}` or `=`).
        const t = src.slice(node.start, node.end);
        acc.flags |= WordFlag.unquoted;
        unquoted(t, acc);
        return;
      }
      dynamic(acc, WordFlag.expansion);
  }
}

function expansion(node: SyntaxNode, src: string, acc: Acc): void {
  let name = '';
  let flags = WordFlag.expansion;
  let ops = 0;
  const kids = node.children;
  for (let i = 0; i < kids.length; i++) {
    const c = kids[i]!;
    const t = src.slice(c.start, c.end);
    if (c.type === 'variable_name' || c.type === 'special_variable_name') {
      if (!name) name = t;
      continue;
    }
    if (c.type === 'subscript') {
      if (/\[[@*]\]$/.test(t)) flags |= WordFlag.positional;
      name ||= t.replace(/\[.*$/, '');
      continue;
    }
    if (t === '${' || t === '}') continue;
    if (t === '!' && i === 1) {
      flags |= WordFlag.indirect;
      continue;
    }
    if (t === '#' && i === 1) continue; // ${#x} is a length: a number, harmless
    if (t === '@' && kids[i + 1] && /^[PEAaKkQUuL]$/.test(src.slice(kids[i + 1]!.start, kids[i + 1]!.end))) {
      flags |= WordFlag.transform;
    }
    ops++;
  }
  if (/^[@*0-9]$/.test(name)) flags |= WordFlag.positional;
  if (ops > 0) flags |= WordFlag.paramOp;
  acc.vars.push(name);
  if (HOME_VARS.has(name) && ops === 0 && !(flags & WordFlag.indirect)) {
    acc.value = null;
    addPattern(acc, '~');
    acc.flags |= flags;
    return;
  }
  if (ops === 0 && !(flags & (WordFlag.indirect | WordFlag.positional)) && !/\[/.test(src.slice(node.start, node.end)) && knownVar(acc, name)) return;
  if (acc.assigned?.has(name)) acc.free = true;
  dynamic(acc, flags);
}

function unquoted(text: string, acc: Acc): void {
  if (!text.includes('\\')) {
    // No escapes: the value and the pattern are the text itself.
    if (text.includes('*') || text.includes('?') || text.includes('[')) acc.flags |= WordFlag.glob;
    if (acc.value !== null) acc.value += text;
    addPattern(acc, text);
    return;
  }
  let out = '';
  let pat = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\') {
      const next = text[i + 1];
      i++;
      if (next === undefined || next === '\n') continue;
      acc.flags |= WordFlag.escape;
      out += next;
      pat += /[*?[\]\\]/.test(next) ? '\\' + next : next;
      continue;
    }
    if (ch === '*' || ch === '?' || ch === '[') acc.flags |= WordFlag.glob;
    out += ch;
    pat += ch;
  }
  if (acc.value !== null) acc.value += out;
  addPattern(acc, pat);
}

function unescapeDouble(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(/\\([$`"\\\n])/g, (_m, c: string) => (c === '\n' ? '' : c));
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
  '\\': '\\', "'": "'", '"': '"', '?': '?',
};

/** Decodes the body of a bash `$'…'` string. */
export function decodeAnsiC(body: string): string {
  return body.replace(
    /\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|c.|.)/gs,
    (m, esc: string) => {
      const k = esc[0]!;
      if (k === 'x' || k === 'u' || k === 'U') {
        const cp = parseInt(esc.slice(1), 16);
        return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
      }
      if (/[0-7]/.test(k)) return String.fromCharCode(parseInt(esc, 8) & 0xff);
      if (k === 'c') return String.fromCharCode(esc.charCodeAt(1) & 0x1f);
      return SIMPLE_ESCAPES[k] ?? m;
    },
  );
}
