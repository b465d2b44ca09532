import { SnapshotStore } from '@airlock/snapshot';
import type { HarnessContext } from '../context.ts';

/**
 * The snapshot store, opened on first use and kept; an open that failed (NATS away) is not kept, so
 * the next caller tries again.
 */
export class LazySnapshotStore implements AsyncDisposable {
  readonly #ctx: HarnessContext;
  #opening: Promise<SnapshotStore> | undefined;

  constructor(ctx: HarnessContext) {
    this.#ctx = ctx;
  }

  get(): Promise<SnapshotStore> {
    if (!this.#opening) {
      const opening = SnapshotStore.open(this.#ctx.nats.nc, { replicas: this.#ctx.cfg.replicas });
      opening.catch(() => {
        if (this.#opening === opening) this.#opening = undefined;
      });
      this.#opening = opening;
    }
    return this.#opening;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const store = await this.#opening?.catch(() => undefined);
    this.#opening = undefined;
    await store?.[Symbol.asyncDispose]();
  }
}
