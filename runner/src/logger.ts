import { pino, type Logger } from 'pino';

/** Operational log (stderr). The durable run log is JetStream, not this. */
export function createLogger(level: string, runnerId: string): Logger {
  return pino(
    { name: 'airlock-runner', level, base: { runnerId }, redact: { paths: ['env', '*.env', 'req.env', 'secrets', '*.secrets', 'token', '*.token'], censor: '[redacted]' } },
    pino.destination(2),
  );
}
export type { Logger };
