// The warm pool: sandboxes created and started ahead of time (executor connected), claimed at open.
//
// A sandbox's mounts are fixed when it is created, so a pooled sandbox bind-mounts an empty slot
// directory (a shared self-bind, `rslave` in the sandbox) at the mount path; at claim the runner
// binds the run's workspace over the slot on the host and the mount propagates into the running
// sandbox. The workspace itself never moves: snapshots keep reading it on the host. A slot's claim
// file (beside the slot) names the run and its workspace, so a reap after a crash gives it back.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SandboxLimits, SandboxRuntime } from '@airlock/proto';
import type { ContainerClient } from './docker/client.ts';
import { labels } from './docker/labels.ts';
import type { Logger } from './logger.ts';
import { SANDBOX_GID, SANDBOX_UID, releaseWorkspace, type PreparedWorkspace } from './workspace.ts';

const run = promisify(execFile);

/** How long after a claim the pool starts its replacement (ms). */
const REFILL_DELAY_MS = 750;

/** What a pooled sandbox was made for; a run is served from the pool only when its open asks for exactly this. */
export interface PoolKey {
  image: string;
  mountPath: string;
  limits: SandboxLimits;
  runtime: SandboxRuntime;
  env: Record<string, string>;
}

/** What the pool needs from the runner. */
export interface PoolHost {
  readonly docker: ContainerClient;
  readonly log: Logger;
  readonly runnerId: string;
  readonly stateDir: string;
  /** Read at each fill: the deployment id is known only once the runner started. */
  deployment(): string;
}

/** A pooled sandbox handed to one run. */
export interface ClaimedSandbox {
  containerId: string;
  /** Host slot directory the run's workspace is bound onto; released at close (see releaseSlot). */
  slot: string;
}

interface Pooled {
  containerId: string;
  slot: string;
  key: string;
}

/** Why a run's open does not come from the pool (logged at debug; the open goes on the normal path). */
export type PoolMiss = 'disabled' | 'runtime' | 'egress' | 'user' | 'key' | 'empty' | 'attach_failed';

const keyOf = (k: PoolKey): string => JSON.stringify([k.image, k.mountPath, k.runtime, k.limits.memoryBytes, k.limits.pids, k.limits.nanoCpus, k.limits.tmpfsBytes, Object.entries(k.env).sort()]);

/** The pool's sandboxes are the sandbox user's; a run must run as that user to take one. */
const POOL_USER = `${SANDBOX_UID}:${SANDBOX_GID}`;

/**
 * Keeps `size` started sandboxes for the last key a run opened with (the policy's image, limits,
 * mount path and environment), refilled in the background; each is handed to one run at most and
 * destroyed with it. `size` 0 disables the pool.
 */
export class WarmPool {
  readonly #host: PoolHost;
  readonly #size: number;
  readonly #idle: Pooled[] = [];
  #key: PoolKey | undefined;
  #filling = 0;
  #closed = false;
  /** Set when the host cannot make slots (no mount rights): the pool stays off, opens go the normal way. */
  #broken = false;
  readonly #pending = new Set<Promise<void>>();

  constructor(host: PoolHost, size: number) {
    this.#host = host;
    this.#size = size;
  }

  /** Idle pooled sandboxes now (for tests and the benchmark). */
  get idle(): number {
    return this.#idle.length;
  }

  /** Resolves once the pool holds `size` idle sandboxes for the current key (or is off); for tests and the benchmark. */
  async whenFull(timeoutMs = 60_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.#size === 0 || this.#broken || !this.#key) return false;
      if (this.#idle.length >= this.#size) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  /**
   * Takes a pooled sandbox for a run and attaches its workspace, or says why not. Never hands one
   * sandbox to two runs: it leaves the idle list before the first await.
   */
  async claim(key: PoolKey, runId: string, ws: PreparedWorkspace, opts: { egress: boolean }): Promise<ClaimedSandbox | PoolMiss> {
    if (ws.user !== POOL_USER) return 'user';
    const p = this.#take(key, opts);
    if (typeof p === 'string') return p;
    try {
      await writeFile(`${p.slot}.claim`, JSON.stringify({ runId, workspace: ws }), { mode: 0o600 });
      await run('mount', ['--bind', ws.path, p.slot]);
      this.#rename(p, runId);
      return { containerId: p.containerId, slot: p.slot };
    } catch (err) {
      this.#host.log.warn({ err, runId, containerId: p.containerId }, 'could not attach the workspace to a pooled sandbox; opening normally');
      await this.#host.docker.remove(p.containerId).catch(() => undefined);
      await releaseSlot(p.slot, { giveBack: false }).catch((e: unknown) => this.#host.log.error({ err: e, slot: p.slot }, 'could not release a pool slot'));
      return 'attach_failed';
    }
  }

  /**
   * A pooled sandbox for a run whose workspace the runner makes (fresh, or restored from a snapshot):
   * the slot directory itself becomes the run's workspace (lent to the sandbox user, deleted at
   * close), so nothing is mounted on the open's path. The slot was never writable by the sandbox
   * before the claim; it is checked to be empty all the same.
   */
  async claimFresh(key: PoolKey, runId: string, opts: { egress: boolean }): Promise<(ClaimedSandbox & { workspace: PreparedWorkspace }) | PoolMiss> {
    const p = this.#take(key, opts);
    if (typeof p === 'string') return p;
    const workspace: PreparedWorkspace = { path: p.slot, user: POOL_USER, ownerBack: '', owned: true };
    try {
      if ((await readdir(p.slot)).length > 0) throw new Error(`pool slot ${p.slot} is not empty`);
      await writeFile(`${p.slot}.claim`, JSON.stringify({ runId, workspace }), { mode: 0o600 });
      await chown(p.slot, SANDBOX_UID, SANDBOX_GID);
      this.#rename(p, runId);
      return { containerId: p.containerId, slot: p.slot, workspace };
    } catch (err) {
      this.#host.log.warn({ err, runId, containerId: p.containerId }, 'could not give a pooled sandbox its workspace; opening normally');
      await this.#destroy(p);
      return 'attach_failed';
    }
  }

  /** Takes an idle sandbox for `key` off the list (before any await: one sandbox, one run), or says why not. */
  #take(key: PoolKey, opts: { egress: boolean }): Pooled | PoolMiss {
    if (this.#size === 0 || this.#broken || this.#closed) return 'disabled';
    if (key.runtime !== 'runc') return 'runtime';
    if (opts.egress) return 'egress';
    const k = keyOf(key);
    if (!this.#key || keyOf(this.#key) !== k) {
      this.#learn(key);
      return 'key';
    }
    const idx = this.#idle.findIndex((p) => p.key === k);
    if (idx < 0) {
      this.#refill();
      return 'empty';
    }
    const [p] = this.#idle.splice(idx, 1) as [Pooled];
    // Refilled a little later: a sandbox starting now would compete with this run's first command.
    setTimeout(() => this.#refill(), REFILL_DELAY_MS).unref();
    return p;
  }

  /** Names a claimed sandbox after its run like any sandbox, off the open's path (sweeps read the claim file, not the name). */
  #rename(p: Pooled, runId: string): void {
    const rename = this.#host.docker.rename?.(p.containerId, `airlock-${runId.toLowerCase()}-${this.#host.runnerId}-1`);
    if (rename) this.#track(rename.catch((err: unknown) => this.#host.log.warn({ err, runId, containerId: p.containerId }, 'could not rename a claimed pooled sandbox')));
  }

  /** A new key (the policy changed): the idle sandboxes of the old one go, the pool fills for the new one. */
  #learn(key: PoolKey): void {
    this.#key = key;
    const k = keyOf(key);
    for (const p of this.#idle.splice(0)) {
      if (p.key !== k) this.#track(this.#destroy(p));
      else this.#idle.push(p);
    }
    this.#refill();
  }

  #refill(): void {
    while (!this.#closed && !this.#broken && this.#key && this.#idle.length + this.#filling < this.#size) {
      this.#filling++;
      const key = this.#key;
      this.#track(
        this.#create(key)
          .then((p) => {
            if (this.#closed || p.key !== keyOf(this.#key ?? key)) return this.#destroy(p);
            this.#idle.push(p);
            return undefined;
          })
          .catch((err: unknown) => {
            // One failure turns the pool off: a host where slots cannot be made would fail every time.
            this.#broken = true;
            this.#host.log.warn({ err }, 'the warm pool could not start a sandbox; the pool is off, opens start their own');
          })
          .finally(() => this.#filling--),
      );
    }
  }

  async #create(key: PoolKey): Promise<Pooled> {
    const slot = join(this.#host.stateDir, 'pool', randomBytes(6).toString('hex'));
    await mkdir(slot, { recursive: true, mode: 0o755 });
    try {
      // A shared mount of its own: what is later bound over it propagates into the sandbox (rslave).
      await run('mount', ['--bind', slot, slot]);
      await run('mount', ['--make-shared', slot]);
      const containerId = await this.#host.docker.startSandbox({
        name: `airlock-pool-${this.#host.runnerId}-${slot.slice(-12)}`,
        image: key.image,
        user: POOL_USER,
        workspace: slot,
        workspacePropagation: 'rslave',
        mountPath: key.mountPath,
        env: key.env,
        limits: key.limits,
        runtime: key.runtime,
        labels: {
          [labels.runId]: '',
          [labels.runnerId]: this.#host.runnerId,
          [labels.deployment]: this.#host.deployment(),
          [labels.workspace]: slot,
          [labels.ownerBack]: '',
          [labels.ownedWorkspace]: '0',
          [labels.pool]: '1',
        },
      });
      return { containerId, slot, key: keyOf(key) };
    } catch (err) {
      await releaseSlot(slot, { giveBack: false }).catch(() => undefined);
      throw err;
    }
  }

  async #destroy(p: Pooled): Promise<void> {
    await this.#host.docker.remove(p.containerId).catch((err: unknown) => this.#host.log.warn({ err, containerId: p.containerId }, 'could not remove a pooled sandbox'));
    await releaseSlot(p.slot, { giveBack: false }).catch((err: unknown) => this.#host.log.error({ err, slot: p.slot }, 'could not release a pool slot'));
  }

  #track(p: Promise<void>): void {
    this.#pending.add(p);
    p.finally(() => this.#pending.delete(p)).catch(() => undefined);
  }

  /** Stops filling and removes every idle pooled sandbox (claimed ones belong to their runs). */
  async drain(): Promise<void> {
    this.#closed = true;
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    await Promise.allSettled(this.#idle.splice(0).map((p) => this.#destroy(p)));
  }
}

async function isMountpoint(path: string): Promise<boolean> {
  try {
    await run('mountpoint', ['-q', path]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Unmounts a slot (the run's workspace, then the slot's own bind), removes the empty directory (never
 * recursively: nothing is deleted through a mount) and its claim file; with `giveBack`, the claimed
 * run's workspace is given back as a normal close would (for reaps after a crash). Idempotent.
 */
export async function releaseSlot(slot: string, opts: { giveBack: boolean }): Promise<void> {
  for (let i = 0; i < 4 && (await isMountpoint(slot)); i++) await run('umount', [slot]);
  if (await isMountpoint(slot)) throw new Error(`pool slot ${slot} is still mounted`);
  const claimFile = `${slot}.claim`;
  const claim = await readFile(claimFile, 'utf8').then((t) => JSON.parse(t) as { workspace?: PreparedWorkspace }, () => undefined);
  if (claim?.workspace?.path === slot && claim.workspace.owned) {
    // The slot was the run's own (runner-made) workspace; nothing is mounted on it any more.
    await rm(slot, { recursive: true, force: true });
  } else {
    await rmdir(slot).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    if (opts.giveBack && claim?.workspace) await releaseWorkspace(claim.workspace);
  }
  await rm(claimFile, { force: true });
}

/**
 * Unmounts a run's pool slot once its sandbox is gone (before its workspace is given back or deleted).
 * A failure is logged; the slot stays until the next reap, the workspace is still given back.
 */
export async function releaseRunSlot(r: { runId: string; poolSlot?: string | undefined }, log: Logger): Promise<void> {
  if (!r.poolSlot) return;
  const slot = r.poolSlot;
  r.poolSlot = undefined;
  await releaseSlot(slot, { giveBack: false }).catch((err: unknown) => log.error({ err, runId: r.runId, slot }, 'could not release the run\'s pool slot'));
}

/** The run a pooled sandbox was claimed for (its claim file), or '' when it is idle or unknown. */
export async function claimedRunId(slot: string): Promise<string> {
  try {
    const c = JSON.parse(await readFile(`${slot}.claim`, 'utf8')) as { runId?: unknown };
    return typeof c.runId === 'string' ? c.runId : '';
  } catch {
    return '';
  }
}
