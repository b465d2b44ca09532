import { createPublicKey, type KeyObject } from 'node:crypto';
import { RunLogWriter } from '@airlock/ledger';
import type { LogEvent, LogEventInput } from '@airlock/proto';
import type { NatsHandles } from '@airlock/transport';
import { signHarnessLog } from '@airlock/trust';
import { checkRunLog, type CheckedEvent } from './routing/provenance.ts';
import type { RunnerKeyStore } from './routing/runner-keys.ts';

/** What the harness does with a run's log: append an event, get it back as stored. */
export interface RunLog {
  append(input: LogEventInput): Promise<LogEvent>;
}

/**
 * The run logs the harness writes to, one writer per run (plus the `system` log for requests that
 * name no run). Every event it writes is signed with the harness key, so a runner cannot write in
 * its name; reading a log back checks each event's writer.
 */
export class RunLogs {
  readonly #nats: NatsHandles;
  readonly #key: KeyObject;
  readonly #runnerKeys: RunnerKeyStore;
  readonly #writers = new Map<string, RunLog>();
  /** Told of every event the harness wrote to a run's log, as stored (the governance fold keeps up with them). */
  readonly #listeners: Array<(runId: string, event: LogEvent) => void> = [];
  /** Where requests that name no run (or a malformed one) are audited. */
  readonly system: RunLogWriter;

  constructor(nats: NatsHandles, key: KeyObject, runnerKeys: RunnerKeyStore) {
    this.#nats = nats;
    this.#key = key;
    this.#runnerKeys = runnerKeys;
    this.system = new RunLogWriter(nats.js, nats.jsm, 'system', this.#writerOpts(false));
  }

  #writerOpts(expectOthers: boolean): { by: string; expectOthers: boolean; sign: (stored: Uint8Array, storedSha256?: string) => string } {
    const key = this.#key;
    return { by: 'harness', expectOthers, sign: (stored, storedSha256) => signHarnessLog(key, stored, storedSha256) };
  }

  /** The writer of a run's log (runners write the same log: `expectOthers`). */
  writer(runId: string): RunLog {
    let w = this.#writers.get(runId);
    if (!w) {
      const writer = new RunLogWriter(this.#nats.js, this.#nats.jsm, runId, this.#writerOpts(true));
      w = {
        append: async (input) => {
          const stored = await writer.append(input);
          for (const fn of this.#listeners) fn(runId, stored);
          return stored;
        },
      };
      this.#writers.set(runId, w);
    }
    return w;
  }

  /** Calls `fn` with every event the harness writes to a run's log from now on. */
  onAppend(fn: (runId: string, event: LogEvent) => void): void {
    this.#listeners.push(fn);
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
