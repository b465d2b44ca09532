import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';

/** Runner configuration, read once from flags and environment (flags win). */
export const RunnerConfigSchema = z.object({
  /** NATS URL(s), comma-separated. Env AIRLOCK_NATS_URL. */
  natsUrl: z.string().min(1).default('nats://127.0.0.1:4222'),
  /** Stable id: a restarted runner with the same id reaps its orphans. Env AIRLOCK_RUNNER_ID. Default: host name. */
  runnerId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  /** Most runs held at once. Env AIRLOCK_SLOTS. */
  slots: z.coerce.number().int().min(1).max(1024).default(4),
  /** Where runner-made workspaces live. Env AIRLOCK_STATE_DIR. */
  stateDir: z.string().min(1),
  /** Docker engine socket. Env DOCKER_SOCKET. */
  dockerSocket: z.string().default('/var/run/docker.sock'),
  /** Output kept per stream per step; beyond it the step is marked truncated. Env AIRLOCK_MAX_OUTPUT_BYTES. */
  maxOutputBytes: z.coerce.number().int().positive().default(2 * 1024 * 1024 * 1024),
  /** Replicas of the streams and buckets this runner creates when missing (3 on a NATS cluster). Env AIRLOCK_REPLICAS. */
  replicas: z.coerce.number().int().min(1).max(5).default(1),
  /**
   * The harness's public key (raw base64, or a file holding it) that every exec request's job token
   * must be signed with. Required: without it the runner refuses every step. Env AIRLOCK_HARNESS_KEY.
   */
  harnessKey: z.string().min(1, 'the harness public key is required (--harness-key, or AIRLOCK_HARNESS_KEY): without it every step would be refused'),
  /**
   * How steps run: `auto` through the in-sandbox executor when the image ships one (label
   * `airlock.executor`), else `docker exec`; `exec` always `docker exec`. Env AIRLOCK_EXECUTOR.
   */
  executor: z.enum(['auto', 'exec']).default('auto'),
  /**
   * Which deployment this runner serves (its sandboxes are labelled with it; sweeps touch no other
   * deployment's). Default: the id the harness recorded on its runs bucket. Env AIRLOCK_DEPLOYMENT_ID.
   */
  deploymentId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
  /**
   * How long one run-log append is retried while JetStream does not acknowledge (NATS away). A step
   * whose output cannot be stored within it is stopped (\`logLost\`), never run on unrecorded.
   * Env AIRLOCK_LOG_RETRY_MS. Default (unset): the log writer's, 60000.
   */
  logRetryMs: z.coerce.number().int().min(1000).optional(),
  /**
   * Operator-mode NATS (the identity came with a user JWT): this runner's user may write no log;
   * each run's log is written through the grant the harness mints for the run it holds
   * (`log-grant.ts`). Set by main from the identity, not a flag.
   */
  logGrants: z.boolean().optional(),
  /**
   * This runner's own identity file (`{runnerId, seed, curveSeed}`, mode 0600, made by \`./airlock up\`
   * or \`deploy/credentials.ts\`): it logs into NATS as this runner's nkey user, signs replies and log
   * events, and opens the secrets sealed to it. Its runner id wins over --id. Env AIRLOCK_RUNNER_IDENTITY.
   * Without one (and without identityDir) the runner makes keys in memory: only for a NATS without users.
   */
  identityFile: z.string().min(1).optional(),
  /** A directory of identity files: take the first one no live runner holds (compose's scaled runners). Env AIRLOCK_RUNNER_IDENTITY_DIR. */
  identityDir: z.string().min(1).optional(),
  /** Heartbeat period. */
  /**
   * Started sandboxes kept ready for the next open (pool.ts); 0 turns the warm pool off. Env
   * AIRLOCK_POOL. Off unless asked for (default 0): a runner killed with SIGKILL leaves its pool's
   * host mounts until it restarts, so the pool is opt-in; `./airlock up` starts its runner with 2.
   */
  poolSize: z.coerce.number().int().min(0).max(64).optional(),
  heartbeatMs: z.coerce.number().int().positive().default(1000),
  /** pino level. Env AIRLOCK_LOG_LEVEL. */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Test configuration only, set by test fixtures (no option, no environment variable, never from a
   * policy): egress names resolved to fixed loopback destinations, `{"pypi.test": "127.0.0.1:PORT"}`.
   */
  egressTestResolve: z.record(z.string(), z.string()).optional(),
  /** Test configuration only, like egressTestResolve: extra CA certificates (PEM) the egress proxy trusts upstream. */
  egressTestUpstreamCa: z.array(z.string()).optional(),
});
export type RunnerConfig = z.infer<typeof RunnerConfigSchema>;

export const RUNNER_USAGE = `Usage: node --conditions=airlock-source runner/src/main.ts [options]

The Airlock runner: takes runs from NATS and executes their steps in Docker sandboxes.

Options (environment variable in brackets):
  --nats URL         NATS server(s), comma-separated [AIRLOCK_NATS_URL] (default nats://127.0.0.1:4222)
  --id ID            stable runner id [AIRLOCK_RUNNER_ID] (default: host name; "auto": host name + random suffix)
  --slots N          most runs held at once [AIRLOCK_SLOTS] (default 4)
  --pool N           started sandboxes kept warm for the next open, 0 = off [AIRLOCK_POOL] (default 0; ./airlock up uses 2)
  --state-dir DIR    where runner-made workspaces live [AIRLOCK_STATE_DIR] (default ~/.airlock/runner)
  --harness-key K    the harness's public key, raw base64 or a file holding it [AIRLOCK_HARNESS_KEY]
                     (\`./airlock up\` passes <state>/harness/key.pem.pub); job tokens must verify against it
  --identity FILE    this runner's identity (nkey + curve seeds, 0600); its id wins [AIRLOCK_RUNNER_IDENTITY]
  --identity-dir D   take the first free identity file in D (scaled runners) [AIRLOCK_RUNNER_IDENTITY_DIR]
  --docker-socket P  Docker engine socket [DOCKER_SOCKET] (default /var/run/docker.sock)
  --executor MODE    auto: steps go through the image's in-sandbox executor when it has one, else
                     docker exec; exec: always docker exec [AIRLOCK_EXECUTOR] (default auto)
  --deployment-id D  deployment id its sandboxes are labelled with [AIRLOCK_DEPLOYMENT_ID]
                     (default: the one the harness recorded on its runs bucket)
  --log-level L      fatal|error|warn|info|debug|trace|silent [AIRLOCK_LOG_LEVEL] (default info)
  -h, --help         this text
`;

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): RunnerConfig | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      nats: { type: 'string' },
      id: { type: 'string' },
      slots: { type: 'string' },
      pool: { type: 'string' },
      'state-dir': { type: 'string' },
      'docker-socket': { type: 'string' },
      executor: { type: 'string' },
      'harness-key': { type: 'string' },
      identity: { type: 'string' },
      'identity-dir': { type: 'string' },
      'log-level': { type: 'string' },
      'deployment-id': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const home = env.AIRLOCK_HOME ?? `${env.HOME ?? '/root'}/.airlock`;
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 50);
  let runnerId = values.id ?? env.AIRLOCK_RUNNER_ID ?? host;
  // Scaled replicas share a host name (compose with host networking): give each its own id.
  if (runnerId === 'auto') runnerId = `${host}-${randomBytes(3).toString('hex')}`;
  return RunnerConfigSchema.parse({
    natsUrl: values.nats ?? env.AIRLOCK_NATS_URL,
    logRetryMs: env.AIRLOCK_LOG_RETRY_MS,
    runnerId,
    replicas: env.AIRLOCK_REPLICAS,
    harnessKey: values['harness-key'] ?? env.AIRLOCK_HARNESS_KEY ?? '',
    slots: values.slots ?? env.AIRLOCK_SLOTS,
    poolSize: values.pool ?? env.AIRLOCK_POOL ?? 0,
    stateDir: values['state-dir'] ?? env.AIRLOCK_STATE_DIR ?? `${home}/runner`,
    dockerSocket: values['docker-socket'] ?? env.DOCKER_SOCKET,
    executor: values.executor ?? env.AIRLOCK_EXECUTOR,
    maxOutputBytes: env.AIRLOCK_MAX_OUTPUT_BYTES,
    logLevel: values['log-level'] ?? env.AIRLOCK_LOG_LEVEL,
    deploymentId: values['deployment-id'] ?? (env.AIRLOCK_DEPLOYMENT_ID || undefined),
    identityFile: values.identity ?? env.AIRLOCK_RUNNER_IDENTITY,
    identityDir: values['identity-dir'] ?? env.AIRLOCK_RUNNER_IDENTITY_DIR,
  });
}
