import type { KeyObject } from 'node:crypto';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { AirlockError, names } from '@airlock/proto';
import { serializeManifest } from '@airlock/snapshot';
import { buildBundle } from '@airlock/trust';
import type { HarnessContext } from '../context.ts';
import type { RunLogs } from '../run-logs.ts';
import type { RunRecords } from '../runs/records.ts';
import type { LazySnapshotStore } from '../snapshots/store.ts';

/** Where a built bundle was stored, and what it holds. */
export interface BundleRef {
  runId: string;
  object: string;
  bytes: number;
  events: number;
  keyId: string;
}

/**
 * Builds the proof bundle of a run: its events exactly as stored, the manifests of its snapshots,
 * the pinned policy, signed with the harness key. Stored in the bundles object store (a bundle may
 * be far larger than a NATS message); the CLI downloads it.
 */
export class BundleBuilder {
  readonly #ctx: HarnessContext;
  readonly #records: RunRecords;
  readonly #logs: RunLogs;
  readonly #key: { privateKey: KeyObject; keyId: string };
  readonly #snapshots: LazySnapshotStore;

  constructor(ctx: HarnessContext, deps: { records: RunRecords; logs: RunLogs; key: { privateKey: KeyObject; keyId: string }; snapshots: LazySnapshotStore }) {
    this.#ctx = ctx;
    this.#records = deps.records;
    this.#logs = deps.logs;
    this.#key = deps.key;
    this.#snapshots = deps.snapshots;
  }

  async bundle(runId: string): Promise<BundleRef> {
    const { nats, cfg } = this.#ctx;
    const { record } = await this.#records.get(runId, { fresh: true });
    // A bundle vouches for its events: one written by someone who may not write this run is refused.
    const checked = await this.#logs.checked(runId, record.runnerId);
    const forged = checked.filter((c) => c.forged);
    if (forged.length > 0) {
      this.#ctx.log.error({ runId, forged: forged.map((f) => ({ seq: f.event.seq, by: f.event.by, why: f.forged })) }, 'run log holds events its writers could not have written');
      throw new AirlockError('verification_failed', `the log of run ${runId} holds ${forged.length} event(s) not written by the harness or the runner holding the run: ${forged.map((f) => `#${f.event.seq} by ${f.event.by} (${f.forged})`).join('; ')}`, {
        data: { forged: forged.map((f) => ({ seq: f.event.seq, by: f.event.by, reason: f.forged })) },
      });
    }
    const events = checked.map((c) => c.bytes);
    const store = await this.#snapshots.get();
    const manifests: Record<string, Uint8Array> = {};
    for (const bytes of events) {
      const e = JSON.parse(new TextDecoder().decode(bytes)) as { type?: string; digest?: string; fromSnapshot?: string };
      for (const d of [e.type === 'snapshot.created' ? e.digest : undefined, e.fromSnapshot]) {
        if (d && !manifests[d]) manifests[d] = serializeManifest(await store.getManifest(d));
      }
    }
    const policies = await new Kvm(nats.nc).open(names.policiesBucket);
    const policyText = (await policies.get(record.policyHash))?.string();
    if (!policyText) throw new AirlockError('internal', `policy ${record.policyHash} of run ${runId} is not in the policy bucket`);
    const bundle = buildBundle({ runId, events, manifests, policyText, policyHash: record.policyHash }, this.#key.privateKey);
    const text = JSON.stringify(bundle);
    const objm = new Objm(nats.nc);
    const bucket = await objm.create(names.bundlesBucket, { replicas: cfg.replicas });
    const object = `${runId}-${Date.now()}`;
    await bucket.putBlob({ name: object }, new TextEncoder().encode(text));
    return { runId, object, bytes: text.length, events: events.length, keyId: this.#key.keyId };
  }
}
