import { describe, expect, it } from 'vitest';
import { outputBytes, outputFields } from './index.ts';

describe('output chunks in the log', () => {
  it('carry valid UTF-8 as text and anything else as base64, and give back the exact bytes', () => {
    const euro = Buffer.from('price: 5 €\n');
    // A character split across two chunks is not valid UTF-8 on its own: that chunk goes as base64.
    const cases = [Buffer.from('plain ascii\n'), euro, euro.subarray(0, euro.length - 2), Buffer.from([0, 255, 254, 10]), Buffer.alloc(0)];
    expect(cases.map((b) => Object.keys(outputFields(b))[0])).toEqual(['text', 'text', 'data', 'data', 'text']);
    for (const b of cases) expect(outputBytes(outputFields(b)).equals(b)).toBe(true);
  });
});
