import { Buffer } from 'node:buffer';
import { z } from 'zod';
import { GENESIS_HASH, LogEventSchema, sha256Hex, type LogEvent } from '@airlock/proto';

/**
 * Everything a bundle or a chain check can find wrong, with what it means. `seq` / `index` on a
 * problem name the event concerned (index = position in the list, seq = its place in the run).
 */
export const bundleProblemCodes = {
  format: 'The bundle is not an airlock-bundle version 1 JSON document (or its public key is not ed25519), or a correctly chained event is of a kind this version does not understand.',
  signature: 'The bundle header is not signed by its key, the key id does not match the key, or the key is not the trusted one.',
  missing_event: 'An event of the run is absent: `seq` names the first missing one.',
  modified_event: 'An event\'s bytes are not the ones the chain (or the signed head) commits to: `seq` names the first modified event.',
  out_of_order: 'Events are present but not in log order: `seq`/`index` name the first event out of place.',
  policy_mismatch: 'The policy text does not hash to the bundle\'s policy hash, or an event names another policy.',
  manifest_mismatch: 'A snapshot manifest does not hash to its digest, or a snapshot named by the log has no manifest.',
  wrong_run: 'An event belongs to another run than the bundle\'s.',
} as const;

/** A stable code of {@link BundleProblem}. */
export type BundleProblemCode = keyof typeof bundleProblemCodes;

/** The first thing found wrong with a chain or bundle. */
export interface BundleProblem {
  code: BundleProblemCode;
  /** The run sequence number of the event concerned, when there is one. */
  seq?: number;
  /** Position of the event concerned in the bundle's `events` list, when there is one. */
  index?: number;
  message: string;
}

/** Result of {@link checkChain}. */
export type ChainCheck =
  | {
      ok: true;
      /** Number of events. */
      events: number;
      /** `seq` of the last event (0 when empty). */
      headSeq: number;
      /** {@link chainHash} of the last event's bytes ({@link GENESIS_HASH} when empty). */
      headHash: string;
      /** The parsed events, in order. */
      parsed: LogEvent[];
    }
  | { ok: false; problem: BundleProblem };

/** Options of {@link checkChain}. */
export interface CheckChainOptions {
  /** Every event must belong to this run. Default: the run of the first event. */
  runId?: string;
  /**
   * The signed head of the chain (seq and hash of its last event). Without it, a modification of
   * the last event, or dropped events at the end, cannot be detected.
   */
  head?: { seq: number; hash: string };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The hash that links an event to the next one: SHA-256 of its exact stored bytes, lower-case hex. */
export function chainHash(bytes: Uint8Array): string {
  return sha256Hex(bytes);
}

/**
 * Checks that `events` (the exact stored bytes of each event, in order) form one run's hash chain:
 * each parses as a `LogEvent` of the run, has `seq = index + 1`, and names in `prev` the
 * {@link chainHash} of the previous event's bytes ({@link GENESIS_HASH} for the first); with `head`,
 * the chain must also end exactly at the signed head. Returns the first problem.
 *
 * Attribution, for a single tampering: an event whose own bytes changed still links to its
 * predecessor, but its successor (or the head) no longer links to it, so the break shows one event
 * later; that event is the one reported, not its successor. An event whose seq or run id changed but
 * which still sits in its chain position is reported as modified, not as missing or misplaced.
 * Events are checked against `LogEventSchema` only after the whole chain holds: a correctly chained
 * event this build cannot parse (a newer protocol's event type) is `format`, not `modified_event`.
 */
export function checkChain(events: readonly Uint8Array[], options: CheckChainOptions = {}): ChainCheck {
  const n = events.length;
  const hashes = events.map(chainHash);
  // The chain is checked on the fields it needs; full schema validation comes after, so an event that
  // is chained correctly but of a type this build does not know is not mistaken for a tampered one.
  const parsed = events.map(parseLinks);
  const runId = options.runId ?? parsed[0]?.runId;
  const head = options.head;
  const linkIn = (i: number): boolean => parsed[i]?.prev === (i === 0 ? GENESIS_HASH : hashes[i - 1]);
  // Does what follows event i (the next event's prev, or the signed head) commit to its bytes?
  const linkOut = (i: number): boolean => {
    if (i < n - 1) {
      const next = parsed[i + 1];
      return next === undefined || next.prev === hashes[i];
    }
    return head === undefined || head.hash === hashes[i];
  };
  // Sits in its place after its predecessor, but is not what its successor or the head expects.
  const selfModified = (i: number): boolean => linkIn(i) && !linkOut(i);
  const modified = (index: number, why: string): ChainCheck => ({
    ok: false,
    problem: { code: 'modified_event', seq: index + 1, index, message: `event ${index + 1} was modified: ${why}` },
  });

  for (let i = 0; i < n; i++) {
    const ev = parsed[i];
    if (ev === undefined) return modified(i, 'its bytes are not a log event (JSON with runId, seq and prev)');
    if (ev.runId !== runId) {
      if (selfModified(i)) return modified(i, 'its run id changed after it was chained');
      return { ok: false, problem: { code: 'wrong_run', seq: ev.seq, index: i, message: `event ${i + 1} belongs to run ${ev.runId}, not ${runId}` } };
    }
    if (ev.seq !== i + 1) {
      if (selfModified(i)) return modified(i, `its seq was changed to ${ev.seq}`);
      const later = parsed.slice(i + 1).some((e) => e?.seq === i + 1);
      if (ev.seq > i + 1 && !later) {
        return { ok: false, problem: { code: 'missing_event', seq: i + 1, index: i, message: `event ${i + 1} is missing (found event ${ev.seq} in its place)` } };
      }
      return { ok: false, problem: { code: 'out_of_order', seq: ev.seq, index: i, message: `event ${ev.seq} is at position ${i + 1}` } };
    }
    if (!linkIn(i)) {
      if (i === 0 || !linkOut(i)) return modified(i, i === 0 ? 'the first event does not start the chain' : 'its prev does not name the previous event');
      return modified(i - 1, `its bytes do not hash to the prev named by event ${i + 1}`);
    }
  }

  if (head !== undefined) {
    if (n < head.seq) {
      return { ok: false, problem: { code: 'missing_event', seq: n + 1, index: n, message: `events ${n + 1}..${head.seq} are missing (the signed head is event ${head.seq})` } };
    }
    if (head.seq === 0) {
      if (head.hash !== GENESIS_HASH) return { ok: false, problem: { code: 'format', message: 'the head of an empty chain must be the genesis hash' } };
      if (n > 0) return modified(0, 'it follows the signed head (an empty run)');
    } else if (hashes[head.seq - 1] !== head.hash) {
      return modified(head.seq - 1, 'its bytes do not hash to the signed head');
    } else if (n > head.seq) {
      return modified(head.seq, `it follows the signed head (event ${head.seq})`);
    }
  }

  const full: LogEvent[] = [];
  for (const [i, ev] of parsed.entries()) {
    const r = LogEventSchema.safeParse(ev!.raw);
    if (!r.success) {
      const issue = r.error.issues[0];
      return {
        ok: false,
        problem: {
          code: 'format',
          seq: i + 1,
          index: i,
          message: `event ${i + 1} is correctly chained but is not a log event this version understands (${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}); a newer protocol?`,
        },
      };
    }
    full.push(r.data);
  }

  return {
    ok: true,
    events: n,
    headSeq: n,
    headHash: n === 0 ? GENESIS_HASH : hashes[n - 1]!,
    parsed: full,
  };
}

const LinkFieldsSchema = z.object({ runId: z.string(), seq: z.number().int(), prev: z.string() });

/** The fields the chain needs, and the whole JSON value for the later schema check. */
function parseLinks(bytes: Uint8Array): { runId: string; seq: number; prev: string; raw: unknown } | undefined {
  try {
    const raw: unknown = JSON.parse(utf8.decode(bytes));
    const r = LinkFieldsSchema.safeParse(raw);
    return r.success ? { ...r.data, raw } : undefined;
  } catch {
    return undefined;
  }
}

/** @internal Base64 text to bytes, or undefined if it is not strict base64. */
export function strictBase64(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}
