import { encode } from './codec.ts';

/** Below this many characters a `text` field goes through `JSON.stringify` like everything else. */
const FAST_TEXT_CHARS = 1024;
/** The `text` field with an empty value, as `JSON.stringify` writes it. */
const TEXT_PLACEHOLDER = '"text":""';

/**
 * Bytes each byte adds when it is written inside a JSON string: 1 for `"`, `\` and the control
 * characters with a short escape (`\n`, `\t`, …), 5 for the other control characters (`\u00XX`), 0
 * for every other byte (UTF-8 passes through as it is, as `JSON.stringify` leaves it).
 */
const EXTRA = new Uint8Array(256);
const SHORT: Record<number, number> = { 0x08: 0x62, 0x09: 0x74, 0x0a: 0x6e, 0x0c: 0x66, 0x0d: 0x72, 0x22: 0x22, 0x5c: 0x5c };
for (let c = 0; c < 0x20; c++) EXTRA[c] = SHORT[c] !== undefined ? 1 : 5;
EXTRA[0x22] = EXTRA[0x5c] = 1;
const HEX = '0123456789abcdef';

/**
 * A log event's stored bytes: byte for byte what `encode(event)` (`JSON.stringify`, UTF-8) gives,
 * made without turning a large `text` field (a step's output) into a JSON string and back. That
 * round trip was a third of the runner's CPU per logged byte: the text is encoded to UTF-8 once and
 * copied, escaping only the bytes JSON escapes.
 */
export function encodeLogEvent(event: object): Uint8Array {
  const text = (event as { text?: unknown }).text;
  // Lone surrogates are written as `\uDXXX` by JSON.stringify: leave such (rare) text to it.
  if (typeof text !== 'string' || text.length < FAST_TEXT_CHARS || !text.isWellFormed()) return encode(event);
  const json = JSON.stringify({ ...event, text: '' });
  const at = json.indexOf(TEXT_PLACEHOLDER);
  // Only one place a `"text":""` can be: a `"` inside a string value is always escaped.
  if (at < 0 || json.indexOf(TEXT_PLACEHOLDER, at + 1) >= 0) return encode(event);
  const head = Buffer.from(json.slice(0, at + TEXT_PLACEHOLDER.length - 1), 'utf8');
  const tail = Buffer.from(json.slice(at + TEXT_PLACEHOLDER.length - 1), 'utf8');
  const raw = Buffer.from(text, 'utf8');
  let extra = 0;
  for (let i = 0; i < raw.length; i++) extra += EXTRA[raw[i]!]!;
  const out = Buffer.allocUnsafe(head.length + raw.length + extra + tail.length);
  head.copy(out, 0);
  const end = extra === 0 ? head.length + raw.copy(out, head.length) : escapeInto(raw, out, head.length);
  tail.copy(out, end);
  return out;
}

/** Writes `raw` into `out` at `at` with JSON's escapes; returns where it ended. Runs between escapes are copied whole. */
function escapeInto(raw: Buffer, out: Buffer, at: number): number {
  let o = at;
  let run = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (EXTRA[c] === 0) continue;
    o += raw.copy(out, o, run, i);
    run = i + 1;
    out[o++] = 0x5c;
    const short = SHORT[c];
    if (short !== undefined) out[o++] = short;
    else {
      out[o++] = 0x75;
      out[o++] = 0x30;
      out[o++] = 0x30;
      out[o++] = HEX.charCodeAt(c >> 4);
      out[o++] = HEX.charCodeAt(c & 15);
    }
  }
  return o + raw.copy(out, o, run, raw.length);
}
