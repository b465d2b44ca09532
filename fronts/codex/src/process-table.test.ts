import { describe, expect, it } from 'vitest';
import { ProcessTable } from './process-table.ts';

function table() {
  const sent: Array<{ method: string; params: Record<string, unknown> }> = [];
  return { sent, t: new ProcessTable((method, params) => sent.push({ method, params })) };
}

describe('ManagedProcess', () => {
  it('numbers output, then exited, then closed, and notifies each', () => {
    const { sent, t } = table();
    const p = t.create('p1');
    p.output('stdout', Buffer.from('a'));
    p.output('stderr', Buffer.from('b'));
    p.finish(3);
    expect(sent.map((s) => [s.method, s.params.seq])).toEqual([['process/output', 1], ['process/output', 2], ['process/exited', 3], ['process/closed', 4]]);
    expect(sent[2]!.params.exitCode).toBe(3);
  });

  it('reads after a seq, within a byte budget, always at least one chunk', async () => {
    const { t } = table();
    const p = t.create('p');
    for (const s of ['aaaa', 'bbbb', 'cccc']) p.output('stdout', Buffer.from(s));
    const first = await p.read({ afterSeq: 0, maxBytes: 5 });
    expect(first.chunks.map((c) => Buffer.from(c.chunk, 'base64').toString())).toEqual(['aaaa']);
    expect(first.nextSeq).toBe(2);
    const rest = await p.read({ afterSeq: first.nextSeq - 1, maxBytes: 1 });
    expect(rest.chunks.map((c) => c.seq)).toEqual([2]);
    const none = await p.read({ afterSeq: 3 });
    expect([none.chunks, none.nextSeq, none.exited]).toEqual([[], 4, false]);
  });

  it('a long poll wakes on new output or on the end, and times out otherwise', async () => {
    const { t } = table();
    const p = t.create('p');
    const t0 = Date.now();
    const waited = await p.read({ afterSeq: 0, waitMs: 50 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(waited.chunks).toEqual([]);
    const pending = p.read({ afterSeq: 0, waitMs: 60_000 });
    setTimeout(() => p.output('stdout', Buffer.from('x')), 10);
    expect((await pending).chunks).toHaveLength(1);
    const ending = p.read({ afterSeq: 1, waitMs: 60_000 });
    setTimeout(() => p.finish(0, null), 10);
    expect(await ending).toMatchObject({ exited: true, closed: true, exitCode: 0, nextSeq: 4 });
  });

  it('carries a failure text, and ignores output after the end', async () => {
    const { sent, t } = table();
    const p = t.create('p');
    p.finish(126, 'denied');
    p.output('stdout', Buffer.from('late'));
    expect(await p.read({})).toMatchObject({ exitCode: 126, failure: 'denied', chunks: [] });
    expect(sent.filter((s) => s.method === 'process/output')).toEqual([]);
  });

  it('refuses a reused id and names an unknown one', () => {
    const { t } = table();
    t.create('p');
    expect(() => t.create('p')).toThrow(/already in use/);
    expect(() => t.get('q')).toThrow(/unknown process q/);
  });
});
