/**
 * Heredoc elision: most of the bash text the chain parses is heredoc bodies (73% of the shared
 * benign corpus's characters: scripts written with `cat > x.py <<'EOF'`), and tree-sitter-bash's
 * scanner walks every character of them to find the delimiter line, which costs most of the parse.
 * This parses a copy with the middle lines of such bodies cut out and shifts the offsets of the
 * tree back, producing the tree tree-sitter gives for the whole text. `heredoc-elide.test.ts`
 * compares the two trees on every heredoc command of the shared corpus and on generated inputs.
 *
 * Why the trees are the same. For a heredoc body, tree-sitter-bash's external scanner
 * (`scan_heredoc_content` in its scanner.c) consumes characters one by one and only stops
 * (returns a token) at the end of input, at a NUL character, at `$` when the heredoc is not
 * quoted, or when a line start (after blanks) spells the delimiter. A cut region
 * `[cutStart, cutEnd)` is chosen so that none of these can happen inside it: whole lines, no NUL,
 * no `$` unless the delimiter is quoted, and no occurrence of the delimiter anywhere in it. The
 * lines before and after it are kept, and the character before each line break at its edges is
 * neither blank nor a backslash, so the scanner handles both line breaks the same way (it
 * advances past the break and checks the next line for the delimiter: the same next line in both
 * texts). The scanner's state on the far side of the cut is therefore the same in both texts and
 * the body token only grows by the cut length. Everything else tree-sitter sees is the same text.
 *
 * What is checked after the parse of the cut text, before its tree is used (otherwise the whole
 * text is parsed): no error anywhere; every cut lies strictly inside one childless `heredoc_body`
 * token (a body tree-sitter read in one piece) that is followed by a `heredoc_end` spelling the
 * delimiter the cut was chosen for (so the scanner's delimiter is that one); when the cut contains
 * `$`, the heredoc's start is quoted (`'…'`, `"…"` or `\…`, the scanner's "raw" mode). A lexer
 * that looked past a cut from before the body would have made a token that crosses the body
 * start or an error, and the check fails.
 */
import type { SyntaxNode } from './grammar.ts';

/** Inputs shorter than this are parsed whole (cutting saves nothing worth the bookkeeping). */
export const ELIDE_MIN_LENGTH = 1024;
/** A cut shorter than this is not made. */
const MIN_CUT = 256;

/** One cut: the cut text's offset where it was removed, and its length and expected delimiter. */
export interface Cut {
  /** Offset in the whole text where the removed lines start. */
  readonly start: number;
  /** Offset in the whole text where they end (a line start). */
  readonly end: number;
  /** The heredoc delimiter the cut was chosen for (tree-sitter's unquoted spelling). */
  readonly delimiter: string;
  /** The removed lines contain `$`: only valid when the heredoc start is quoted. */
  readonly dollar: boolean;
}

/** The text to parse instead of `source`, and the cuts that map its offsets back; null when nothing is cut. */
export interface Elision {
  readonly text: string;
  readonly cuts: readonly Cut[];
}

// `<<` or `<<-` (not `<<<`), blanks, then a delimiter word quoted or not.
const HEREDOC_OP = /(?<!<)<<-?[ \t]*(?:'([A-Za-z_][A-Za-z0-9_]*)'|"([A-Za-z_][A-Za-z0-9_]*)"|\\?([A-Za-z_][A-Za-z0-9_]*))/g;

/** Characters tree-sitter's scanner treats as blank (`iswspace` in the C locale). */
function isBlank(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** A line break at `i` (text[i] === '\n') that both texts handle the same way: the character before it is neither blank nor `\`. */
function cleanBreak(text: string, i: number): boolean {
  if (i < 1) return false;
  const c = text.charCodeAt(i - 1);
  return !isBlank(c) && c !== 92;
}

/**
 * Chooses the cuts for `source`: for each heredoc operator with a plain delimiter word, the
 * whole lines of its body between its first clean line break and the last clean line break
 * before the first line that contains the delimiter anywhere.
 */
export function planElision(source: string): Elision | null {
  if (source.length < ELIDE_MIN_LENGTH || !source.includes('<<')) return null;
  const cuts: Cut[] = [];
  let after = 0; // bodies come one after the other
  HEREDOC_OP.lastIndex = 0;
  for (let m = HEREDOC_OP.exec(source); m !== null; m = HEREDOC_OP.exec(source)) {
    const delimiter = (m[1] ?? m[2] ?? m[3])!;
    const quoted = m[1] !== undefined || m[2] !== undefined || m[0].includes('\\');
    const nl = source.indexOf('\n', m.index + m[0].length);
    if (nl < 0) break;
    const bodyStart = Math.max(nl + 1, after);
    const firstDelim = source.indexOf(delimiter, bodyStart);
    if (firstDelim < 0) break;
    const delimLine = source.lastIndexOf('\n', firstDelim - 1) + 1;
    after = delimLine;
    HEREDOC_OP.lastIndex = Math.max(HEREDOC_OP.lastIndex, delimLine);
    if (delimLine <= bodyStart) continue;
    // First clean break after the body's first line, last clean break before the delimiter line.
    let cutStart = -1;
    for (let i = source.indexOf('\n', bodyStart); i >= 0 && i < delimLine; i = source.indexOf('\n', i + 1)) {
      if (cleanBreak(source, i)) {
        cutStart = i + 1;
        break;
      }
    }
    if (cutStart < 0) continue;
    let cutEnd = -1;
    for (let i = delimLine - 1; i >= cutStart; i = source.lastIndexOf('\n', i - 1)) {
      if (source.charCodeAt(i) === 10 && cleanBreak(source, i)) {
        cutEnd = i + 1;
        break;
      }
      if (i === 0) break;
    }
    if (cutEnd - cutStart < MIN_CUT) continue;
    const cut = source.slice(cutStart, cutEnd);
    if (cut.includes('\0') || !cut.isWellFormed()) continue;
    const dollar = cut.includes('$');
    if (dollar && !quoted) continue;
    cuts.push({ start: cutStart, end: cutEnd, delimiter, dollar });
  }
  if (cuts.length === 0) return null;
  let text = '';
  let at = 0;
  for (const c of cuts) {
    text += source.slice(at, c.start);
    at = c.end;
  }
  return { text: text + source.slice(at), cuts };
}

/**
 * Checks the tree of the cut text (see the module comment) and returns the tree of the whole
 * text with every offset shifted back; null when a check fails (parse the whole text then).
 */
export function restoreElided(root: SyntaxNode, hasError: boolean, e: Elision, source: string): SyntaxNode | null {
  if (hasError) return null;
  // Cut points in the cut text's offsets.
  const points: number[] = [];
  let removed = 0;
  for (const c of e.cuts) {
    points.push(c.start - removed);
    removed += c.end - c.start;
  }
  const found = new Array<boolean>(e.cuts.length).fill(false);
  if (!checkCuts(root, e, points, found) || found.includes(false)) return null;
  const shift = (p: number): number => {
    let s = p;
    for (let i = 0; i < points.length && p >= points[i]!; i++) s += e.cuts[i]!.end - e.cuts[i]!.start;
    return s;
  };
  const restored = remap(root, shift);
  return restored.end === source.length ? restored : null;
}

function checkCuts(n: SyntaxNode, e: Elision, points: readonly number[], found: boolean[]): boolean {
  const kids = n.children;
  for (let k = 0; k < kids.length; k++) {
    const c = kids[k]!;
    // Only nodes that contain a cut point can hold its body.
    let holds = false;
    for (const p of points) if (c.start < p && p <= c.end) holds = true;
    if (!holds) continue;
    if (c.type === 'heredoc_body') {
      const i = points.findIndex((p) => c.start < p && p <= c.end);
      const cut = e.cuts[i]!;
      const end = kids[k + 1];
      const start = kids.find((x) => x.type === 'heredoc_start');
      if (c.children.length > 0 || end?.type !== 'heredoc_end' || found[i]) return false;
      if (e.text.slice(end.start, end.end) !== cut.delimiter) return false;
      if (cut.dollar && !(start !== undefined && /^['"\\]/.test(e.text.slice(start.start, start.end)))) return false;
      // Exactly one cut inside this body.
      if (points.filter((p) => c.start < p && p <= c.end).length !== 1) return false;
      found[i] = true;
      continue;
    }
    if (c.children.length === 0) return false; // a cut inside some other token
    if (!checkCuts(c, e, points, found)) return false;
  }
  return true;
}

function remap(n: SyntaxNode, shift: (p: number) => number): SyntaxNode {
  const children = n.children.length === 0 ? n.children : n.children.map((c) => remap(c, shift));
  return { type: n.type, named: n.named, start: shift(n.start), end: shift(n.end), children };
}
