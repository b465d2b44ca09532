import { describe, expect, it } from 'vitest';
import { BOOT_INBOX_PREFIX, agentInboxPrefix, agentSessionPermissions } from './session-desk.ts';
import { decode, type User } from '@nats-io/jwt';
import { nkeys } from '@nats-io/transport-node';
import { AirlockError, names, subjects, type RunRecord } from '@airlock/proto';
import { rolePermissions } from '../cli/credentials.ts';
import { NatsAuthority } from './authority.ts';
import { LogReaderDesk, type ReaderRecords } from './reader-desk.ts';

const MINE = '01READERDESK0000000000000A';
const THEIRS = '01READERDESK0000000000000B';
const records: ReaderRecords = {
  get(runId) {
    const openedBy = { [MINE]: 'ada', [THEIRS]: 'bob' }[runId];
    if (!openedBy) return Promise.reject(new AirlockError('unknown_run', `no run ${runId}`));
    return Promise.resolve({ record: { runId, openedBy: { principal: openedBy, role: 'agent' } } as unknown as RunRecord });
  },
};
const now = 1_900_000_000_000;
const publicKey = nkeys.createUser().getPublicKey();
const ask = (runId: string) => ({ v: 1 as const, runId, publicKey });

describe('the log reader desk', () => {
  it('mints, for an agent\'s own run, a JWT for the asker\'s key that may read only that run, expiring', async () => {
    const desk = new LogReaderDesk(NatsAuthority.create(), records, { ttlMs: 60_000, now: () => now });
    const answer = await desk.handle(ask(MINE), { principal: 'ada', role: 'agent' });
    if (answer.kind !== 'user') throw new Error(`expected a user, got ${answer.kind}`);
    expect(answer.expiresAt).toBe(now / 1000 + 60);
    const claims = decode<User>(answer.jwt);
    expect(claims.sub).toBe(publicKey);
    expect(claims.exp).toBe(answer.expiresAt);
    const allow = claims.nats.pub?.allow ?? [];
    expect(allow).toContain(`$JS.API.CONSUMER.CREATE.${names.logStream}.*.${subjects.log(MINE)}`);
    expect(allow.filter((s) => s.includes('airlock.v1.log.'))).toEqual([`$JS.API.CONSUMER.CREATE.${names.logStream}.*.${subjects.log(MINE)}`, `$JS.API.DIRECT.GET.${names.logStream}.${subjects.log(MINE)}`]);
    expect(allow.some((s) => s.startsWith('$JS.API.STREAM.MSG.GET') || s === `$JS.API.DIRECT.GET.${names.logStream}`)).toBe(false);
    expect(claims.nats.sub?.allow).toEqual([`${answer.inboxPrefix}.>`]);
    expect(answer.inboxPrefix).toBe(`_INBOX_READ_${publicKey}`);
  });

  it('refuses another agent\'s run and an unknown run; a run-scoped credential naming the run is enough', async () => {
    const desk = new LogReaderDesk(NatsAuthority.create(), records);
    await expect(desk.handle(ask(THEIRS), { principal: 'ada', role: 'agent' })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(desk.handle(ask('01READERDESK0000000000000C'), { principal: 'ada', role: 'agent' })).rejects.toMatchObject({ code: 'unknown_run' });
    await expect(desk.handle(ask(THEIRS), { principal: 'ada', role: 'agent', runs: [MINE] })).rejects.toMatchObject({ code: 'forbidden' });
    expect((await desk.handle(ask(THEIRS), { principal: 'helper', role: 'agent', runs: [THEIRS] })).kind).toBe('user');
  });

  it('answers shared for operators, reviewers and admins, and for everyone without an authority (a NATS without users)', async () => {
    const desk = new LogReaderDesk(NatsAuthority.create(), records);
    for (const role of ['operator', 'reviewer', 'admin'] as const) expect(await desk.handle(ask(THEIRS), { principal: 'olga', role })).toEqual({ kind: 'shared' });
    expect(await new LogReaderDesk(undefined, records).handle(ask(MINE), { principal: 'ada', role: 'agent' })).toEqual({ kind: 'shared' });
  });

  it('the agent role\'s NATS user may only ask for a session (no JetStream, no `_INBOX.>`); an agent session none of JetStream either; the operator\'s may read', () => {
    expect(rolePermissions('agent')).toEqual({ publish: { allow: [subjects.api.session] }, subscribe: { allow: [`${BOOT_INBOX_PREFIX}.>`] } });
    const session = agentSessionPermissions(agentInboxPrefix('UKEY'));
    expect(session.pub?.allow?.filter((s) => s.startsWith('$'))).toEqual(['$JS.API.INFO']);
    expect(session.pub?.deny).toEqual(expect.arrayContaining([subjects.operatorApi, subjects.adminApi]));
    expect(session.sub?.allow).toEqual(['_INBOX_AGENT_UKEY.>', subjects.harnessHeartbeat]);
    expect((rolePermissions('operator').publish as { deny: string[] }).deny.some((s) => s.includes(names.logStream))).toBe(false);
    expect((rolePermissions('reviewer').publish as { allow: string[] }).allow).toContain(subjects.api.reader);
    // Reviewers read the stores but may not write them.
    expect((rolePermissions('reviewer').publish as { allow: string[] }).allow).not.toContain('$O.>');
  });
});
