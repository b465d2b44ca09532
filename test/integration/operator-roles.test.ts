// The deployment's role and runner permissions (harness/src/cli/credentials.ts) as operator-mode
// user JWTs (harness/src/natsauth/users.ts), against a real nats-server: the same table holds in
// both modes (an agent may not publish operator verbs), and a runner in operator mode writes no
// log with its own user: only through the per-run grant of a run it holds (log-grants.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, jwtAuthenticator } from '@nats-io/transport-node';
import { ensureLogStream } from '@airlock/ledger';
import { encode, runnerInboxPrefix, subjects } from '@airlock/proto';
import { createRunnerIdentity, publicKeysOf } from '@airlock/trust';
import { agentInboxPrefix, agentSessionPermissions, BOOT_INBOX_PREFIX, jwtPermissions, rolePermissions, runnerPermissions, runnerUser } from '@airlock/harness';
import { connectNats } from '@airlock/transport';
import { ALL, OperatorNats } from '../operator-nats.ts';

const nats = new OperatorNats();
const RUN = '01OPROLES00000000000000000';

beforeAll(async () => {
  await nats.start();
  await ensureLogStream((await nats.as(await nats.authority.mint('harness', ALL), 'roles-harness')).jsm);
});

afterAll(async () => {
  await nats[Symbol.asyncDispose]();
});

describe('role and runner permissions in operator mode', () => {
  it('an agent may not publish an operator verb; an operator may (no harness here: no responders)', async () => {
    // The deployment's agent user may only ask for a session; an agent's own (session) user calls the run API.
    // (A raw connection: that user may not even ask JetStream whether it is there.)
    const bootUser = await nats.authority.mint('agent', jwtPermissions(rolePermissions('agent')));
    const boot = await connect({ servers: nats.url, authenticator: jwtAuthenticator(bootUser.jwt, new TextEncoder().encode(bootUser.seed)), inboxPrefix: BOOT_INBOX_PREFIX, reconnect: false });
    try {
      await expect(boot.request(subjects.api.ps, encode({}), { timeout: 3000 })).rejects.toThrow(/permission|timeout/i);
      await expect(boot.request(subjects.api.session, encode({}), { timeout: 3000 })).rejects.toThrow(/no responders/i);
    } finally {
      await boot.close();
    }
    const prefix = agentInboxPrefix('UAGENTSESSIONTEST');
    const agent = await nats.as({ ...(await nats.authority.mint('agent-session', agentSessionPermissions(prefix))), inboxPrefix: prefix }, 'roles-agent-session');
    await expect(agent.nc.request(subjects.api.decide, encode({}), { timeout: 3000 })).rejects.toThrow(/permission/i);
    await expect(agent.nc.request(subjects.api.ps, encode({}), { timeout: 3000 })).rejects.toThrow(/no responders/i);
    const operator = await nats.as(await nats.authority.mint('operator', jwtPermissions(rolePermissions('operator'))), 'roles-operator');
    await expect(operator.nc.request(subjects.api.decide, encode({}), { timeout: 3000 })).rejects.toThrow(/no responders/i);
  });

  it('a runner logs in with its own nkey; with granted logs its user writes no log, with all logs it would', async () => {
    const identity = createRunnerIdentity('op-runner');
    const nkey = publicKeysOf(identity).nkey;
    const connectAs = async (logs: 'all' | 'granted') => {
      const user = await runnerUser(nats.authority, identity.runnerId, nkey, runnerPermissions(identity.runnerId, { logs }));
      const h = await connectNats({ servers: nats.url, name: `runner-${logs}`, nkeySeed: identity.seed, jwt: user.jwt, inboxPrefix: runnerInboxPrefix(identity.runnerId), reconnect: false });
      return h;
    };
    const granted = await connectAs('granted');
    await expect(granted.js.publish(subjects.log(RUN), encode({ forged: true }), { timeout: 3000 })).rejects.toThrow(/permission/i);
    await granted.drain();
    const all = await connectAs('all');
    expect((await all.js.publish(subjects.log(RUN), encode({ stored: true }), { timeout: 5000 })).seq).toBeGreaterThan(0);
    await all.drain();
  });
});
