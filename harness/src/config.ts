import { z } from 'zod';

const GiB = 1024 * 1024 * 1024;

/** Harness configuration, read once (flags win over environment). Units are in the names. */
export const HarnessConfigSchema = z.object({
  /** NATS URL(s), comma-separated. Env AIRLOCK_NATS_URL. */
  natsUrl: z.string().min(1).default('nats://127.0.0.1:4222'),
  /** Image for runs that name none. Env AIRLOCK_IMAGE. */
  defaultImage: z.string().default('airlock/sandbox:default'),
  /** Where the workspace appears inside sandboxes. */
  mountPath: z.string().default('/workspace'),
  /** Per-step timeout when a request names none. Env AIRLOCK_STEP_TIMEOUT_MS. */
  stepTimeoutMs: z.coerce.number().int().positive().default(10 * 60 * 1000),
  /** How long an open waits for a runner with a free slot. Env AIRLOCK_OPEN_TIMEOUT_MS. */
  openTimeoutMs: z.coerce.number().int().positive().default(30_000),
  /** Sandbox limits for every run (policy-as-code takes these over). */
  limits: z
    .object({
      memoryBytes: z.number().int().positive().default(2 * GiB),
      pids: z.number().int().positive().default(512),
      nanoCpus: z.number().int().positive().default(1_000_000_000),
      tmpfsBytes: z.number().int().positive().default(1 * GiB),
    })
    .default({ memoryBytes: 2 * GiB, pids: 512, nanoCpus: 1_000_000_000, tmpfsBytes: 1 * GiB }),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type HarnessConfig = z.infer<typeof HarnessConfigSchema>;

export function loadHarnessConfig(flags: { nats?: string | undefined; logLevel?: string | undefined }, env: NodeJS.ProcessEnv): HarnessConfig {
  return HarnessConfigSchema.parse({
    natsUrl: flags.nats ?? env.AIRLOCK_NATS_URL,
    defaultImage: env.AIRLOCK_IMAGE,
    stepTimeoutMs: env.AIRLOCK_STEP_TIMEOUT_MS,
    openTimeoutMs: env.AIRLOCK_OPEN_TIMEOUT_MS,
    logLevel: flags.logLevel ?? env.AIRLOCK_LOG_LEVEL,
  });
}
