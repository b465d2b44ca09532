import { z } from 'zod';

/** Harness configuration, read once (flags win over environment). Units are in the names. */
export const HarnessConfigSchema = z.object({
  /** NATS URL(s), comma-separated. Env AIRLOCK_NATS_URL. */
  natsUrl: z.string().min(1).default('nats://127.0.0.1:4222'),
  /** Image for runs that name none. Env AIRLOCK_IMAGE. */
  defaultImage: z.string().default('airlock/sandbox:default'),
  /** Where the workspace appears inside sandboxes; when absent, the policy's `workspace`. */
  mountPath: z.string().optional(),
  /** Per-step timeout when a request names none; when absent, the policy's. Env AIRLOCK_STEP_TIMEOUT_MS. */
  stepTimeoutMs: z.coerce.number().int().positive().optional(),
  /** How long an open waits for a runner with a free slot. Env AIRLOCK_OPEN_TIMEOUT_MS. */
  openTimeoutMs: z.coerce.number().int().positive().default(30_000),
  /** How long one runner may take to prepare a run (large workspaces: ownership and first snapshot). */
  openRequestTimeoutMs: z.coerce.number().int().positive().default(10 * 60 * 1000),
  /** Policy file (YAML or JSON); the shipped default policy when absent. Env AIRLOCK_POLICY. */
  policyFile: z.string().optional(),
  /** Sandbox limits; when absent, the policy's. (Tests use small ones.) */
  limits: z
    .object({
      memoryBytes: z.number().int().positive(),
      pids: z.number().int().positive(),
      nanoCpus: z.number().int().positive(),
      tmpfsBytes: z.number().int().positive(),
    })
    .optional(),
  /** A runner silent for longer than this is lost; its runs move to other runners. Env AIRLOCK_RUNNER_LOST_MS. */
  runnerLostMs: z.coerce.number().int().positive().default(3500),
  /**
   * The harness's ed25519 signing key (PKCS#8 PEM, mode 0600), made on first start; its public key is
   * written beside it as `<file>.pub` (raw base64) for runners. Env AIRLOCK_HARNESS_KEY_FILE.
   */
  keyFile: z.string().min(1),
  /** Where the public key is written for runners [`<keyFile>.pub`]. Env AIRLOCK_HARNESS_PUBKEY_FILE. */
  publicKeyFile: z.string().min(1).optional(),
  /** Directory of secret files (name = secret name, mode 0600). Env AIRLOCK_SECRETS_DIR. */
  secretsDir: z.string().min(1),
  /**
   * The runners' pinned public keys (`{"runners":[{runnerId, nkey, curve}]}`, written by \`./airlock up\`
   * or \`deploy/credentials.ts\`). Only these runners get runs and secrets, and their replies and log
   * events must carry their signatures. Absent: keys are pinned on first sight (development NATS
   * without users only). Env AIRLOCK_RUNNERS_FILE.
   */
  runnersFile: z.string().min(1).optional(),
  /** Replicas of the streams and buckets (3 on a NATS cluster). Env AIRLOCK_REPLICAS. */
  replicas: z.coerce.number().int().min(1).max(5).default(1),
  /**
   * `required`: every API request must carry a credential signed by this harness (`./airlock up`
   * makes one per role); its role is checked against the verb and its principal recorded as the
   * actor. `open`: a request without one is trusted as an admin named by what it states (a
   * development NATS without users, where anyone may publish anything anyway); logged at start.
   * Env AIRLOCK_AUTH.
   */
  auth: z.enum(['required', 'open']).default('open'),
  /**
   * An operator-mode NATS deployment's keys (`<credentials>/harness/nats-authority.json`): with
   * `natsSystemUrl`, the harness mints each run's log grant for the runner that holds it and
   * revokes it on a move or close (`natsauth/`). Env AIRLOCK_NATS_AUTHORITY_FILE.
   */
  natsAuthorityFile: z.string().min(1).optional(),
  /** NATS URL with the harness's system-account login (`JWT:SEED@`): pushes revocations. Env AIRLOCK_NATS_SYSTEM_URL. */
  natsSystemUrl: z.string().min(1).optional(),
  /** Lifetime of the per-run log reader users minted for agents (`natsauth/reader-desk.ts`); clients renew at half. Env AIRLOCK_READER_TTL_MS. */
  readerTtlMs: z.coerce.number().int().min(2000).default(3600_000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type HarnessConfig = z.infer<typeof HarnessConfigSchema>;

export function loadHarnessConfig(
  flags: { nats?: string | undefined; logLevel?: string | undefined; policy?: string | undefined; keyFile?: string | undefined; secretsDir?: string | undefined },
  env: NodeJS.ProcessEnv,
): HarnessConfig {
  const home = env.AIRLOCK_HOME ?? `${env.HOME ?? '/root'}/.airlock`;
  return HarnessConfigSchema.parse({
    keyFile: flags.keyFile ?? env.AIRLOCK_HARNESS_KEY_FILE ?? `${home}/harness/key.pem`,
    secretsDir: flags.secretsDir ?? env.AIRLOCK_SECRETS_DIR ?? `${home}/secrets`,
    publicKeyFile: env.AIRLOCK_HARNESS_PUBKEY_FILE,
    natsUrl: flags.nats ?? env.AIRLOCK_NATS_URL,
    policyFile: flags.policy ?? env.AIRLOCK_POLICY,
    defaultImage: env.AIRLOCK_IMAGE,
    stepTimeoutMs: env.AIRLOCK_STEP_TIMEOUT_MS,
    openTimeoutMs: env.AIRLOCK_OPEN_TIMEOUT_MS,
    replicas: env.AIRLOCK_REPLICAS,
    runnerLostMs: env.AIRLOCK_RUNNER_LOST_MS,
    runnersFile: env.AIRLOCK_RUNNERS_FILE,
    auth: env.AIRLOCK_AUTH,
    natsAuthorityFile: env.AIRLOCK_NATS_AUTHORITY_FILE,
    natsSystemUrl: env.AIRLOCK_NATS_SYSTEM_URL,
    readerTtlMs: env.AIRLOCK_READER_TTL_MS,
    logLevel: flags.logLevel ?? env.AIRLOCK_LOG_LEVEL,
  });
}
