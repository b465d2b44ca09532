import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { Redactor } from './redact.ts';

/** Options of {@link redactThroughput}. */
export interface RedactThroughputOptions {
  /** Number of secrets (random 24..40 character tokens). Default 20. */
  secrets?: number;
  /** Size of each pushed chunk, in bytes. Default 64 KiB. */
  chunkBytes?: number;
  /** Total bytes pushed (after warm-up). Default 256 MiB. */
  totalBytes?: number;
  /** One secret (raw or base64) is planted about every this many bytes. Default 64 KiB. */
  plantEveryBytes?: number;
}

/** What {@link redactThroughput} measured. */
export interface RedactThroughputResult {
  /** Input bytes per second / 1e6. */
  mbPerSecond: number;
  bytes: number;
  ms: number;
  secrets: number;
  patterns: number;
  states: number;
  maxPatternLength: number;
  redactions: number;
}

/**
 * Measures streaming redaction speed on log-like text (printable ASCII lines) with secrets and their
 * base64 forms planted in it, pushed in fixed-size chunks. CPU only; takes about a second with the
 * defaults. Reported by the benchmark suite, not asserted by unit tests.
 */
export function redactThroughput(options: RedactThroughputOptions = {}): RedactThroughputResult {
  const nSecrets = options.secrets ?? 20;
  const chunkBytes = options.chunkBytes ?? 64 * 1024;
  const totalBytes = options.totalBytes ?? 256 * 1024 * 1024;
  const plantEvery = options.plantEveryBytes ?? 64 * 1024;
  const secrets: Record<string, string> = {};
  for (let i = 0; i < nSecrets; i++) {
    secrets[`SECRET_${i}`] = randomBytes(30).toString('base64url').slice(0, 24 + (i % 17));
  }
  const values = Object.values(secrets);
  const redactor = new Redactor(secrets);
  // 16 distinct chunks of log-like text, cycled, so generation does not dominate the measurement.
  const alphabet = Buffer.from('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-_/=+[]{}"\'');
  const chunks: Buffer[] = [];
  for (let c = 0; c < 16; c++) {
    const buf = Buffer.alloc(chunkBytes);
    const rnd = randomBytes(chunkBytes);
    for (let i = 0; i < chunkBytes; i++) buf[i] = i % 97 === 96 ? 0x0a : alphabet[rnd[i]! % alphabet.length]!;
    for (let at = (c * 7919) % plantEvery; at + 64 < chunkBytes; at += plantEvery) {
      const v = values[(at + c) % values.length]!;
      const form = c % 2 === 0 ? Buffer.from(v) : Buffer.from(Buffer.from(v).toString('base64'));
      form.copy(buf, at);
    }
    chunks.push(buf);
  }
  const stream = redactor.stream();
  for (let i = 0; i < 64; i++) stream.push(chunks[i % chunks.length]!); // warm-up (JIT)
  stream.flush();
  const rounds = Math.max(1, Math.floor(totalBytes / chunkBytes));
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) stream.push(chunks[i % chunks.length]!);
  stream.flush();
  const ms = performance.now() - t0;
  const bytes = rounds * chunkBytes;
  return {
    mbPerSecond: bytes / 1e6 / (ms / 1000),
    bytes,
    ms,
    secrets: nSecrets,
    patterns: redactor.patternCount,
    states: redactor.automatonStates,
    maxPatternLength: redactor.maxPatternLength,
    redactions: stream.redactions,
  };
}
