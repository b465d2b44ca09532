// Who may ask about an egress connection, in operator-mode NATS (the deployed mode): a runner only on
// its own egress subject (the harness takes the subject's last token as the asker), and no role's
// user at all, so an agent cannot plant a held connection or answer as a runner.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, runnerInboxPrefix, subjects } from '@airlock/proto';
import { createRunnerIdentity, publicKeysOf } from '@airlock/trust';
import { BOOT_INBOX_PREFIX, agentInboxPrefix, agentSessionPermissions, jwtPermissions, rolePermissions, runnerPermissions, runnerUser } from '@airlock/harness';
import { connect, jwtAuthenticator } from '@nats-io/transport-node';
import { connectNats } from '@airlock/transport';
import { OperatorNats } from '../operator-nats.ts';

const nats = new OperatorNats();

beforeAll(async () => {
  await nats.start();
});

afterAll(async () => {
  await nats[Symbol.asyncDispose]();
});

describe('egress asks in operator mode', () => {
  it('a runner may ask on its own subject only; no role may ask at all', async () => {
    const identity = createRunnerIdentity('ask-runner');
    const user = await runnerUser(nats.authority, identity.runnerId, publicKeysOf(identity).nkey, runnerPermissions(identity.runnerId, { logs: 'granted' }));
    const runner = await connectNats({ servers: nats.url, name: 'ask-runner', nkeySeed: identity.seed, jwt: user.jwt, inboxPrefix: runnerInboxPrefix(identity.runnerId), reconnect: false });
    // Its own subject: allowed (nobody answers here, no harness), another runner's: refused by the server.
    await expect(runner.nc.request(subjects.egressAsk(identity.runnerId), encode({}), { timeout: 3000 })).rejects.toThrow(/no responders/i);
    await expect(runner.nc.request(subjects.egressAsk('another-runner'), encode({}), { timeout: 3000 })).rejects.toThrow(/permission/i);
    await runner.drain();
    for (const role of ['operator', 'reviewer'] as const) {
      const h = await nats.as(await nats.authority.mint(role, jwtPermissions(rolePermissions(role))), `ask-${role}`);
      await expect(h.nc.request(subjects.egressAsk(identity.runnerId), encode({}), { timeout: 3000 })).rejects.toThrow(/permission/i);
      await h.drain();
    }
    // An agent works as a session user of its own (harness natsauth/session-desk.ts): no ask either.
    const prefix = agentInboxPrefix('UASKAGENT');
    const agent = await nats.as({ ...(await nats.authority.mint('agent-session', agentSessionPermissions(prefix))), inboxPrefix: prefix }, 'ask-agent');
    await expect(agent.nc.request(subjects.egressAsk(identity.runnerId), encode({}), { timeout: 3000 })).rejects.toThrow(/permission/i);
    await agent.drain();
    // The deployment's agent user itself may only ask for a session (raw: it may not even reach JetStream).
    const bootUser = await nats.authority.mint('agent', jwtPermissions(rolePermissions('agent')));
    const boot = await connect({ servers: nats.url, authenticator: jwtAuthenticator(bootUser.jwt, new TextEncoder().encode(bootUser.seed)), inboxPrefix: BOOT_INBOX_PREFIX, reconnect: false });
    try {
      await expect(boot.request(subjects.egressAsk(identity.runnerId), encode({}), { timeout: 3000 })).rejects.toThrow(/permission|timeout/i);
    } finally {
      await boot.close();
    }
  });
});
