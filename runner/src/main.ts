// Entry point of the runner process.
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { connectNats } from '@airlock/transport';
import { RUNNER_USAGE, loadConfig } from './config.ts';
import { DockerodeClient } from './docker/client.ts';
import { createLogger } from './logger.ts';
import { RunnerService } from './service.ts';
import { CLAIM_LEASE_MS, RunnerKeyring, claimIdentity, readIdentityFile, readIdentityJwt } from './identity.ts';
import { runnerInboxPrefix } from '@airlock/proto';

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`airlock-runner: ${err instanceof Error ? err.message : String(err)}\n\n${RUNNER_USAGE}`);
    process.exit(2);
  }
  if (cfg === 'help') {
    process.stdout.write(RUNNER_USAGE);
    return;
  }
  // The identity decides the runner id: NATS lets this nkey user use only its own subjects.
  const claim = cfg.identityDir && !cfg.identityFile ? claimIdentity(cfg.identityDir) : undefined;
  const identity = claim?.identity ?? (cfg.identityFile ? readIdentityFile(cfg.identityFile) : undefined);
  if (identity) cfg = { ...cfg, runnerId: identity.runnerId };
  const identityFile = claim?.file ?? cfg.identityFile;
  const jwt = identityFile ? readIdentityJwt(identityFile) : undefined;
  // With a user JWT the deployment is in operator mode: logs are written through per-run grants.
  if (jwt) cfg = { ...cfg, logGrants: true };
  const keyring = identity ? new RunnerKeyring(identity) : RunnerKeyring.local(cfg.stateDir, cfg.runnerId);
  if (claim) setInterval(claim.refresh, CLAIM_LEASE_MS / 3).unref();
  const log = createLogger(cfg.logLevel, cfg.runnerId);
  if (keyring.ephemeral) log.warn({}, 'no runner identity (--identity): keys kept in the state directory, pinned by nobody, NATS login without an nkey; use only with a NATS that has no per-runner users');
  const nats = await connectNats({
    servers: cfg.natsUrl.split(','),
    name: `airlock-runner-${cfg.runnerId}`,
    ...(identity ? { nkeySeed: keyring.natsSeed, ...(jwt ? { jwt } : {}), inboxPrefix: runnerInboxPrefix(cfg.runnerId) } : {}),
  });
  // Executor sockets of a previous life of this runner are dead (their sandboxes are reaped). Per
  // runner (runners may share a state dir), and short: a unix socket path has at most 107 bytes.
  const socketsDir = join(cfg.stateDir, 'exec', createHash('sha256').update(cfg.runnerId).digest('hex').slice(0, 8));
  rmSync(socketsDir, { recursive: true, force: true });
  const docker = new DockerodeClient({ socketPath: cfg.dockerSocket, executor: cfg.executor === 'auto', socketsDir });
  const svc = await RunnerService.start(cfg, nats, docker, log, keyring);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'draining');
    svc
      .drain()
      .then(() => nats.drain())
      .then(() => claim?.release())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'drain failed; exiting');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
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
  process.stderr.write(`airlock-runner: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
