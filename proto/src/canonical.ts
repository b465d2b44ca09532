// The hash rules every side agrees on: canonical JSON and SHA-256 hex. They live in proto because
// every package that hashes (validate: policy hash; trust: job tokens, hash chain, bundles; ledger:
// the writer's chain) already imports proto, and proto has no I/O: hashing bytes is computation.
// One home, so the harness, the runner and an offline verifier cannot drift apart.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';

/**
 * Canonical JSON: the one byte form of a JSON value that Airlock hashes and signs (policy hash,
 * job tokens, proof bundle headers).
 *
 * - Object keys are sorted at every level by UTF-16 code units (`Array.prototype.sort` order;
 *   so `"😀"` sorts before `"\uffff"`), no whitespace anywhere.
 * - Strings are written as `JSON.stringify` writes them: no Unicode normalization, lone
 *   surrogates escaped as `\udXXX`, so the text is always well-formed UTF-8.
 * - Object members whose value is `undefined` are left out (as `JSON.stringify` does): an
 *   optional field that is absent and one that is `undefined` hash the same.
 *
 * Fails closed: anything JSON cannot represent faithfully throws a `TypeError` instead of being
 * rewritten (`JSON.stringify` would write `NaN`, `Infinity` and `undefined` in arrays as `null`,
 * a `Date` through its `toJSON`, and a `Map` or typed array as `{}` or an index object), because
 * two values that hash alike must be the same value: `NaN`, `±Infinity`, `undefined` on its own
 * or in an array (holes too), bigints, functions, symbols, and objects that are not plain (class
 * instances, `Date`, `Map`, `Buffer`, …). A `TypeError`, like `JSON.stringify`'s own for a bigint:
 * callers pass parsed wire or policy values, so reaching this is a bug, not bad input.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} has no JSON form`);
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        const parts: string[] = [];
        // An index loop, not map(): map skips holes and would write `[,1]`.
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (item === undefined) throw new TypeError(`canonicalJson: undefined (or a hole) at array index ${i}`);
          parts.push(canonicalJson(item));
        }
        return `[${parts.join(',')}]`;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new TypeError(`canonicalJson: a ${(value as object).constructor?.name ?? 'non-plain object'} has no canonical JSON form; pass a plain object`);
      }
      const members = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} has no JSON form`);
  }
}

/** SHA-256 of bytes, or of a string's UTF-8, as 64 lower-case hex digits. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(typeof data === 'string' ? Buffer.from(data, 'utf8') : data).digest('hex');
}
