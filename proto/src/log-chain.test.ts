import { describe, expect, it } from 'vitest';
import { sha256Hex } from './canonical.ts';
import { AirlockError } from './errors.ts';
import { LogChain } from './log-chain.ts';
import { GENESIS_HASH } from './messages/log.ts';

const RUN = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

/** A well-formed chain of `n` events as stored bytes. */
function chain(n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const bytes = enc({ v: 1, runId: RUN, seq, ts: '2026-12-01T00:00:00.000Z', by: 'harness', prev, type: 'access.denied', subject: 's', reason: `r${seq}` });
    out.push(bytes);
    prev = sha256Hex(bytes);
  }
  return out;
}

function readAll(events: readonly Uint8Array[], fromStart = true): 'ok' | string {
  const c = new LogChain(RUN, { fromStart });
  try {
    for (const e of events) c.next(e);
    return 'ok';
  } catch (err) {
    return err instanceof AirlockError ? err.code : String(err);
  }
}

describe('LogChain', () => {
  it('accepts an intact log, and one read from the middle', () => {
    const log = chain(12);
    expect(readAll(log)).toBe('ok');
    expect(readAll(log.slice(5), false)).toBe('ok');
    // Read from the start, a log that does not begin at seq 1 on the genesis hash is broken.
    expect(readAll(log.slice(5))).toBe('verification_failed');
  });

  it('finds every dropped, doubled, swapped or changed event (all members of each family on a 12-event log)', () => {
    const log = chain(12);
    const broken: Uint8Array[][] = [];
    for (let i = 0; i < log.length; i++) {
      // Dropping the last event leaves a shorter log, not a broken one: completeness is the tail's job.
      if (i + 1 < log.length) broken.push(log.filter((_, j) => j !== i)); // dropped
      broken.push([...log.slice(0, i + 1), log[i]!, ...log.slice(i + 1)]); // doubled
      if (i + 1 < log.length) broken.push([...log.slice(0, i), log[i + 1]!, log[i]!, ...log.slice(i + 2)]); // swapped
      const changed = JSON.parse(new TextDecoder().decode(log[i])) as { reason: string };
      changed.reason += 'x';
      if (i + 1 < log.length) broken.push([...log.slice(0, i), enc(changed), ...log.slice(i + 1)]); // changed, then followed
    }
    expect(broken).toHaveLength(11 + 12 + 11 + 11);
    for (const b of broken) expect(readAll(b)).toBe('verification_failed');
  });
});
