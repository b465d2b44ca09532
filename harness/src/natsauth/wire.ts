import { Kvm, type KV } from '@nats-io/kv';
import { connect, jwtAuthenticator } from '@nats-io/transport-node';
import { z } from 'zod';
import { AirlockError, decode, encode, jwtLoginOf, names } from '@airlock/proto';
import { isJetStreamError, jetStreamCodes, splitCredentials } from '@airlock/transport';
import type { HarnessContext } from '../context.ts';
import type { RunnerFleet } from '../routing/fleet.ts';
import type { RunnerKeyStore } from '../routing/runner-keys.ts';
import type { RunRecords } from '../runs/records.ts';
import { NatsAuthority } from './authority.ts';
import { LogGrantDesk, type GrantAudit, type GrantStore, type HeldGrant } from './grant-desk.ts';
import { LogWriterGrants } from './log-grants.ts';

/** The running log-grant desk and its system-account connection, stopped together. */
export interface LogGrantsHandle {
  stop(): Promise<void>;
}

/**
 * Starts handing out per-run log grants when the deployment runs NATS in operator mode (the
 * harness was given the authority keys and a system-account login); otherwise nothing (runners
 * write logs with their own users, as in a development NATS without users).
 */
export async function startLogGrants(ctx: HarnessContext, rooms: { records: RunRecords; fleet: RunnerFleet; runnerKeys: RunnerKeyStore; audit: GrantAudit }): Promise<LogGrantsHandle | undefined> {
  const { natsAuthorityFile, natsSystemUrl } = ctx.cfg;
  if (!natsAuthorityFile || !natsSystemUrl) return undefined;
  const authority = NatsAuthority.loadOrCreate(natsAuthorityFile);
  // The system account has no JetStream: a plain connection.
  const { servers, user, pass } = splitCredentials(natsSystemUrl.split(','));
  const login = jwtLoginOf(user, pass);
  if (!login) throw new AirlockError('bad_request', 'AIRLOCK_NATS_SYSTEM_URL must carry the system user\'s login (nats://JWT:SEED@host)');
  const system = await connect({ servers, authenticator: jwtAuthenticator(login.jwt, new TextEncoder().encode(login.seed)), name: 'airlock-harness-system', maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const bucket = await new Kvm(ctx.nats.nc).create(names.logGrantsBucket, { history: 1, replicas: ctx.cfg.replicas });
  const desk = new LogGrantDesk(ctx, new LogWriterGrants(authority, system), rooms.runnerKeys, {
    openingBy: (runId) => rooms.fleet.openingBy(runId),
    record: async (runId) => (await rooms.records.get(runId, { fresh: true }).catch(() => undefined))?.record,
  }, rooms.audit, kvGrantStore(bucket));
  rooms.records.onWrite((record) => desk.recordChanged(record));
  desk.start();
  ctx.log.info({ account: authority.accountId }, 'log grants: runners write a run\'s log only with the grant of the run they hold');
  return {
    async stop() {
      desk.stop();
      await system.drain().catch(() => system.close());
    },
  };
}

const HeldGrantSchema: z.ZodType<HeldGrant> = z.object({ runnerId: z.string(), runId: z.string(), publicKey: z.string().startsWith('U') });

/** Live grants in the deployment's `airlock_log_grants` bucket (runId -> runner and grant user key). */
export function kvGrantStore(kv: KV): GrantStore {
  return {
    async get(runId) {
      const entry = await kv.get(runId);
      if (!entry || entry.operation !== 'PUT') return undefined;
      return { grant: decode(HeldGrantSchema, entry.value, 'log grant record'), revision: entry.revision };
    },
    async put(grant) {
      await kv.put(grant.runId, encode(grant));
    },
    async delete(runId, revision) {
      try {
        await kv.delete(runId, { previousSeq: revision });
      } catch (err) {
        // A newer grant was stored meanwhile: it is the live one and stays.
        if (isJetStreamError(err, jetStreamCodes.wrongLastSequence)) return;
        throw err;
      }
    },
  };
}
