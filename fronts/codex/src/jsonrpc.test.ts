import { describe, expect, it } from 'vitest';
import { LineSplitter, decodeParams, encodeLine, parseLine, rpcErrorCodes } from './jsonrpc.ts';
import { ProcessReadParamsSchema } from './protocol.ts';

describe('LineSplitter', () => {
  it('joins lines split across chunks and splits several lines in one chunk', () => {
    const s = new LineSplitter();
    expect(s.push(Buffer.from('{"id":1,'))).toEqual([]);
    expect(s.push(Buffer.from('"method":"a"}\n{"method":"b"}\n{"id"'))).toEqual(['{"id":1,"method":"a"}', '{"method":"b"}']);
    expect(s.push(Buffer.from(':2,"method":"c"}\r\n'))).toEqual(['{"id":2,"method":"c"}']);
    expect(s.end()).toEqual([]);
  });

  it('never splits a multi-byte character that straddles two chunks', () => {
    const s = new LineSplitter();
    const bytes = Buffer.from('{"method":"é"}\n');
    const cut = bytes.indexOf(0xc3) + 1;
    expect([...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))]).toEqual(['{"method":"é"}']);
  });

  it('drops an over-long line whole and keeps the next one', () => {
    const s = new LineSplitter(16);
    const out = [...s.push(Buffer.from('x'.repeat(10))), ...s.push(Buffer.from('y'.repeat(10) + '\n{"method":"ok"}\n'))];
    expect(out).toEqual([{ tooLong: 20 }, '{"method":"ok"}']);
  });

  it('hands out a last line without a newline at the end', () => {
    const s = new LineSplitter();
    s.push(Buffer.from('{"method":"last"}'));
    expect(s.end()).toEqual(['{"method":"last"}']);
  });
});

describe('parseLine', () => {
  it('reads requests and notifications', () => {
    expect(parseLine('{"id":3,"method":"process/read","params":{"processId":"p"}}')).toEqual({ ok: true, message: { id: 3, method: 'process/read', params: { processId: 'p' } } });
    expect(parseLine('{"method":"initialized","params":{}}')).toEqual({ ok: true, message: { method: 'initialized', params: {} } });
  });

  it('answers what is not JSON-RPC with the standard codes, keeping the id when it can read one', () => {
    expect(parseLine('not json')).toEqual({ ok: false, reply: { id: null, error: { code: rpcErrorCodes.parseError, message: 'not JSON' } } });
    const noMethod = parseLine('{"id":7,"params":{}}');
    expect(noMethod.ok).toBe(false);
    if (!noMethod.ok) expect(noMethod.reply).toMatchObject({ id: 7, error: { code: rpcErrorCodes.invalidRequest } });
    const tooLong = parseLine({ tooLong: 99 });
    if (!tooLong.ok) expect(tooLong.reply).toMatchObject({ id: null, error: { code: rpcErrorCodes.invalidRequest } });
  });

  it('writes one line per message, without a jsonrpc member (as Codex sends and reads them)', () => {
    expect(encodeLine({ id: 1, result: { sessionId: 's' } })).toBe('{"id":1,"result":{"sessionId":"s"}}\n');
  });
});

describe('decodeParams', () => {
  it('names the bad field', () => {
    expect(() => decodeParams('process/read', ProcessReadParamsSchema, { afterSeq: 1 })).toThrow(/invalid params for process\/read.*processId/s);
    expect(decodeParams('process/read', ProcessReadParamsSchema, { processId: 'p', afterSeq: null, maxBytes: null, waitMs: 0 })).toEqual({ processId: 'p', afterSeq: null, maxBytes: null, waitMs: 0 });
  });
});
