import { describe, expect, it } from 'vitest';
import { encode } from './codec.ts';
import { encodeLogEvent } from './log-encode.ts';

/** A deterministic pseudo-random generator, so a failure names the seed that reproduces it. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const PIECES = ['a', 'line\n', '\t', '\r\n', '"', '\\', '\u0000', '\u001b[31m', '\u007f', 'é', '€', '😀', '\u2028', '\u2029', '\b\f', '\u001f', ' ', '/', '</script>', '{"text":""}'];

function event(text: string) {
  return { type: 'step.output', step: 3, stream: 'stdout', offset: 4096, text, v: 1, runId: 'r-1', seq: 7, ts: '2026-01-01T00:00:00.000Z', by: 'runner:a', prev: '0'.repeat(64) };
}

describe('encodeLogEvent', () => {
  it('gives exactly the bytes of JSON.stringify for output text of every kind (escapes, multi-byte UTF-8, line separators)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      let text = '';
      const len = 1024 + Math.floor(r() * 6000);
      while (text.length < len) text += PIECES[Math.floor(r() * PIECES.length)]!;
      expect(Buffer.from(encodeLogEvent(event(text))).equals(Buffer.from(encode(event(text)))), `seed ${seed}`).toBe(true);
    }
  });

  it('gives the same bytes for plain text without escapes, every control character and a large chunk', () => {
    const plain = 'a'.repeat(256 * 1024);
    expect(Buffer.from(encodeLogEvent(event(plain))).equals(Buffer.from(encode(event(plain))))).toBe(true);
    const controls = Array.from({ length: 0x20 }, (_, c) => String.fromCharCode(c)).join('').repeat(64);
    expect(Buffer.from(encodeLogEvent(event(controls))).equals(Buffer.from(encode(event(controls))))).toBe(true);
  });

  it('leaves lone surrogates, short text, events without text and other field orders to JSON.stringify (still the same bytes)', () => {
    const lone = 'x'.repeat(2000) + '\ud800' + 'y';
    for (const e of [event(lone), event('short'), { type: 'step.exited', step: 1 }, { text: 'z'.repeat(3000), actor: { role: 'agent' }, seq: 1 }]) {
      expect(Buffer.from(encodeLogEvent(e)).equals(Buffer.from(encode(e)))).toBe(true);
    }
    expect(JSON.parse(Buffer.from(encodeLogEvent(event(lone))).toString('utf8')).text).toBe(lone);
  });
});
