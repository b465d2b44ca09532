import { createPublicKey, type KeyObject } from 'node:crypto';
import { RunLogWriter } from '@airlock/ledger';
import type { NatsHandles } from '@airlock/transport';
import { signHarnessLog } from '@airlock/trust';
import { checkRunLog, type CheckedEvent } from './routing/provenance.ts';
import type { RunnerKeyStore } from './routing/runner-keys.ts';

/**
 * The run logs the harness writes to, one writer per run (plus the `system` log for requests that
 * name no run). Every event it writes is signed with the harness key, so a runner cannot write in
 * its name; reading a log back checks each event's writer.
 */
export class RunLogs {
  readonly #nats: NatsHandles;
  readonly #key: KeyObject;
  readonly #runnerKeys: RunnerKeyStore;
  readonly #writers = new Map<string, RunLogWriter>();
  /** Where requests that name no run (or a malformed one) are audited. */
  readonly system: RunLogWriter;

  constructor(nats: NatsHandles, key: KeyObject, runnerKeys: RunnerKeyStore) {
    this.#nats = nats;
    this.#key = key;
    this.#runnerKeys = runnerKeys;
    this.system = new RunLogWriter(nats.js, nats.jsm, 'system', this.#writerOpts(false));
  }

  #writerOpts(expectOthers: boolean): { by: string; expectOthers: boolean; sign: (stored: Uint8Array) => string } {
    const key = this.#key;
    return { by: 'harness', expectOthers, sign: (stored) => signHarnessLog(key, stored) };
  }

  /** The writer of a run's log (runners write the same log: `expectOthers`). */
  writer(runId: string): RunLogWriter {
    let w = this.#writers.get(runId);
    if (!w) {
      w = new RunLogWriter(this.#nats.js, this.#nats.jsm, runId, this.#writerOpts(true));
      this.#writers.set(runId, w);
    }
    return w;
  }

  /** Drops a closed run's writer (a later event gets a fresh one). */
  forget(runId: string): void {
    this.#writers.delete(runId);
  }

  /** A run's log with each event's writer checked against the harness key and the run's holders. */
  checked(runId: string, holder: string): Promise<CheckedEvent[]> {
    return checkRunLog(this.#nats, runId, { holder, harnessKey: createPublicKey(this.#key), runners: this.#runnerKeys });
  }
}
