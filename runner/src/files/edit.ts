// Exact search/replace for the `edit` file tool, and the "nearest match" that makes a failed edit
// actionable. Pure: the runner reads the file, applies this, and writes the result back.

/** Where the text most like a missing search text is, and how it differs. */
export interface NearestMatch {
  /** 1-based first and last line of the closest window of the file. */
  line: number;
  endLine: number;
  /** That window's text (capped at {@link NEAREST_TEXT_CHARS}). */
  text: string;
  /** Bigram similarity to the search text, 0..1. */
  similarity: number;
  /** What differs, in words (whitespace only, letter case, or the first differing line). */
  hint: string;
}

export type EditOutcome =
  | { ok: true; text: string; replaced: number; line: number }
  | { ok: false; code: 'edit_no_match'; message: string; nearest: NearestMatch | null }
  | { ok: false; code: 'edit_ambiguous'; message: string; lines: number[]; count: number };

const NEAREST_TEXT_CHARS = 2000;
/** Below this similarity the nearest window is not worth naming. */
const MIN_SIMILARITY = 0.3;

/**
 * Replaces `search` with `replace` in `text`, exactly (no regex, no whitespace folding). One
 * occurrence is replaced; several are refused unless `occurrence` says which (1-based) or `all`.
 * A search text that is not there fails with the nearest text in the file and how it differs.
 */
export function applyEdit(text: string, search: string, replace: string, occurrence?: number | 'all'): EditOutcome {
  const at = occurrences(text, search);
  if (at.length === 0) {
    const nearest = nearestMatch(text, search);
    const where = nearest ? `; the nearest text is at line ${nearest.line}${nearest.endLine > nearest.line ? `-${nearest.endLine}` : ''} (${nearest.hint}):\n${nearest.text}` : '';
    return { ok: false, code: 'edit_no_match', message: `the search text was not found${where}`, nearest };
  }
  if (typeof occurrence === 'number') {
    const pos = at[occurrence - 1];
    if (pos === undefined) {
      return { ok: false, code: 'edit_no_match', message: `the search text occurs ${at.length} time(s); there is no occurrence ${occurrence}`, nearest: null };
    }
    return { ok: true, text: text.slice(0, pos) + replace + text.slice(pos + search.length), replaced: 1, line: lineOf(text, pos) };
  }
  if (at.length > 1 && occurrence !== 'all') {
    const lines = at.slice(0, 20).map((p) => lineOf(text, p));
    return {
      ok: false,
      code: 'edit_ambiguous',
      message: `the search text occurs ${at.length} times (lines ${lines.join(', ')}${at.length > lines.length ? ', …' : ''}); add surrounding lines to make it unique, or pass occurrence (a number, or "all")`,
      lines,
      count: at.length,
    };
  }
  let out = '';
  let from = 0;
  for (const p of at) {
    out += text.slice(from, p) + replace;
    from = p + search.length;
  }
  return { ok: true, text: out + text.slice(from), replaced: at.length, line: lineOf(text, at[0]!) };
}

/** Start indexes of the non-overlapping occurrences of `search`, left to right. */
export function occurrences(text: string, search: string): number[] {
  const out: number[] = [];
  for (let i = text.indexOf(search); i !== -1; i = text.indexOf(search, i + search.length)) out.push(i);
  return out;
}

function lineOf(text: string, index: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * The window of the file's lines (as many as the search text has) most like the search text, by
 * bigram (Dice) similarity; null when nothing is at least {@link MIN_SIMILARITY} alike.
 */
export function nearestMatch(text: string, search: string): NearestMatch | null {
  const lines = text.split('\n');
  const want = search.replace(/\n$/, '');
  const k = Math.max(1, want.split('\n').length);
  const target = bigrams(want);
  let best: { i: number; score: number } | null = null;
  for (let i = 0; i + k <= Math.max(lines.length, k); i++) {
    const window = lines.slice(i, i + k).join('\n');
    const score = dice(target, bigrams(window));
    if (!best || score > best.score) best = { i, score };
  }
  if (!best || best.score < MIN_SIMILARITY) return null;
  const found = lines.slice(best.i, best.i + k).join('\n');
  return {
    line: best.i + 1,
    endLine: best.i + k,
    text: found.length > NEAREST_TEXT_CHARS ? `${found.slice(0, NEAREST_TEXT_CHARS)}…` : found,
    similarity: Math.round(best.score * 1000) / 1000,
    hint: difference(want, found, best.i + 1),
  };
}

/** How `found` differs from `want`, in words a model can act on. */
function difference(want: string, found: string, firstLine: number): string {
  const squash = (s: string) => s.replace(/\s+/g, ' ').trim();
  if (squash(want) === squash(found)) return 'it differs only in whitespace or indentation';
  if (want.toLowerCase() === found.toLowerCase()) return 'it differs only in letter case';
  if (found.includes(want.trim())) return 'the search text is there but with different surrounding whitespace';
  const a = want.split('\n');
  const b = found.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `first difference at line ${firstLine + i}: the file has ${JSON.stringify(clip(b[i] ?? ''))}, the search text ${JSON.stringify(clip(a[i] ?? ''))}`;
  }
  return 'it differs';
}

function clip(s: string): string {
  return s.length > 120 ? `${s.slice(0, 120)}…` : s;
}

/** Bigrams of the text with case and runs of whitespace folded: those differences are the usual misses. */
function bigrams(raw: string): Map<string, number> {
  const s = raw.toLowerCase().replace(/\s+/g, ' ');
  const m = new Map<string, number>();
  for (let i = 0; i + 1 < s.length; i++) {
    const g = s.slice(i, i + 2);
    m.set(g, (m.get(g) ?? 0) + 1);
  }
  return m;
}

function dice(a: Map<string, number>, b: Map<string, number>): number {
  let total = 0;
  let common = 0;
  for (const n of a.values()) total += n;
  for (const [g, n] of b) {
    total += n;
    const m = a.get(g);
    if (m) common += Math.min(m, n);
  }
  return total === 0 ? 0 : (2 * common) / total;
}
