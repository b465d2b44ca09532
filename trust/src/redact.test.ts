import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Redactor, encodedForms, type RedactionStream } from './redact.ts';
import { TrustError } from './errors.ts';
import { redactThroughput } from './bench.ts';

const SECRET = 'ghp_7bQx9K2mZ4vT1wL8';
const M = '[REDACTED:TOKEN]';

function feed(stream: RedactionStream | Redactor, parts: Uint8Array[]): string {
  const out = parts.map((p) => stream.push(p));
  out.push(stream.flush());
  return Buffer.concat(out).toString('latin1');
}

/** Splits `bytes` at the given positions. */
function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const parts: Buffer[] = [];
  let from = 0;
  for (const c of cuts) {
    parts.push(bytes.subarray(from, c));
    from = c;
  }
  parts.push(bytes.subarray(from));
  return parts;
}

describe('Redactor: one-shot', () => {
  const r = new Redactor({ TOKEN: SECRET });

  it('replaces every occurrence, including at the very start and end', () => {
    expect(r.redactString(`${SECRET} middle ${SECRET}${SECRET} end ${SECRET}`)).toBe(`${M} middle ${M}${M} end ${M}`);
    expect(r.redactString(SECRET)).toBe(M);
  });

  it('leaves unrelated text alone (and returns the same string when nothing matched)', () => {
    const text = `ghp_7bQx9K2mZ4vT1wL nearly ${SECRET.slice(1)} the secret ${SECRET.toUpperCase()}`;
    expect(r.redactString(text)).toBe(text);
    expect(r.redactString('')).toBe('');
  });

  it('redacts hex, lower and upper case', () => {
    const hex = Buffer.from(SECRET).toString('hex');
    expect(r.redactString(`a ${hex} b ${hex.toUpperCase()} c`)).toBe(`a ${M} b ${M} c`);
  });

  it('redacts base64, standard and URL-safe, padded and not', () => {
    // A value whose base64 has both '+' and '/' and padding, to tell the alphabets apart.
    const v = 'k>?~\u00ff\u00fe>?>';
    const rr = new Redactor({ K: v });
    const std = Buffer.from(v).toString('base64');
    expect(std).toMatch(/[+/]/);
    expect(std).toMatch(/=$/);
    const url = Buffer.from(v).toString('base64url');
    for (const form of [std, std.replace(/=+$/, ''), url, `${url}=`]) {
      expect(rr.redactString(`x ${form} y`)).toBe('x [REDACTED:K] y');
    }
  });

  it('redacts a secret embedded in longer base64 text at each of the three alignments', () => {
    for (const prefix of ['', 'a', 'ab', 'abc', 'abcd']) {
      for (const suffix of ['', 'z', 'zz', 'zzz']) {
        const plain = Buffer.from(`${prefix}${SECRET}${suffix}`);
        for (const enc of [plain.toString('base64'), plain.toString('base64url')]) {
          const out = r.redactString(enc);
          expect(out, `${prefix}|${suffix}`).toContain(M);
          // What is left is at most 2 boundary characters on each side beyond the prefix/suffix's own.
          const leftover = out.replace(M, '');
          expect(leftover.length).toBeLessThanOrEqual(Math.ceil((prefix.length * 4) / 3) + Math.ceil((suffix.length * 4) / 3) + 4);
        }
      }
    }
  });

  it('redacts URL-encoded forms: percent-encoding of reserved characters, + for space, either hex case', () => {
    const v = 'p@ss w0rd/&?=#!*';
    const rr = new Redactor({ PW: v });
    const comp = encodeURIComponent(v);
    const strict = comp.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const form = new URLSearchParams({ k: v }).toString().slice(2);
    const lower = (x: string) => x.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
    const rfcForm = strict.replaceAll('%20', '+');
    for (const f of [comp, strict, form, rfcForm, lower(comp), lower(strict), lower(form)]) {
      expect(rr.redactString(`https://h/?q=${f}&x=1`)).toBe('https://h/?q=[REDACTED:PW]&x=1');
    }
    expect(form).toContain('+');
  });

  it('redacts JSON-string-escaped forms', () => {
    const v = 'line1\n"quoted"\\back/slash\u00e9\u{1f600}';
    const rr = new Redactor({ J: v });
    const doc = JSON.stringify({ a: v });
    expect(rr.redactString(doc)).toBe('{"a":"[REDACTED:J]"}');
    const ascii = JSON.stringify(v).slice(1, -1).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    expect(rr.redactString(`"${ascii}"`)).toBe('"[REDACTED:J]"');
    expect(rr.redactString(`"${ascii.replace(/\\u([0-9a-f]{4})/g, (_m, h: string) => `\\u${h.toUpperCase()}`)}"`)).toBe('"[REDACTED:J]"');
    expect(rr.redactString(JSON.stringify(v).slice(1, -1).replaceAll('/', '\\/'))).toBe('[REDACTED:J]');
  });

  it('merges overlapping secrets into one marker so no byte of either survives', () => {
    const rr = new Redactor({ A: 'abcdef12', B: 'ef12ghij' });
    expect(rr.redactString('xxabcdef12ghijyy')).toBe('xx[REDACTED:A]yy');
    expect(rr.redactString('xxef12ghijyy')).toBe('xx[REDACTED:B]yy');
  });

  it('prefers the longer secret when one is a prefix of another', () => {
    const rr = new Redactor({ SHORT: 'token1234', LONG: 'token1234-extended' });
    expect(rr.redactString('a token1234-extended b token1234 c')).toBe('a [REDACTED:LONG] b [REDACTED:SHORT] c');
    // Order of declaration does not matter.
    const rr2 = new Redactor({ LONG: 'token1234-extended', SHORT: 'token1234' });
    expect(rr2.redactString('a token1234-extended b token1234 c')).toBe('a [REDACTED:LONG] b [REDACTED:SHORT] c');
  });

  it('redacts a secret that is contained in the middle of another', () => {
    const rr = new Redactor({ OUTER: 'aaaa-inner-bbbb', INNER: 'inner-' });
    expect(rr.redactString('aaaa-inner-bbbb|inner-')).toBe('[REDACTED:OUTER]|[REDACTED:INNER]');
  });

  it('handles self-overlapping secrets (a run of repeats is one region)', () => {
    const rr = new Redactor({ R: 'abab' });
    expect(rr.redactString('xababababy')).toBe('x[REDACTED:R]y');
  });

  it('keeps binary data around a secret byte-exact', () => {
    const bin = randomBytes(4096);
    const input = Buffer.concat([bin.subarray(0, 1000), Buffer.from(SECRET), bin.subarray(1000)]);
    const out = r.redactBytes(input);
    expect(out.equals(Buffer.concat([bin.subarray(0, 1000), Buffer.from(M), bin.subarray(1000)]))).toBe(true);
  });

  it('matches non-ASCII secrets as UTF-8 bytes', () => {
    const rr = new Redactor({ U: 'pässwörd✓' });
    expect(rr.redactString('x pässwörd✓ y')).toBe('x [REDACTED:U] y');
    expect(rr.redactBytes(Buffer.from('x pässwörd✓ y', 'utf8')).toString()).toBe('x [REDACTED:U] y');
  });

  it('ignores secrets shorter than minLength and says so, without keeping the value', () => {
    const rr = new Redactor([
      { name: 'PIN', value: '123' },
      { name: 'OK', value: 'long-enough' },
    ]);
    expect(rr.ignored).toEqual([{ name: 'PIN', reason: 'too_short', length: 3 }]);
    expect(rr.names).toEqual(['OK']);
    expect(rr.redactString('123 long-enough')).toBe('123 [REDACTED:OK]');
    expect(JSON.stringify(rr.ignored)).not.toContain('123');
    expect(new Redactor({ PIN: '123' }, { minLength: 3 }).redactString('a123b')).toBe('a[REDACTED:PIN]b');
  });

  it('accepts secrets as a record, a Map or a list', () => {
    for (const input of [{ K: 'value-123' }, new Map([['K', 'value-123']]), [{ name: 'K', value: 'value-123' }]]) {
      expect(new Redactor(input).redactString('a value-123')).toBe('a [REDACTED:K]');
    }
  });

  it('uses a custom marker', () => {
    const rr = new Redactor({ X: 'secret-x' }, { marker: (n) => `***${n}***` });
    expect(rr.redactString('a secret-x b')).toBe('a ***X*** b');
  });

  it('rejects a secret without a name or with a non-string value', () => {
    expect(() => new Redactor([{ name: '', value: 'abcdef' }])).toThrow(TrustError);
    expect(() => new Redactor({ A: 42 as unknown as string })).toThrow(expect.objectContaining({ code: 'invalid_secret' }));
  });

  it('with no secrets passes everything through', () => {
    const rr = new Redactor({});
    expect(rr.redactString('anything')).toBe('anything');
    expect(feed(rr, [Buffer.from('ab'), Buffer.from('cd')])).toBe('abcd');
  });

  it('redactValue redacts deep strings, keys and byte arrays, and keeps other values', () => {
    const input = {
      cmd: `curl -H "Authorization: Bearer ${SECRET}"`,
      nested: [{ env: { [SECRET]: 'key-is-secret' } }, 7, true, null],
      bytes: Buffer.from(`xx${SECRET}`),
      n: 12,
    };
    const out = r.redactValue(input);
    expect(out.cmd).toBe(`curl -H "Authorization: Bearer ${M}"`);
    expect(out.nested).toEqual([{ env: { [M]: 'key-is-secret' } }, 7, true, null]);
    expect(Buffer.from(out.bytes).toString()).toBe(`xx${M}`);
    expect(out.n).toBe(12);
    expect(input.cmd).toContain(SECRET); // not mutated
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => r.redactValue(cyclic)).toThrow(TypeError);
    const shared = { s: SECRET };
    expect(r.redactValue({ a: shared, b: shared })).toEqual({ a: { s: M }, b: { s: M } }); // shared, not cyclic
  });

  it('encodedForms lists the raw, hex and base64 forms', () => {
    const forms = encodedForms(SECRET).map((b) => b.toString());
    expect(forms).toContain(SECRET);
    expect(forms).toContain(Buffer.from(SECRET).toString('hex'));
    expect(forms).toContain(Buffer.from(SECRET).toString('base64'));
  });
});

describe('Redactor: streams', () => {
  const r = new Redactor({ TOKEN: SECRET });
  const input = Buffer.from(`before ${SECRET} after`);
  const expected = `before ${M} after`;

  it('finds a secret split across two chunks at every split position', () => {
    for (let cut = 0; cut <= input.length; cut++) {
      expect(feed(r.stream(), splitAt(input, [cut])), `cut ${cut}`).toBe(expected);
    }
  });

  it('finds a secret split across three chunks at every pair of split positions', () => {
    for (let a = 0; a <= input.length; a++) {
      for (let b = a; b <= input.length; b++) {
        expect(feed(r.stream(), splitAt(input, [a, b])), `cuts ${a},${b}`).toBe(expected);
      }
    }
  });

  it('finds a secret fed one byte at a time, and in encoded forms split across chunks', () => {
    const b64 = Buffer.from(`xx${Buffer.from(`pre${SECRET}post`).toString('base64')}yy`);
    const hex = Buffer.from(`xx${Buffer.from(SECRET).toString('hex')}yy`);
    for (const data of [input, b64, hex]) {
      const oneShot = r.redactBytes(data).toString('latin1');
      expect(oneShot).toContain(M);
      expect(feed(r.stream(), [...data].map((b) => Buffer.from([b])))).toBe(oneShot);
      for (let cut = 0; cut <= data.length; cut++) expect(feed(r.stream(), splitAt(data, [cut]))).toBe(oneShot);
    }
  });

  it('never emits a byte of a secret before the chunk that completes it, and holds back less than the longest pattern', () => {
    const s = r.stream();
    const first = s.push(Buffer.from(`before ${SECRET.slice(0, 10)}`));
    expect(first.toString()).not.toContain(SECRET.slice(0, 10));
    expect(s.heldBytes).toBeLessThan(r.maxPatternLength);
    const rest = Buffer.concat([s.push(Buffer.from(`${SECRET.slice(10)} after`)), s.flush()]);
    expect(Buffer.concat([first, rest]).toString()).toBe(expected);
  });

  it('emits all bytes as soon as they are safe: output lags input by at most maxPatternLength - 1', () => {
    const s = r.stream();
    const big = Buffer.alloc(10_000, 'x');
    const out = s.push(big);
    expect(out.length).toBe(big.length - (r.maxPatternLength - 1));
    expect(s.flush().length).toBe(r.maxPatternLength - 1);
  });

  it('concatenated output equals the one-shot redaction for random chunkings of mixed data', () => {
    const rr = new Redactor({ A: 'alpha-secret-1', B: 'secret-1-beta', C: 'c\u00e9\u00e7ret', D: 'zzzz' });
    const pieces = ['alpha-secret-1', 'secret-1-beta', 'alpha-secret-1-beta', 'cécret', 'zzzzzzz', Buffer.from('alpha-secret-1').toString('base64'), Buffer.from('secret-1-beta').toString('hex'), encodeURIComponent('cécret'), 'plain text ', '\u0000\u00ff'];
    for (let trial = 0; trial < 200; trial++) {
      const rnd = randomBytes(64);
      const parts: Buffer[] = [];
      for (let i = 0; i < 20; i++) {
        parts.push(i % 3 === 0 ? randomBytes(rnd[i]! % 8) : Buffer.from(pieces[rnd[i]! % pieces.length]!, 'utf8'));
      }
      const data = Buffer.concat(parts);
      const oneShot = rr.redactBytes(data);
      const cuts = [...randomBytes(1 + (rnd[40]! % 6))].map((b) => Math.floor((b / 256) * data.length)).sort((x, y) => x - y);
      const streamed = feed(rr.stream(), splitAt(data, cuts));
      expect(streamed).toBe(oneShot.toString('latin1'));
      expect(oneShot.includes(Buffer.from('alpha-secret-1'))).toBe(false);
      expect(oneShot.includes(Buffer.from('secret-1-beta'))).toBe(false);
    }
  });

  it('keeps independent streams apart, and a flushed stream can be reused', () => {
    const out = r.stream();
    const err = r.stream();
    const o1 = out.push(Buffer.from(SECRET.slice(0, 8)));
    const e1 = err.push(Buffer.from(SECRET.slice(8)));
    const o2 = Buffer.concat([o1, out.push(Buffer.from(SECRET.slice(8))), out.flush()]);
    const e2 = Buffer.concat([e1, err.flush()]);
    expect(o2.toString()).toBe(M);
    expect(e2.toString()).toBe(SECRET.slice(8));
    expect(feed(out, [Buffer.from(`again ${SECRET}`)])).toBe(`again ${M}`);
    expect(out.redactions).toBe(2);
  });

  it("the redactor's own push/flush stream works like any other", () => {
    const rr = new Redactor({ TOKEN: SECRET });
    expect(feed(rr, splitAt(input, [10, 12]))).toBe(expected);
  });

  it('does not alias the input chunk in its output', () => {
    const s = r.stream();
    const chunk = Buffer.alloc(1000, 'y');
    const out = s.push(chunk);
    chunk.fill('z');
    expect(out.every((b) => b === 0x79)).toBe(true);
  });

  it('a long run of overlapping matches stays bounded in memory', () => {
    const rr = new Redactor({ R: 'abab' });
    const s = rr.stream();
    let out = '';
    for (let i = 0; i < 1000; i++) {
      out += s.push(Buffer.from('abababab')).toString();
      expect(s.heldBytes).toBeLessThan(rr.maxPatternLength + 8);
    }
    out += s.flush().toString();
    expect(out).toBe('[REDACTED:R]');
  });
});

describe('redactThroughput', () => {
  it('runs and reports what it measured (speed is reported by the benchmark, not asserted)', () => {
    const res = redactThroughput({ totalBytes: 4 * 1024 * 1024 });
    expect(res.secrets).toBe(20);
    expect(res.bytes).toBe(4 * 1024 * 1024);
    expect(res.redactions).toBeGreaterThan(0);
    expect(res.mbPerSecond).toBeGreaterThan(0);
  });
});

describe('Redactor: against a naive reference', () => {
  /** Every occurrence of every form, overlapping ones merged, named after the leftmost-longest match. */
  function reference(secrets: Record<string, string>, data: Buffer): string {
    const matches: { s: number; e: number; name: string }[] = [];
    for (const [name, value] of Object.entries(secrets)) {
      for (const form of encodedForms(value)) {
        for (let at = data.indexOf(form); at >= 0; at = data.indexOf(form, at + 1)) matches.push({ s: at, e: at + form.length, name });
      }
    }
    matches.sort((a, b) => a.s - b.s || b.e - a.e);
    const regions: { s: number; e: number; name: string }[] = [];
    for (const m of matches) {
      const last = regions.at(-1);
      if (last && m.s < last.e) last.e = Math.max(last.e, m.e);
      else regions.push({ ...m });
    }
    let out = '';
    let at = 0;
    for (const r of regions) {
      out += data.subarray(at, r.s).toString('latin1') + `[REDACTED:${r.name}]`;
      at = r.e;
    }
    return out + data.subarray(at).toString('latin1');
  }

  it('agrees on random text over a tiny alphabet, for every chunking tried', () => {
    const secrets = { A: 'abca', B: 'bcab', C: 'aaaa', D: 'cab-c' };
    const r = new Redactor(secrets);
    for (let trial = 0; trial < 300; trial++) {
      const rnd = randomBytes(80);
      const data = Buffer.from([...rnd].map((b) => 'abc-'.charCodeAt(b % 4)));
      const want = reference(secrets, data);
      expect(r.redactBytes(data).toString('latin1')).toBe(want);
      const cuts = [...randomBytes(4)].map((b) => Math.floor((b / 256) * data.length)).sort((x, y) => x - y);
      expect(feed(r.stream(), splitAt(data, cuts))).toBe(want);
    }
  });
});
