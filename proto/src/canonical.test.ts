// The agreed bytes of Airlock's hash rules (issue 11, point 8): golden vectors for canonicalJson and
// sha256Hex. Every package hashes through these two functions; a change here is a protocol change.
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex } from './index.ts';

describe('canonicalJson golden vectors', () => {
  const vectors: Array<[string, unknown, string]> = [
    ['keys sorted at every level, undefined members dropped, no whitespace',
      { b: 1, a: { d: [3, { z: null, y: 'x' }], c: undefined } }, '{"a":{"d":[3,{"y":"x","z":null}]},"b":1}'],
    ['keys sorted by UTF-16 code units (an astral character before U+FFFF)',
      { '\uffff': 1, '😀': 2, 'é': 3, B: 4, a: 5, '': 6 }, '{"":6,"B":4,"a":5,"é":3,"😀":2,"\uffff":1}'],
    ['strings as JSON.stringify writes them: escapes, no normalization, lone surrogates escaped',
      ['line\n"q"\\', '\u0000\u001f', 'e\u0301', 'é', '\ud800', '\u2028'], '["line\\n\\"q\\"\\\\","\\u0000\\u001f","e\u0301","é","\\ud800","\u2028"]'],
    ['numbers in their shortest JSON form; -0 is 0',
      [0, -0, 1, -1.5, 0.1, 1e21, 1.5e-7, Number.MAX_SAFE_INTEGER], '[0,0,1,-1.5,0.1,1e+21,1.5e-7,9007199254740991]'],
    ['scalars and empty containers', [null, true, false, '', [], {}], '[null,true,false,"",[],{}]'],
    ['an object without a prototype is a plain object', Object.assign(Object.create(null) as object, { b: 2, a: 1 }), '{"a":1,"b":2}'],
  ];
  for (const [what, value, bytes] of vectors) {
    it(what, () => expect(canonicalJson(value)).toBe(bytes));
  }

  it('absent and undefined members hash the same', () => {
    expect(sha256Hex(canonicalJson({ a: 1, b: undefined }))).toBe(sha256Hex(canonicalJson({ a: 1 })));
  });

  it('the hash of a vector (checked against sha256sum)', () => {
    expect(sha256Hex(canonicalJson({ b: 1, a: { d: [3, { z: null, y: 'x' }], c: undefined } }))).toBe('c5918ff7a498143d9cf482a97a482b81f20d60a4cdf53cf62bcedcbb014e7c91');
  });

  it('fails closed on what JSON cannot represent faithfully (never writes null or {} for it)', () => {
    const bad: Array<[string, unknown]> = [
      ['NaN', Number.NaN],
      ['Infinity', Infinity],
      ['-Infinity', -Infinity],
      ['NaN in an object', { a: Number.NaN }],
      ['undefined', undefined],
      ['undefined in an array', [1, undefined]],
      ['a hole in an array', [, 1]],
      ['bigint', 1n],
      ['function', () => 1],
      ['symbol', Symbol('s')],
      ['Date', new Date(0)],
      ['Map', new Map([['a', 1]])],
      ['Buffer', Buffer.from('a')],
      ['class instance', new (class Point { x = 1; })()],
    ];
    for (const [what, value] of bad) expect(() => canonicalJson(value), what).toThrow(TypeError);
  });
});

describe('sha256Hex', () => {
  it('standard vector', () => expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'));
  it('hashes strings as UTF-8, the same as their bytes', () => {
    expect(sha256Hex('é')).toBe('4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c');
    expect(sha256Hex(new Uint8Array([0xc3, 0xa9]))).toBe(sha256Hex('é'));
  });
});
