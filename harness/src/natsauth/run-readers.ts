import type { User } from '@nats-io/jwt';
import { names, subjects } from '@airlock/proto';

/**
 * What a reader of one run's log may do on NATS (an agent limited to its runs): the calls the
 * SDK's log reader makes, each naming the run's subject in the request subject so the server can
 * tell runs apart. nats-server (2.9+) checks that a consumer created on
 * `$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>` filters exactly `<filter>`, and a direct get on
 * `$JS.API.DIRECT.GET.<stream>.<subject>` returns only that subject's last message. Not allowed:
 * the body-addressed `STREAM.MSG.GET` and `DIRECT.GET` (any run's message by sequence), listing
 * consumers, or a consumer without a filter.
 *
 * Pulls and flow control address a consumer by name; an ordered consumer's name is random, and
 * without the right to list consumers a reader cannot learn another reader's.
 */
export function runReaderPermissions(runIds: readonly string[], inboxPrefix: string): Partial<User> {
  const stream = names.logStream;
  return {
    pub: {
      allow: [
        '$JS.API.INFO',
        `$JS.API.STREAM.INFO.${stream}`,
        ...runIds.flatMap((runId) => [`$JS.API.CONSUMER.CREATE.${stream}.*.${subjects.log(runId)}`, `$JS.API.DIRECT.GET.${stream}.${subjects.log(runId)}`]),
        `$JS.API.CONSUMER.INFO.${stream}.*`,
        `$JS.API.CONSUMER.DELETE.${stream}.*`,
        `$JS.API.CONSUMER.MSG.NEXT.${stream}.*`,
        `$JS.FC.${stream}.>`,
      ],
    },
    sub: { allow: [`${inboxPrefix}.>`] },
  };
}

/** The inbox prefix of a run reader's connection (distinct from every role's `_INBOX.`; one subject token). */
export function readerInboxPrefix(principal: string): string {
  return `_INBOX_READ_${principal.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}
