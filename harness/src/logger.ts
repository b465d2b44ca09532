import { pino, type Logger } from 'pino';

/** Operational log (stderr), never the run log. Secret-bearing fields are redacted by path. */
export function createLogger(level: string): Logger {
  return pino({ name: 'airlock-harness', level, redact: { paths: ['env', '*.env', 'secrets', '*.secrets'], censor: '[redacted]' } }, pino.destination(2));
}
export type { Logger };
