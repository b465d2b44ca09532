import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROLES, names, runnerInboxPrefix, subjects } from '@airlock/proto';
import type { Role } from '@airlock/proto';
import { issueCredential } from '../governance/identity.ts';
import { loadOrCreateSigningKey } from '../keys.ts';
import { readRoleFile, runnerJwtFile, withCredentials } from './stack-file.ts';
import { createUser, fromSeed } from '@nats-io/jwt';
import type { NatsJwtLogin } from '@airlock/proto';
import { NatsAuthority } from '../natsauth/authority.ts';
import { jwtPermissions, runnerUser, type ConfigPermissions } from '../natsauth/users.ts';
import { BOOT_INBOX_PREFIX } from '../natsauth/session-desk.ts';
import { createRunnerIdentity, parseRunnerIdentity, publicKeysOf, type RunnerIdentity, type RunnerPublicKeys } from '@airlock/trust';

/**
 * One deployment's NATS credentials, made once and kept in one directory. NATS runs in operator
 * (JWT) mode: every user is a JWT signed by the deployment's account key, so the harness can mint
 * and revoke users while the server runs (a run's log-writer grant, `natsauth/log-grants.ts`).
 *
 * ```
 * <dir>/nats/auth.conf             nats-server config: operator, system account, resolver with the accounts preloaded (no secret)
 * <dir>/harness/nats-authority.json the operator, system and account seeds (0600): whoever holds it can mint any user
 * <dir>/harness/nats.seed          the harness user's nkey seed (0600); its JWT is signed anew at each call
 * <dir>/harness/nats.login         `JWT:SEED`, the harness's login as a URL writes it (0600)
 * <dir>/harness/system.login       the same for the harness's system-account user (pushes account updates) (0600)
 * <dir>/harness/runners.json       the runners' public keys, pinned by the harness (AIRLOCK_RUNNERS_FILE)
 * <dir>/client/nats.login          the client (CLI/SDK) login: the operator role's NATS user, kept for older setups (0600)
 * <dir>/roles/<role>.seed          each role's nkey seed: agent, operator, reviewer, admin (0600)
 * <dir>/roles/<role>.json          with a harness key: the role's NATS login (jwt, seed) and a credential
 *                                  signed by that key (`./airlock --as ROLE`, or AIRLOCK_CREDENTIAL) (0600)
 * <dir>/runners/<id>.json          each runner's identity: nkey seed + curve seed (0600)
 * <dir>/runners/<id>.jwt           the runner's user JWT, naming its own nkey (not secret without the seed)
 * ```
 *
 * Roles are enforced twice: NATS lets each role's user publish only its subjects (an agent cannot
 * publish `airlock.v1.api.op.>` at all), and the harness checks the credential's role on every call.
 *
 * Why a runner's JWT names its identity nkey: the nkey seed is at once its NATS login, the ed25519
 * key that signs its replies and log events, and (with its curve seed) what secrets are sealed to;
 * the server and the harness hold only public keys, so neither file lets anyone act as a runner.
 */
export interface Deployment {
  dir: string;
  natsConf: string;
  runnersFile: string;
  /** The operator-mode keys (0600): the harness mints per-run users with them. */
  authorityFile: string;
  harness: NatsJwtLogin;
  /** The harness's system-account user: account updates (revocations of log grants). */
  system: NatsJwtLogin;
  /** The operator's NATS user (what the CLI used before roles; kept as the default). */
  client: NatsJwtLogin;
  /** One NATS user per role, and (with a harness key) a signed credential per role. */
  roles: Record<Role, RoleCredential>;
  runners: Array<{ runnerId: string; identityFile: string; jwtFile: string; jwt: string; keys: RunnerPublicKeys }>;
}

/** A role's way in: its NATS login and, when the harness key was at hand, its credential for the harness API. */
export interface RoleCredential extends NatsJwtLogin {
  role: Role;
  /** The role's name (what the NATS user is called). */
  user: string;
  /** Principal named in the credential (the role's name for deployment credentials). */
  principal: string;
  credential?: string;
  /** The file holding all of the above (0600). */
  file: string;
}

/**
 * What a runner may do on NATS: its own subjects and inbox, the logs (checked by signature), never the
 * harness's. With `logs: 'granted'` (an operator-mode deployment) no log at all: the runner writes a
 * run's log only through the per-run grant the harness mints for the run it holds (`natsauth/`).
 */
export function runnerPermissions(runnerId: string, opts: { logs?: 'all' | 'granted' } = {}): ConfigPermissions {
  return {
    publish: {
      allow: [
        // With grants: only the shared system log (refused messages) and the request for a run's grant.
        ...(opts.logs === 'granted' ? [subjects.log('system'), subjects.logGrant(runnerId)] : [subjects.logAll]),
        // Its proxy's asks for unlisted hosts (policy network.unlisted: ask): its own subject only.
        subjects.egressAsk(runnerId),
        subjects.auditAll,
        subjects.runnerHeartbeat,
        '$JS.API.INFO',
        '$JS.API.STREAM.INFO.>',
        '$JS.API.STREAM.NAMES',
        '$JS.API.STREAM.LIST',
        '$JS.API.STREAM.MSG.GET.>',
        '$JS.API.DIRECT.GET.>',
        `$JS.API.STREAM.CREATE.${names.logStream}`,
        `$JS.API.STREAM.CREATE.${names.auditStream}`,
        '$JS.API.STREAM.CREATE.OBJ_airlock_blobs',
        '$JS.API.STREAM.CREATE.OBJ_airlock_manifests',
        '$JS.API.STREAM.PURGE.OBJ_airlock_blobs',
        '$JS.API.STREAM.PURGE.OBJ_airlock_manifests',
        // Consumers only on the snapshot stores (restoring a moved run's workspace): no consumer on
        // the run log or the audit stream, so a runner cannot read other runs' logs.
        ...objectStoreConsumers('OBJ_airlock_blobs'),
        ...objectStoreConsumers('OBJ_airlock_manifests'),
        '$O.airlock_blobs.>',
        '$O.airlock_manifests.>',
      ],
      deny: ['airlock.v1.api.>', 'airlock.v1.runner.>', '$KV.>', '$JS.API.STREAM.CREATE.KV_>', '$JS.API.STREAM.DELETE.>'],
    },
    subscribe: {
      // Its own requests, the shared open queue, and replies to its own requests: nothing of other runners.
      allow: [`airlock.v1.runner.${runnerId}.>`, subjects.runnerOpen, `${runnerInboxPrefix(runnerId)}.>`],
    },
    // Replies go to the requester's inbox: allowed once per request it received, for as long as the
    // longest step may run (24 h) plus margin. No blanket `_INBOX.>` publish right.
    allow_responses: { max: 1, expires: '25h' },
  };
}

const HARNESS_PERMISSIONS = { publish: ['>'], subscribe: ['>'] };
/** Reading logs, the audit index, snapshots and bundles (JetStream consumers and object stores). */
const READS = ['_INBOX.>', '$JS.API.INFO', '$JS.API.STREAM.INFO.>', '$JS.API.STREAM.MSG.GET.>', '$JS.API.DIRECT.GET.>', '$JS.API.CONSUMER.>', '$JS.ACK.>', '$JS.FC.>'];
/** Writing into the object stores (`import` of a tar, `gc`): not for read-only reviewers. */
const STORE_WRITES = ['$O.>'];
const API = 'airlock.v1.api';

/**
 * What each role's NATS user may publish: agents only `api.session` (each agent client then works
 * as a user of its own, which may call the run API but nothing under `api.op.` or `api.admin.`);
 * reviewers only the read verbs; operators all but `api.admin.`.
 */
export function rolePermissions(role: Role): ConfigPermissions {
  const subscribe = { allow: ['_INBOX.>', '$O.>', subjects.harnessHeartbeat] };
  switch (role) {
    case 'agent':
      // Shared by every agent of the deployment, so it may only ask for a NATS user of the client's
      // own (natsauth/session-desk.ts), on an inbox where nothing but those answers travels: no
      // `_INBOX.>` (other clients' replies), no JetStream (runs' logs, snapshots, bundles).
      return { publish: { allow: [subjects.api.session] }, subscribe: { allow: [`${BOOT_INBOX_PREFIX}.>`] } };
    case 'operator':
      return { publish: { allow: [`${API}.>`, ...READS, ...STORE_WRITES], deny: [subjects.adminApi] }, subscribe };
    case 'reviewer':
      return { publish: { allow: [subjects.api.ps, subjects.api.status, subjects.api.runState, subjects.api.approvals, subjects.api.bundle, subjects.api.diff, subjects.api.reader, ...READS] }, subscribe };
    case 'admin':
      return { publish: { allow: [`${API}.>`, ...READS, ...STORE_WRITES] }, subscribe };
  }
}

function writeSecret(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

function readOrMake(file: string, make: () => string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const v = make();
  writeSecret(file, `${v}\n`);
  return v;
}

/** A fresh user nkey seed (`SU…`). */
function newUserSeed(): string {
  return new TextDecoder().decode(createUser().getSeed());
}

/**
 * The login of a user whose seed is kept in `seedFile` (made on first use): its JWT is signed anew
 * with the current permissions at each call, so an upgrade's permission change reaches every user.
 */
async function keptUser(authority: NatsAuthority, seedFile: string, name: string, permissions: ConfigPermissions): Promise<NatsJwtLogin> {
  const seed = readOrMake(seedFile, newUserSeed);
  const { jwt } = await authority.mintFor(name, fromSeed(new TextEncoder().encode(seed)).getPublicKey(), jwtPermissions(permissions));
  return { jwt, seed };
}

export interface EnsureDeploymentOptions {
  /** Signs one credential per role (`roles/<role>.json`); without it no role file is written. */
  harnessKeyFile?: string;
  /**
   * Where each nats-server keeps the account JWTs the harness pushes (revocations survive a
   * restart): a directory on the server's machine it may write. Default `<dir>/nats/resolver`.
   */
  resolverDir?: string;
}

/**
 * Makes (or completes) the credentials of a deployment with these runner ids in `dir`. Idempotent:
 * existing keys, seeds and runner identities are kept, missing ones made, and the JWTs, the
 * nats-server config and the runners file rewritten from them.
 */
export async function ensureDeployment(dir: string, runnerIds: readonly string[], opts: EnsureDeploymentOptions = {}): Promise<Deployment> {
  for (const sub of ['nats', 'harness', 'client', 'runners', 'roles']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  const authorityFile = join(dir, 'harness', 'nats-authority.json');
  const authority = NatsAuthority.loadOrCreate(authorityFile);
  const harness = await keptUser(authority, join(dir, 'harness', 'nats.seed'), 'harness', HARNESS_PERMISSIONS);
  writeSecret(join(dir, 'harness', 'nats.login'), `${loginText(harness)}\n`);
  const systemSeed = readOrMake(join(dir, 'harness', 'system.seed'), newUserSeed);
  const system = { seed: systemSeed, jwt: (await authority.mintSystemFor('harness-system', fromSeed(new TextEncoder().encode(systemSeed)).getPublicKey())).jwt };
  writeSecret(join(dir, 'harness', 'system.login'), `${loginText(system)}\n`);
  const client = await keptUser(authority, join(dir, 'client', 'nats.seed'), 'client', rolePermissions('operator'));
  writeSecret(join(dir, 'client', 'nats.login'), `${loginText(client)}\n`);
  // The harness key signs the role credentials (the harness checks them with its own key).
  const key = opts.harnessKeyFile ? loadOrCreateSigningKey(opts.harnessKeyFile).privateKey : undefined;
  const roles = {} as Record<Role, RoleCredential>;
  for (const role of ROLES) {
    const login = await keptUser(authority, join(dir, 'roles', `${role}.seed`), role, rolePermissions(role));
    const file = join(dir, 'roles', `${role}.json`);
    const credential = key ? issueCredential(key, { principal: role, role }) : undefined;
    roles[role] = { role, user: role, ...login, principal: role, ...(credential ? { credential } : {}), file };
    if (credential) writeSecret(file, `${JSON.stringify({ role, principal: role, user: role, ...login, credential }, null, 2)}\n`);
  }
  const runners: Deployment['runners'] = [];
  for (const runnerId of runnerIds) {
    const identityFile = join(dir, 'runners', `${runnerId}.json`);
    let identity: RunnerIdentity;
    if (existsSync(identityFile)) {
      identity = parseRunnerIdentity(JSON.parse(readFileSync(identityFile, 'utf8')));
    } else {
      identity = createRunnerIdentity(runnerId);
      writeSecret(identityFile, `${JSON.stringify(identity, null, 2)}\n`);
    }
    const keys = publicKeysOf(identity);
    // No log right of its own: the runner writes a run's log only with the grant of a run it holds.
    const { jwt } = await runnerUser(authority, runnerId, keys.nkey, runnerPermissions(runnerId, { logs: 'granted' }));
    const jwtFile = runnerJwtFile(identityFile);
    writeFileSync(jwtFile, `${jwt}\n`, { mode: 0o644 });
    runners.push({ runnerId, identityFile, jwtFile, jwt, keys });
  }
  const natsConf = join(dir, 'nats', 'auth.conf');
  writeFileSync(natsConf, await authority.serverConfig(opts.resolverDir ?? join(dir, 'nats', 'resolver')), { mode: 0o644 });
  const runnersFile = join(dir, 'harness', 'runners.json');
  writeFileSync(runnersFile, `${JSON.stringify({ runners: runners.map((r) => r.keys) }, null, 2)}\n`, { mode: 0o644 });
  chmodSync(runnersFile, 0o644);
  return { dir, natsConf, runnersFile, authorityFile, harness, system, client, roles, runners };
}

/** `JWT:SEED`: a login as the userinfo of a NATS URL writes it (see `jwtLoginOf`). */
function loginText(login: NatsJwtLogin): string {
  return `${login.jwt}:${login.seed}`;
}

/** The JetStream API subjects a consumer on one stream uses: create, info, delete, next, acks, flow control. */
function objectStoreConsumers(stream: string): string[] {
  return [
    `$JS.API.CONSUMER.*.${stream}`,
    `$JS.API.CONSUMER.*.${stream}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
    `$JS.ACK.${stream}.>`,
    `$JS.FC.${stream}.>`,
  ];
}

export { readRoleFile, runnerJwtFile, withCredentials };
