import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted (by UTF-16 code units, like `Array.prototype.sort`) at every level
 * and no whitespace. Object members whose value is `undefined` are left out, as `JSON.stringify`
 * does; `undefined` in an array, non-finite numbers, bigints and functions throw a `TypeError`
 * rather than being silently rewritten. Same output as `canonicalJson` of `@airlock/validate` for
 * JSON values, so policy hashes agree.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} is not representable in JSON`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value
          .map((v: unknown) => {
            if (v === undefined) throw new TypeError('canonicalJson: undefined in an array');
            return canonicalJson(v);
          })
          .join(',')}]`;
      }
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} is not representable in JSON`);
  }
}

/** SHA-256 of bytes (or of a string's UTF-8), lower-case hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(typeof data === 'string' ? Buffer.from(data, 'utf8') : data).digest('hex');
}
