import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROLES, names, runnerInboxPrefix, subjects } from '@airlock/proto';
import type { Role } from '@airlock/proto';
import { issueCredential } from '../governance/identity.ts';
import { loadOrCreateSigningKey } from '../keys.ts';
import { readRoleFile, withCredentials } from './stack-file.ts';
import type { ConfigPermissions } from '../natsauth/users.ts';
import { createRunnerIdentity, parseRunnerIdentity, publicKeysOf, type RunnerIdentity, type RunnerPublicKeys } from '@airlock/trust';

/**
 * One deployment's NATS credentials, made once and kept in one directory:
 *
 * ```
 * <dir>/nats/auth.conf           nats-server `authorization` block: one user per role, one nkey user per runner (0600)
 * <dir>/harness/runners.json     the runners' public keys, pinned by the harness (AIRLOCK_RUNNERS_FILE)
 * <dir>/harness/nats.password   the harness user's password (0600)
 * <dir>/client/nats.password     the client (CLI/SDK) user's password (0600): the operator's, kept for older setups
 * <dir>/roles/<role>.password    each role's NATS user password: agent, operator, reviewer, admin (0600)
 * <dir>/roles/<role>.json        with a harness key: the role's NATS user and a credential signed by
 *                                that key (`./airlock --as ROLE`, or AIRLOCK_CREDENTIAL) (0600)
 * <dir>/runners/<id>.json        each runner's identity: nkey seed + curve seed (0600)
 * ```
 *
 * Roles are enforced twice: NATS lets each role's user publish only its subjects (an agent cannot
 * publish `airlock.v1.api.op.>` at all), and the harness checks the credential's role on every call.
 *
 * Why nkeys for runners (and passwords for harness and client): a runner's nkey seed is at once its
 * NATS login, the ed25519 key that signs its replies and log events, and (with its curve seed) what
 * secrets are sealed to; the server and the harness hold only public keys, so neither file lets
 * anyone act as a runner. The harness and the CLI are one of each per deployment, where a generated
 * password (never a default) is enough.
 */
export interface Deployment {
  dir: string;
  natsConf: string;
  runnersFile: string;
  harness: { user: string; pass: string };
  /** The operator's NATS user (what the CLI used before roles; kept as the default). */
  client: { user: string; pass: string };
  /** One NATS user per role, and (with a harness key) a signed credential per role. */
  roles: Record<Role, RoleCredential>;
  runners: Array<{ runnerId: string; identityFile: string; keys: RunnerPublicKeys }>;
}

/** A role's way in: its NATS user and, when the harness key was at hand, its credential for the harness API. */
export interface RoleCredential {
  role: Role;
  user: string;
  pass: string;
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
        ...(opts.logs === 'granted' ? [] : [subjects.logAll]),
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
const READS = ['_INBOX.>', '$JS.API.INFO', '$JS.API.STREAM.INFO.>', '$JS.API.STREAM.MSG.GET.>', '$JS.API.DIRECT.GET.>', '$JS.API.CONSUMER.>', '$JS.ACK.>', '$JS.FC.>', '$O.>'];
const API = 'airlock.v1.api';

/**
 * What each role's NATS user may publish: agents the run API but nothing under `api.op.` (approve,
 * controls) or `api.admin.`; reviewers only the read verbs; operators all but `api.admin.`.
 */
export function rolePermissions(role: Role): ConfigPermissions {
  const subscribe = { allow: ['_INBOX.>', '$O.>', subjects.harnessHeartbeat] };
  switch (role) {
    case 'agent':
      return { publish: { allow: [`${API}.>`, ...READS], deny: [subjects.operatorApi, subjects.adminApi] }, subscribe };
    case 'operator':
      return { publish: { allow: [`${API}.>`, ...READS], deny: [subjects.adminApi] }, subscribe };
    case 'reviewer':
      return { publish: { allow: [subjects.api.ps, subjects.api.status, subjects.api.runState, subjects.api.approvals, subjects.api.bundle, subjects.api.diff, ...READS] }, subscribe };
    case 'admin':
      return { publish: { allow: [`${API}.>`, ...READS] }, subscribe };
  }
}

/** nats-server config text (JSON is valid nats-server config syntax). */
export function natsAuthConfig(d: { harness: { user: string; pass: string }; client: { user: string; pass: string }; roles?: Record<Role, { user: string; pass: string }>; runners: Array<{ runnerId: string; keys: RunnerPublicKeys }> }): string {
  const users = [
    { user: d.harness.user, password: d.harness.pass, permissions: HARNESS_PERMISSIONS },
    { user: d.client.user, password: d.client.pass, permissions: rolePermissions('operator') },
    ...(d.roles ? ROLES.map((role) => ({ user: d.roles![role].user, password: d.roles![role].pass, permissions: rolePermissions(role) })) : []),
    ...d.runners.map((r) => ({ nkey: r.keys.nkey, permissions: runnerPermissions(r.runnerId) })),
  ];
  return `# Generated by Airlock for one deployment: one NATS user per role, one nkey user per runner.\n# Do not edit: regenerate (runner ids: ${d.runners.map((r) => r.runnerId).join(', ')}).\nauthorization ${JSON.stringify({ users }, null, 2)}\n`;
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

/**
 * Makes (or completes) the credentials of a deployment with these runner ids in `dir`. Idempotent:
 * existing passwords and runner identities are kept, missing ones made, and the nats-server config
 * and runners file rewritten from them.
 */
export function ensureDeployment(dir: string, runnerIds: readonly string[], opts: { harnessKeyFile?: string } = {}): Deployment {
  for (const sub of ['nats', 'harness', 'client', 'runners', 'roles']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  const password = () => randomBytes(24).toString('base64url');
  const harness = { user: 'harness', pass: readOrMake(join(dir, 'harness', 'nats.password'), password) };
  const client = { user: 'client', pass: readOrMake(join(dir, 'client', 'nats.password'), password) };
  // The harness key signs the role credentials (the harness checks them with its own key).
  const key = opts.harnessKeyFile ? loadOrCreateSigningKey(opts.harnessKeyFile).privateKey : undefined;
  const roles = Object.fromEntries(
    ROLES.map((role): [Role, RoleCredential] => {
      const pass = readOrMake(join(dir, 'roles', `${role}.password`), password);
      const file = join(dir, 'roles', `${role}.json`);
      const credential = key ? issueCredential(key, { principal: role, role }) : undefined;
      const rc: RoleCredential = { role, user: role, pass, principal: role, ...(credential ? { credential } : {}), file };
      if (credential) writeSecret(file, `${JSON.stringify({ role, principal: role, user: role, pass, credential }, null, 2)}\n`);
      return [role, rc];
    }),
  ) as Record<Role, RoleCredential>;
  const runners = runnerIds.map((runnerId) => {
    const identityFile = join(dir, 'runners', `${runnerId}.json`);
    let identity: RunnerIdentity;
    if (existsSync(identityFile)) {
      identity = parseRunnerIdentity(JSON.parse(readFileSync(identityFile, 'utf8')));
    } else {
      identity = createRunnerIdentity(runnerId);
      writeSecret(identityFile, `${JSON.stringify(identity, null, 2)}\n`);
    }
    return { runnerId, identityFile, keys: publicKeysOf(identity) };
  });
  const natsConf = join(dir, 'nats', 'auth.conf');
  writeSecret(natsConf, natsAuthConfig({ harness, client, roles, runners }));
  const runnersFile = join(dir, 'harness', 'runners.json');
  writeFileSync(runnersFile, `${JSON.stringify({ runners: runners.map((r) => r.keys) }, null, 2)}\n`, { mode: 0o644 });
  chmodSync(runnersFile, 0o644);
  return { dir, natsConf, runnersFile, harness, client, roles, runners };
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

export { readRoleFile, withCredentials };
