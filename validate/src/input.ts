import type { VerdictKind } from './policy.ts';

/** A problem found in the raw command text before parsing. */
export interface InputFinding {
  readonly verdict: VerdictKind;
  readonly rule: string;
  readonly reason: string;
  readonly start: number;
  readonly end: number;
}

// Bidi controls, zero-width and other invisible format characters, plus
// line/paragraph separators: they make what a reviewer sees differ from
// what bash runs.
const INVISIBLE = /[\u00ad\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200e\u200f\u202a-\u202e\u2028\u2029\u2060-\u2064\u206a-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\u{e0000}-\u{e007f}]/u;
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
// C0 controls except TAB and LF; CR only as part of CRLF; DEL; C1 controls.
const CONTROL = /[\x01-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]|\r(?!\n)/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LOOKALIKE_QUOTES = /[\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u2032\u2033\uff02\uff07]/;
const PADDING = /[ \t]{64,}(?=\S)/;

/**
 * Stage 1 of the chain: size, encoding, NUL/control bytes and unicode
 * tricks. Runs on the raw string; any finding here is reported even if the
 * text would also parse.
 */
export function checkInput(cmd: string, maxBytes: number): InputFinding[] {
  const out: InputFinding[] = [];
  const all = { start: 0, end: cmd.length };
  if (cmd.length * 3 > maxBytes && Buffer.byteLength(cmd, 'utf8') > maxBytes) {
    out.push({ verdict: 'deny', rule: 'input.too_large', reason: `command is larger than ${maxBytes} bytes`, ...all });
    return out;
  }
  // Fast path: printable ASCII, tab and newline only, and no run of 64
  // blanks (anything else takes the full checks below).
  if (plainAscii(cmd)) return out;
  const at = (re: RegExp): { start: number; end: number } => {
    const m = re.exec(cmd);
    return m ? { start: m.index, end: m.index + m[0].length } : all;
  };
  if (cmd.includes('\0')) out.push({ verdict: 'deny', rule: 'input.nul_byte', reason: 'command contains a NUL byte (bash and C tools truncate there)', ...at(/\0/) });
  if (CONTROL.test(cmd)) out.push({ verdict: 'deny', rule: 'input.control_char', reason: 'command contains control characters (terminal escapes, lone carriage returns) that hide text', ...at(CONTROL) });
  if (LONE_SURROGATE.test(cmd) || cmd.includes('\ufffd')) out.push({ verdict: 'deny', rule: 'input.encoding', reason: 'command is not valid UTF-8/UTF-16 text', ...at(/[\ud800-\udfff\ufffd]/) });
  if (BIDI.test(cmd)) out.push({ verdict: 'deny', rule: 'input.bidi', reason: 'command contains bidirectional-override characters that reorder what a reviewer sees', ...at(BIDI) });
  else if (INVISIBLE.test(cmd)) out.push({ verdict: 'deny', rule: 'input.invisible', reason: 'command contains zero-width or invisible characters', ...at(INVISIBLE) });
  if (PADDING.test(cmd)) out.push({ verdict: 'ask', rule: 'input.padding', reason: 'long run of blanks pushes part of the command out of view', ...at(PADDING) });
  if (LOOKALIKE_QUOTES.test(cmd) && lookalikeOutsideQuotes(cmd)) {
    out.push({ verdict: 'ask', rule: 'input.lookalike_quote', reason: 'typographic quotes outside real quotes: bash treats them as ordinary characters', ...at(LOOKALIKE_QUOTES) });
  }
  return out;
}

/**
 * True when `s` has only printable ASCII, tabs and newlines and no run of 64
 * or more spaces/tabs: then none of the checks below can fire. One pass over
 * char codes instead of two regex scans (the padding regex retries at every
 * blank).
 */
function plainAscii(s: string): boolean {
  let blanks = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 9) {
      if (++blanks >= 64) return false;
    } else if ((c > 32 && c < 127) || c === 10) blanks = 0;
    else return false;
  }
  return true;
}

// A rough quote-state scan: only flag look-alike quotes in unquoted text.
function lookalikeOutsideQuotes(s: string): boolean {
  let q: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q === null) {
      if (c === '\\') i++;
      else if (c === "'" || c === '"') q = c;
      else if (c === '\n') continue;
      else if (LOOKALIKE_QUOTES.test(c)) return true;
    } else if (c === q) q = null;
    else if (q === '"' && c === '\\') i++;
  }
  return false;
}
