import type { NatsHandles } from '@airlock/transport';
import type { HarnessConfig } from './config.ts';
import type { Logger } from './logger.ts';

/**
 * What every room of the harness shares: its configuration, its NATS connection, its logger, and a
 * place to hand background work (kept until it settles, awaited on drain, a failure logged).
 */
export interface HarnessContext {
  readonly cfg: HarnessConfig;
  readonly nats: NatsHandles;
  readonly log: Logger;
  track(p: Promise<unknown>): void;
}
