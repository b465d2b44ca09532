// The substring-search pass of a redaction stream (few patterns: chunks with no pattern skip the
// automaton) must give exactly what the automaton alone gives, however the stream is chunked. The
// reference is a redactor with more patterns than the search takes (automaton only): the same secret
// plus two that never occur in the text, so both must produce the same bytes.
import { describe, expect, it } from 'vitest';
import { Redactor } from './redact.ts';

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SECRET = 'tok-3f9a1c7e5b2d';
const forms = [SECRET, Buffer.from(SECRET).toString('hex'), Buffer.from(SECRET).toString('base64'), encodeURIComponent(SECRET), JSON.stringify(SECRET).slice(1, -1)];

function streamed(r: Redactor, data: Buffer, next: () => number, maxChunk: number): Buffer {
  const s = r.stream();
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    const n = 1 + Math.floor(next() * maxChunk);
    out.push(s.push(data.subarray(at, at + n)));
    at += n;
  }
  out.push(s.flush());
  return Buffer.concat(out);
}

describe('redaction by substring search', () => {
  it('one secret (searched) redacts as the automaton does, with secrets across chunk edges after long clean stretches', () => {
    const searched = new Redactor({ T: SECRET });
    const reference = new Redactor({ T: SECRET, U: 'never-here-Qx81Zp', V: 'also-absent-Wm27Ky' });
    expect(searched.patternCount).toBeLessThanOrEqual(16);
    expect(reference.patternCount).toBeGreaterThan(16);
    const next = rng(42);
    for (let round = 0; round < 200; round++) {
      const parts: string[] = [];
      const pieces = 1 + Math.floor(next() * 12);
      for (let i = 0; i < pieces; i++) {
        parts.push('lorem ipsum 0123456789 abcdef '.repeat(Math.floor(next() * 300)).slice(Math.floor(next() * 20)));
        // Sometimes a whole form, sometimes a cut one (a prefix that must not be taken for a match).
        const form = forms[Math.floor(next() * forms.length)]!;
        parts.push(next() < 0.7 ? form : form.slice(0, Math.floor(next() * form.length)));
      }
      const data = Buffer.from(parts.join(''));
      const maxChunk = [1, 7, 64, 4096, 70_000][round % 5]!;
      const want = reference.redactBytes(data).toString('latin1').replace(/\[REDACTED:[UV]\]/g, '?');
      const got = streamed(searched, data, next, maxChunk).toString('latin1');
      expect(got).toBe(want);
      expect(got).not.toContain(SECRET);
    }
  });
});
