import type { Walked } from './walk.ts';
import type { Word } from './words.ts';

/**
 * Parser differentials: places where tree-sitter-bash and bash read the same
 * text differently. The chain's answer to each is either to build bash's own
 * reading of the text and analyse that too (the stricter finding wins), or to
 * report the construct. Every family here is generated and checked against
 * real bash by `differential.test.ts` (ground truth recorded by
 * `test/integration/differential-bash.test.ts`).
 */

/** What the differential checks report back to the chain. */
export interface DifferentialSink {
  /** A finding (rule ids `parse.differential`, `opaque.differential`). */
  report(verdict: 'ask' | 'deny', rule: string, reason: string, start: number, end: number): void;
  /** Analyse `text` as a script bash would run, reported at `start..end` of the current source. */
  nested(text: string, start: number, end: number, label: string): void;
}

/** Lexical context: top level (also inside `$(…)` and backticks), `"…"`, or `${…}` (quotes nest inside it, `}` closes it). */
const Ctx = { Top: 0, Double: 1, Brace: 2 } as const;
type Ctx = (typeof Ctx)[keyof typeof Ctx];

interface Frame {
  readonly kind: Ctx;
  /** Open `(` inside `$(…)` (0 for the frame of the whole text). */
  parens: number;
  /** The frame is a `$(…)`/`$((…))` substitution (closed by its last `)`). */
  readonly sub: boolean;
  /** The frame is a backtick substitution (closed by an unescaped backtick). */
  readonly tick: boolean;
}

interface PendingHeredoc {
  readonly delim: string;
  readonly quoted: boolean;
  readonly strip: boolean;
}

const BLANK = new Set([' ', '\t']);
/** Characters that end a word for bash (an unquoted `#` after one starts a comment). */
const WORD_BREAK = new Set([' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);

/**
 * bash's reading of line continuations. bash's reader deletes every
 * backslash-newline pair outside single quotes, `$'…'`, comments and the
 * bodies of heredocs with a quoted delimiter, before it splits words — so a
 * continuation glued between two characters joins them (`foo\⏎#x` is the
 * word `foo#x`, not a word and a comment; `"$\⏎(id)"` is a substitution;
 * a heredoc line `EO\⏎F` ends the heredoc `<<EOF`). tree-sitter reads the
 * pair as a separator instead.
 *
 * Returns the text with every pair bash deletes deleted, or null when no
 * deletion can change how the text splits (every pair sits next to a blank
 * or a line end, where deleting it and reading it as a blank agree).
 */
export function bashContinuationView(src: string): string | null {
  if (!src.includes('\\\n')) return null;
  const cuts: number[] = [];
  let joins = false;
  const stack: Frame[] = [{ kind: Ctx.Top, parens: 0, sub: false, tick: false }];
  const pending: PendingHeredoc[] = [];
  const n = src.length;
  let i = 0;
  const cut = (at: number, join: boolean): void => {
    cuts.push(at);
    if (join) joins = true;
  };
  while (i < n) {
    const f = stack[stack.length - 1]!;
    const ch = src[i]!;
    if (ch === '\\') {
      if (src[i + 1] === '\n') {
        cut(i, joinsText(src, i, f.kind));
      }
      i += 2;
      continue;
    }
    if (f.kind === Ctx.Double) {
      if (ch === '"') stack.pop();
      else if (ch === '`') stack.push({ kind: Ctx.Top, parens: 0, sub: false, tick: true });
      else if (ch === '$' && src[i + 1] === '(') {
        stack.push({ kind: Ctx.Top, parens: 1, sub: true, tick: false });
        i += 2;
        continue;
      } else if (ch === '$' && src[i + 1] === '{') {
        stack.push({ kind: Ctx.Brace, parens: 0, sub: false, tick: false });
        i += 2;
        continue;
      }
      i++;
      continue;
    }
    // Top level, inside `$(…)`, backticks or `${…}`.
    switch (ch) {
      case "'": {
        const close = src.indexOf("'", i + 1);
        i = close < 0 ? n : close + 1;
        continue;
      }
      case '"':
        stack.push({ kind: Ctx.Double, parens: 0, sub: false, tick: false });
        i++;
        continue;
      case '`':
        if (f.tick) stack.pop();
        else stack.push({ kind: Ctx.Top, parens: 0, sub: false, tick: true });
        i++;
        continue;
      case '$': {
        const next = src[i + 1];
        if (next === "'") {
          i = skipAnsiC(src, i + 2);
          continue;
        }
        if (next === '(') {
          stack.push({ kind: Ctx.Top, parens: 1, sub: true, tick: false });
          i += 2;
          continue;
        }
        if (next === '{') {
          stack.push({ kind: Ctx.Brace, parens: 0, sub: false, tick: false });
          i += 2;
          continue;
        }
        i++;
        continue;
      }
      case '(':
        if (f.sub) f.parens++;
        i++;
        continue;
      case ')':
        if (f.sub && --f.parens === 0) stack.pop();
        i++;
        continue;
      case '}':
        if (f.kind === Ctx.Brace) stack.pop();
        i++;
        continue;
      case '#':
        if (f.kind === Ctx.Top && (i === 0 || WORD_BREAK.has(src[i - 1]!))) {
          const nl = src.indexOf('\n', i);
          i = nl < 0 ? n : nl;
          continue;
        }
        i++;
        continue;
      case '<':
        if (src[i + 1] === '<' && src[i + 2] !== '<') {
          i = readHeredocStart(src, i + 2, pending, cut);
          continue;
        }
        i++;
        continue;
      case '\n':
        i++;
        if (pending.length > 0) i = readHeredocBodies(src, i, pending.splice(0), cut);
        continue;
      default:
        i++;
    }
  }
  if (!joins) return null;
  let out = '';
  let from = 0;
  for (const c of cuts) {
    out += src.slice(from, c);
    from = c + 2;
  }
  return out + src.slice(from);
}

/**
 * Whether deleting the pair at `at` can read differently from treating it as
 * a blank: not when a blank or a line end is next to it, except inside double
 * quotes, where the deletion only matters when it completes a `$…` construct.
 */
function joinsText(src: string, at: number, kind: Ctx): boolean {
  const before = at > 0 ? src[at - 1]! : '\n';
  const after = at + 2 < src.length ? src[at + 2]! : '\n';
  if (kind === Ctx.Double) return before === '$' || (before === '(' && src[at - 2] === '$');
  const escapedBefore = at > 1 && src[at - 2] === '\\';
  if ((BLANK.has(before) || before === '\n') && !escapedBefore) return false;
  return !(BLANK.has(after) || after === '\n');
}

function skipAnsiC(src: string, i: number): number {
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\\') i += 2;
    else if (c === "'") return i + 1;
    else i++;
  }
  return i;
}

/** Reads the delimiter word after `<<` / `<<-` starting at `i`; returns the index after it. */
function readHeredocStart(src: string, i: number, pending: PendingHeredoc[], cut: (at: number, join: boolean) => void): number {
  const strip = src[i] === '-';
  if (strip) i++;
  while (BLANK.has(src[i] ?? '')) i++;
  let delim = '';
  let quoted = false;
  while (i < src.length) {
    const c = src[i]!;
    if (WORD_BREAK.has(c)) break;
    if (c === '\\') {
      if (src[i + 1] === '\n') {
        cut(i, true);
        i += 2;
        continue;
      }
      quoted = true;
      delim += src[i + 1] ?? '';
      i += 2;
      continue;
    }
    if (c === "'" || c === '"') {
      quoted = true;
      const close = src.indexOf(c, i + 1);
      const end = close < 0 ? src.length : close;
      // A continuation inside "…" is deleted there too.
      delim += c === '"' ? src.slice(i + 1, end).replace(/\\\n/g, '') : src.slice(i + 1, end);
      if (c === '"') for (let k = src.indexOf('\\\n', i + 1); k >= 0 && k < end; k = src.indexOf('\\\n', k + 2)) cut(k, true);
      i = end + 1;
      continue;
    }
    delim += c;
    i++;
  }
  pending.push({ delim, quoted, strip });
  return i;
}

/** Skips heredoc bodies starting at `i` the way bash ends them; returns the index after the last one. */
function readHeredocBodies(src: string, i: number, docs: readonly PendingHeredoc[], cut: (at: number, join: boolean) => void): number {
  for (const d of docs) {
    while (i < src.length) {
      // One logical line: an unquoted body's continuations join physical lines first.
      let line = '';
      const lineCuts: number[] = [];
      let j = i;
      while (j < src.length && src[j] !== '\n') {
        if (!d.quoted && src[j] === '\\') {
          if (src[j + 1] === '\n') {
            lineCuts.push(j);
            j += 2;
            continue;
          }
          line += src.slice(j, j + 2);
          j += 2;
          continue;
        }
        line += src[j];
        j++;
      }
      const cmp = d.strip ? line.replace(/^\t+/, '') : line;
      const ends = cmp === d.delim;
      // A joined line only changes the reading when it ends the heredoc.
      for (const c of lineCuts) cut(c, ends || src[c - 1] === '$');
      i = j + 1;
      if (ends) break;
    }
  }
  return i;
}

/**
 * bash's text of a backtick substitution: inside backticks a backslash
 * before `$`, `` ` `` or `\` (and `"` when the backticks are inside double
 * quotes) is removed before the text is parsed again, so `` `echo \`id\`` ``
 * runs `id`. tree-sitter keeps the backslashes and sees a plain word.
 */
export function backtickInner(raw: string, inDouble: boolean): string | null {
  const inner = raw.slice(1, -1);
  if (!inner.includes('\\')) return null;
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    const next = inner[i + 1];
    if (c === '\\' && next !== undefined && (next === '$' || next === '`' || next === '\\' || (inDouble && next === '"'))) {
      out += next;
      i++;
      continue;
    }
    out += c;
  }
  return out === inner ? null : out;
}

/**
 * Text shaped like an array element whose subscript holds a command
 * (`a[$(id)]`, ``a[`id`]``). bash evaluates such text as code wherever it
 * reads a variable name or an arithmetic operand: `unset`, `printf -v`,
 * `read`, `test -v`, `declare`, `let`, `(( ))`, `$(( ))`, `[[ -eq ]]`,
 * `declare -i`, and the value of any variable used in those (recursively).
 * Quoted, the text is an inert string to tree-sitter.
 */
const CODE_SUBSCRIPT = /[A-Za-z_][A-Za-z0-9_]*\[[^\]]*(\$\(|`|[<>]\()/;

/** Whether a statically known value would run a command if bash evaluated it as a name or arithmetic. */
export function isCodeSubscript(value: string): boolean {
  return value.includes('[') && CODE_SUBSCRIPT.test(value);
}

/** Checks one analysed script for the differentials above. */
export function checkDifferentials(src: string, walked: Walked, sink: DifferentialSink): void {
  const view = bashContinuationView(src);
  if (view !== null) sink.nested(view, 0, src.length, 'as bash reads its line continuations');
  for (const b of walked.backticks) {
    const inner = backtickInner(src.slice(b.start, b.end), b.inDouble);
    if (inner !== null) sink.nested(inner, b.start, b.end, 'backtick text as bash unescapes it');
  }
  const seen = new Set<number>();
  const text = (w: Word | null): void => {
    if (w === null || w.value === null || seen.has(w.start) || !isCodeSubscript(w.value)) return;
    seen.add(w.start);
    sink.report('deny', 'parse.differential', `quoted text "${short(w.value)}" is an array reference whose subscript bash runs as a command when it reads it as a variable name or number`, w.start, w.end);
  };
  for (const c of walked.cmds) {
    text(c.name);
    for (const a of c.args) text(a);
    for (const a of c.assigns) text(a.value);
    for (const r of c.redirects) text(r.target);
  }
  for (const l of walked.loops) for (const v of l.values) text(v);
  for (const w of walked.testWords) text(w);
  for (const r of walked.arithUnknown) {
    sink.report('ask', 'opaque.differential', `bash evaluates ${r.what.startsWith('$') ? short(r.what) : '$' + r.what} as arithmetic, and its text is only known at run time (array subscripts in it run commands)`, r.start, r.end);
  }
}

function short(s: string): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > 50 ? one.slice(0, 49) + '…' : one;
}

export type { Word };
