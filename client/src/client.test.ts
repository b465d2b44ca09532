import { describe, expect, it } from 'vitest';
import { AirlockError, errorCodes, type ErrorCode } from '@airlock/proto';
import { ApprovalRequiredError, HarnessLostError, PolicyDeniedError, RunnerLostError, fromWire, refine } from './errors.ts';
import { splitCredentials } from './connection.ts';
import { TailBuffer } from './output.ts';
import { withRetry } from './retry.ts';

describe('errors', () => {
  it('turns every wire code into an AirlockError with that code, the typed ones into their class', () => {
    for (const code of Object.keys(errorCodes) as ErrorCode[]) {
      const err = fromWire({ code, message: `a ${code}`, retryable: errorCodes[code].retryable, data: { step: 3, rule: 'r.x', reason: 'why' } });
      expect(err).toBeInstanceOf(AirlockError);
      expect([err.code, err.retryable, err.message]).toEqual([code, errorCodes[code].retryable, `a ${code}`]);
    }
    const denied = fromWire({ code: 'validation_denied', message: 'no', retryable: false, data: { step: 3, rule: 'exec.remote_code', reason: 'pipes a download into a shell', span: { start: 0, end: 4 } } });
    expect(denied).toBeInstanceOf(PolicyDeniedError);
    expect(denied).toMatchObject({ name: 'PolicyDeniedError', step: 3, rule: 'exec.remote_code', reason: 'pipes a download into a shell', span: { start: 0, end: 4 } });
    expect(fromWire({ code: 'validation_ask', message: 'held', retryable: false, data: { step: 2, rule: 'secrets.read' } })).toMatchObject({ name: 'ApprovalRequiredError', step: 2, rule: 'secrets.read' });
    expect(fromWire({ code: 'runner_lost', message: 'gone', retryable: true })).toBeInstanceOf(RunnerLostError);
    expect(fromWire({ code: 'harness_lost', message: 'gone', retryable: true })).toBeInstanceOf(HarnessLostError);
  });

  it('refines a base AirlockError into its class, keeps everything else as it is', () => {
    const cause = new Error('root');
    const typed = refine(new AirlockError('validation_ask', 'held', { cause, data: { step: 9 } }));
    expect(typed).toBeInstanceOf(ApprovalRequiredError);
    expect(typed).toMatchObject({ step: 9, cause });
    const plain = new AirlockError('timeout', 'slow');
    expect(refine(plain)).toBe(plain);
    const other = new TypeError('x');
    expect(refine(other)).toBe(other);
  });
});

describe('splitCredentials', () => {
  it('takes user and password out of URLs, keeps plain ones, splits a comma list', () => {
    expect(splitCredentials('nats://client:p%40ss@127.0.0.1:4222')).toEqual({ servers: ['nats://127.0.0.1:4222'], user: 'client', pass: 'p@ss' });
    expect(splitCredentials('nats://a:1,nats://b:2')).toEqual({ servers: ['nats://a:1', 'nats://b:2'] });
    expect(splitCredentials(['nats://u@h:1'])).toEqual({ servers: ['nats://h:1'], user: 'u' });
  });
});

describe('TailBuffer', () => {
  it('keeps the last bytes and counts what it dropped', () => {
    const t = new TailBuffer(5);
    t.push(Buffer.from('abc'));
    t.push(Buffer.from('defg'));
    expect([t.text(), t.dropped]).toEqual(['cdefg', 2]);
    t.push(Buffer.from('0123456789'));
    expect([t.text(), t.dropped]).toEqual(['56789', 12]);
    const none = new TailBuffer(0);
    none.push(Buffer.from('xyz'));
    expect([none.text(), none.dropped]).toEqual(['', 3]);
  });
});

describe('withRetry', () => {
  it('retries retryable codes with backoff until one succeeds', async () => {
    const seen: number[] = [];
    const result = await withRetry(
      async (attempt) => {
        seen.push(attempt);
        if (attempt < 3) throw new AirlockError('no_harness', 'not yet');
        return 'ok';
      },
      { baseDelayMs: 1 },
    );
    expect([result, seen]).toEqual(['ok', [1, 2, 3]]);
  });

  it('throws a non-retryable code at once, and the last error when attempts run out', async () => {
    let calls = 0;
    await expect(withRetry(async () => {
      calls++;
      throw new PolicyDeniedError('denied', { rule: 'x' });
    })).rejects.toBeInstanceOf(PolicyDeniedError);
    expect(calls).toBe(1);
    calls = 0;
    await expect(withRetry(async () => {
      calls++;
      throw new AirlockError('timeout', `try ${calls}`);
    }, { attempts: 3, baseDelayMs: 1 })).rejects.toMatchObject({ code: 'timeout', message: 'try 3' });
    await expect(withRetry(async () => {
      throw new TypeError('a bug, not a wire failure');
    })).rejects.toBeInstanceOf(TypeError);
  });

  it('stops waiting between tries when the signal aborts', async () => {
    const abort = new AbortController();
    const t0 = Date.now();
    const p = withRetry(async () => {
      throw new AirlockError('capacity_exhausted', 'full');
    }, { baseDelayMs: 10_000, signal: abort.signal });
    setTimeout(() => abort.abort(), 50);
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
