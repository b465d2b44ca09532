// The egress proxy's process: one per run, forked by the runner (run-egress.ts) so that the proxy
// can die (or be killed) without the runner, and a fresh one can take its socket for the next step.
// Its configuration arrives as the first IPC message; each connection's event goes back over IPC.
// It exits when the runner goes away (IPC channel closed).
import { chmod, unlink } from 'node:fs/promises';
import type { EgressRule } from '@airlock/validate';
import type { TestResolveMap } from './address.ts';
import type { RunCa } from './ca.ts';
import type { EdgeSecret } from './secrets.ts';
import { createEgressProxy } from './proxy.ts';
import { childAsker } from './ask-ipc.ts';

/** The configuration the runner sends. */
export interface EgressChildConfig {
  socketPath: string;
  rules: EgressRule[];
  testResolve: TestResolveMap;
  /** The run's CA (its key is held in memory only, here and in the runner). */
  ca: RunCa;
  /** Test configuration only: extra upstream CA certificates. */
  testUpstreamCa: string[];
  /**
   * Policy `network.unlisted: ask`: a connection no rule names is asked about over IPC, and refused
   * when no answer comes within this long (the runner's own bound plus margin); absent: refused.
   */
  askTimeoutMs?: number;
}

function send(msg: unknown): void {
  if (process.connected) process.send!(msg);
}

function fail(err: unknown): never {
  send({ type: 'error', message: (err as Error).message });
  process.exit(1);
}

/** The run's edge secrets: replaced whole by each `secrets` message (held in this process only). */
let secrets: EdgeSecret[] = [];

process.once('message', (cfg: EgressChildConfig) => {
  const asker = cfg.askTimeoutMs ? childAsker(send, cfg.askTimeoutMs) : undefined;
  process.on('message', (m: { type?: string; secrets?: EdgeSecret[] }) => {
    asker?.onMessage(m);
    if (m.type === 'secrets' && Array.isArray(m.secrets)) {
      secrets = m.secrets;
      send({ type: 'secrets-set' });
    }
  });
  (async () => {
    await unlink(cfg.socketPath).catch(() => undefined);
    const server = createEgressProxy({ rules: cfg.rules, testResolve: cfg.testResolve, ca: cfg.ca, testUpstreamCa: cfg.testUpstreamCa, secrets: () => secrets, ...(asker ? { ask: asker.ask } : {}), onEvent: (event) => send({ type: 'event', event }) });
    server.on('error', fail);
    server.listen(cfg.socketPath, () => {
      // The sandbox's user connects: the socket is the only door, and the proxy decides on each use.
      chmod(cfg.socketPath, 0o666).then(() => send({ type: 'listening', pid: process.pid }), fail);
    });
  })().catch(fail);
});
process.on('disconnect', () => process.exit(0));
