import { describe, expect, it } from 'vitest';
import { AirlockError, WireErrorSchema, errorCodes, toWireError, type ErrorCode } from './errors.ts';
import { decode, decodeReply, encode } from './codec.ts';
import { z } from 'zod';

describe('the error table', () => {
  const codes = Object.keys(errorCodes) as ErrorCode[];

  it('documents every code and round-trips each through the wire schema', () => {
    for (const code of codes) {
      expect(errorCodes[code].doc.length).toBeGreaterThan(10);
      const err = new AirlockError(code, `a ${code}`, { data: { n: 1 } });
      const wire = WireErrorSchema.parse(JSON.parse(new TextDecoder().decode(encode(err.toWire()))));
      expect(wire).toEqual({ code, message: `a ${code}`, retryable: errorCodes[code].retryable, data: { n: 1 } });
      const back = AirlockError.fromWire(wire);
      expect(back).toBeInstanceOf(AirlockError);
      expect([back.code, back.retryable, back.message]).toEqual([code, errorCodes[code].retryable, `a ${code}`]);
    }
  });

  it('turns unknown failures into retryable internal errors', () => {
    expect(toWireError(new Error('boom'))).toEqual({ code: 'internal', message: 'boom', retryable: true });
    expect(toWireError('text')).toMatchObject({ code: 'internal', message: 'text' });
  });
});

describe('decode', () => {
  const S = z.object({ v: z.literal(1), name: z.string() });

  it('parses a valid message', () => {
    expect(decode(S, encode({ v: 1, name: 'x' }))).toEqual({ v: 1, name: 'x' });
  });

  it.each([
    ['not JSON', new TextEncoder().encode('{nope')],
    ['invalid UTF-8', new Uint8Array([0xff, 0xfe])],
    ['wrong version', encode({ v: 2, name: 'x' })],
    ['missing field', encode({ v: 1 })],
    ['an array', encode([])],
  ])('rejects %s with bad_request', (_, bytes) => {
    expect(() => decode(S, bytes)).toThrow(expect.objectContaining({ code: 'bad_request' }));
  });

  it('unwraps replies and rethrows carried errors with their code', () => {
    expect(decodeReply(z.number(), encode({ ok: true, result: 3 }))).toBe(3);
    expect(() => decodeReply(z.number(), encode({ ok: false, error: { code: 'unknown_run', message: 'no', retryable: false } }))).toThrow(
      expect.objectContaining({ code: 'unknown_run' }),
    );
    expect(() => decodeReply(z.number(), encode({ ok: true, result: 'x' }))).toThrow(expect.objectContaining({ code: 'bad_request' }));
  });
});
