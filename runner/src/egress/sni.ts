// Reads the server name (SNI) a TLS client asks for from its first handshake record, so the egress
// proxy can refuse a tunnel whose TLS names a host other than the one the CONNECT named (the
// allowlist decided on the CONNECT name; a mismatching SNI is someone reaching a different virtual
// host behind an allowed address, e.g. domain fronting).

/** What the first bytes of a tunnel say. */
export type HelloScan =
  | { kind: 'more' }
  | { kind: 'not_tls' }
  | { kind: 'tls'; serverName: string | null }
  | { kind: 'malformed'; reason: string };

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
/** The largest first record read before giving up (a ClientHello is far smaller). */
export const MAX_HELLO_BYTES = 16 * 1024 + 5;

/**
 * Scans the bytes a client sent first. `more`: the record is not complete yet. A ClientHello split
 * over several records is `malformed` (no client does that for a first flight that fits one record).
 */
export function scanClientHello(buf: Buffer): HelloScan {
  if (buf.length === 0) return { kind: 'more' };
  if (buf[0] !== HANDSHAKE) return { kind: 'not_tls' };
  if (buf.length < 5) return { kind: 'more' };
  const recordLen = buf.readUInt16BE(3);
  if (recordLen + 5 > MAX_HELLO_BYTES) return { kind: 'malformed', reason: 'TLS record too large for a ClientHello' };
  if (buf.length < 5 + recordLen) return { kind: 'more' };
  try {
    return { kind: 'tls', serverName: serverNameOf(buf.subarray(5, 5 + recordLen)) };
  } catch (err) {
    return { kind: 'malformed', reason: (err as Error).message };
  }
}

function serverNameOf(hs: Buffer): string | null {
  const r = new Reader(hs);
  if (r.u8() !== CLIENT_HELLO) throw new Error('first TLS handshake message is not a ClientHello');
  const len = r.u24();
  const body = new Reader(r.take(len));
  body.take(2 + 32); // version, random
  body.take(body.u8()); // session id
  body.take(body.u16()); // cipher suites
  body.take(body.u8()); // compression methods
  if (body.left() === 0) return null;
  const exts = new Reader(body.take(body.u16()));
  while (exts.left() > 0) {
    const type = exts.u16();
    const data = new Reader(exts.take(exts.u16()));
    if (type !== EXT_SERVER_NAME) continue;
    const list = new Reader(data.take(data.u16()));
    while (list.left() > 0) {
      const nameType = list.u8();
      const name = list.take(list.u16());
      if (nameType === 0) return name.toString('ascii').toLowerCase();
    }
    return null;
  }
  return null;
}

class Reader {
  #at = 0;
  readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  left(): number {
    return this.buf.length - this.#at;
  }
  take(n: number): Buffer {
    if (n > this.left()) throw new Error('truncated ClientHello');
    const out = this.buf.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
  u8(): number {
    return this.take(1)[0]!;
  }
  u16(): number {
    return this.take(2).readUInt16BE(0);
  }
  u24(): number {
    const b = this.take(3);
    return (b[0]! << 16) | (b[1]! << 8) | b[2]!;
  }
}
