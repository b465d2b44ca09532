import type { DockerEvent } from './docker/client.ts';

/**
 * What the engine's event stream said about sandboxes: OOM events counted per container (a step
 * compares the count before its exec with the count after: no clock decides it) and containers
 * reported dead, until their run replaces them.
 */
export class SandboxEvents {
  readonly #ooms = new Map<string, number>();
  readonly #died = new Set<string>();

  /** Feeds one engine event. */
  readonly onEvent = (e: DockerEvent): void => {
    if (e.action === 'oom') this.#ooms.set(e.containerId, (this.#ooms.get(e.containerId) ?? 0) + 1);
    if (e.action === 'die') this.#died.add(e.containerId);
  };

  /** OOM events seen so far for a container. */
  ooms(containerId: string): number {
    return this.#ooms.get(containerId) ?? 0;
  }

  died(containerId: string): boolean {
    return this.#died.has(containerId);
  }

  /** Forgets a container that was replaced. */
  forget(containerId: string): void {
    this.#ooms.delete(containerId);
    this.#died.delete(containerId);
  }
}
