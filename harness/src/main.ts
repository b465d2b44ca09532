// Entry point of the harness process.
import { parseArgs } from 'node:util';
import { connectNats } from '@airlock/transport';
import { loadHarnessConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { HarnessService } from './service.ts';

const USAGE = `Usage: node --conditions=airlock-source harness/src/main.ts [--nats URL] [--log-level L]

The Airlock harness: run lifecycle, routing and policy, served over NATS.
Usually started by \`./airlock up\`.
  --nats URL        NATS server(s), comma-separated [AIRLOCK_NATS_URL] (default nats://127.0.0.1:4222)
  --policy FILE     policy (YAML/JSON) pinned to every new run [AIRLOCK_POLICY] (default: validate/policy/default.yaml)
  --key-file FILE   ed25519 signing key, made on first start [AIRLOCK_HARNESS_KEY_FILE] (default ~/.airlock/harness/key.pem)
  --secrets-dir DIR secret files, one per name, mode 0600 [AIRLOCK_SECRETS_DIR] (default ~/.airlock/secrets);
                    also AIRLOCK_SECRET_<NAME> variables of this process
  --log-level L     fatal|error|warn|info|debug|trace|silent [AIRLOCK_LOG_LEVEL] (default info)
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      nats: { type: 'string' },
      policy: { type: 'string' },
      'key-file': { type: 'string' },
      'secrets-dir': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const cfg = loadHarnessConfig(
    { nats: values.nats, logLevel: values['log-level'], policy: values.policy, keyFile: values['key-file'], secretsDir: values['secrets-dir'] },
    process.env,
  );
  const log = createLogger(cfg.logLevel);
  const nats = await connectNats({ servers: cfg.natsUrl.split(','), name: 'airlock-harness' });
  const svc = await HarnessService.start(cfg, nats, log);
  const stop = (signal: string) => {
    log.info({ signal }, 'draining');
    svc
      .drain()
      .then(() => nats.drain())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err, signal }, 'drain failed; exiting');
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  // A promise nobody listened to is a bug: say so loudly and count, but do not let one failed
  // background task take every live run down with the process. (Tests run the services in-process
  // without this handler, so there an unhandled rejection still fails the suite.)
  let unhandled = 0;
  process.on('unhandledRejection', (reason) => {
    unhandled++;
    log.error({ err: reason, unhandledRejections: unhandled }, 'BUG: unhandled promise rejection');
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`airlock-harness: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
