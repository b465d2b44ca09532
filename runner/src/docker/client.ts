// The only file that imports dockerode: everything else talks to Docker through ContainerClient.
import { chown, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { SandboxLimits, SandboxRuntime } from '@airlock/proto';
import { AirlockError } from '@airlock/proto';
import { demux, type Frame } from './demux.ts';
import { ExecutorChannel, dialExecutor, parseExecutorLabel, type ExecutorExit } from './executor.ts';
import { timeoutFired, underTimeout, type Deadline } from '../exec/deadline.ts';
import { labels } from './labels.ts';

export interface SandboxSpec {
  name: string;
  image: string;
  /** "uid:gid" */
  user: string;
  workspace: string;
  mountPath: string;
  env: Record<string, string>;
  limits: SandboxLimits;
  /** OCI runtime (`HostConfig.Runtime`), always set: an engine's default runtime is not trusted to be runc. */
  runtime: SandboxRuntime;
  labels: Record<string, string>;
  /** Extra bind mounts (`host:container:opts`), e.g. the run's egress directory. */
  binds?: string[];
  /**
   * `rslave`: mounts made later on the host over the workspace path show inside the sandbox (the
   * warm pool binds a run's workspace onto a started sandbox's slot directory, see pool.ts).
   */
  workspacePropagation?: 'rslave';
}

export interface ContainerState {
  running: boolean;
  exitCode: number | null;
  oomKilled: boolean;
}

export interface ExecSpec {
  cmd: string[];
  env: Record<string, string>;
  user: string;
  workdir: string;
  /**
   * End the processes earlier steps left running before starting this one, so none can read this
   * step's environment (its secrets) through /proc. Only the in-sandbox executor can; `docker exec`
   * ignores it.
   */
  isolate?: boolean;
  /**
   * The command's deadline, enforced by whoever runs it (the in-sandbox executor, or coreutils
   * `timeout` around a `docker exec`), who also reports whether it fired. None: no deadline.
   */
  deadline?: Deadline;
}

/** How a command ended: its code (null when killed without one) and whether its deadline ended it. */
export type ExecExit = ExecutorExit;

export interface ExecHandle {
  /** Demultiplexed output; ends when the process (or its container) ends. */
  output: AsyncIterable<Frame>;
  /** How the command ended, once `output` has ended. */
  exit(): Promise<ExecExit>;
}

export interface DockerEvent {
  action: string;
  containerId: string;
  labels: Record<string, string>;
  /** The engine's time of the event in nanoseconds since the epoch, as decimal digits ("" if it gave none). */
  timeNano: string;
}

/** What the runner needs from a container engine. */
export interface ContainerClient {
  ping(): Promise<void>;
  imageExists(image: string): Promise<boolean>;
  /** Creates and starts a sandbox; resolves with the container id. */
  startSandbox(spec: SandboxSpec): Promise<string>;
  exec(containerId: string, spec: ExecSpec): Promise<ExecHandle>;
  /**
   * Runs a short command beside the running step (always `docker exec`, never the executor channel,
   * which is busy with the step): how a process of the run is signalled. Optional for test doubles.
   */
  sideExec?(containerId: string, spec: { cmd: string[]; user: string }): Promise<{ code: number | null; output: string }>;
  inspect(containerId: string): Promise<ContainerState | null>;
  /**
   * The container's CPU usage so far in µs as the engine reports it (its stats, read from the
   * container's cgroup): for runners that cannot see the cgroups themselves. Optional for test doubles.
   */
  cpuUsageUsec?(containerId: string): Promise<number | undefined>;
  /** Sends SIGKILL. Idempotent: a stopped or missing container is not an error. */
  kill(containerId: string): Promise<void>;
  /** Force-removes. Idempotent. */
  remove(containerId: string): Promise<void>;
  listManaged(filter: Record<string, string>): Promise<Array<{ id: string; labels: Record<string, string>; createdMs: number }>>;
  /** Renames a container (a claimed warm-pool sandbox takes its run's name). Optional for test doubles. */
  rename?(containerId: string, name: string): Promise<void>;
  /**
   * Container events (die, oom, …) of Airlock sandboxes, from `since` (the engine's clock, seconds
   * with an optional fraction) if given, until the signal aborts or the engine ends the stream.
   * Resolves when the stream ends; rejects when it cannot be opened.
   */
  events(signal: AbortSignal, onEvent: (e: DockerEvent) => void, opts?: { since?: string }): Promise<void>;
}

/** Image label naming the in-sandbox executor's argv (JSON); see sandbox-images/default/executor.py. */
export const EXECUTOR_LABEL = 'airlock.executor';
/** Where the executor's socket directory is mounted in the sandbox. */
const EXECUTOR_DIR = '/opt/airlock/run';

/**
 * Host processes and threads gVisor (ptrace platform) uses per process of the sandbox (its stub and
 * the Sentry thread tracing it), and for the Sentry itself; measured ~4 per process and ~50 idle.
 */
const RUNSC_HOST_PIDS_PER_PROCESS = 4;
const RUNSC_HOST_PIDS_BASE = 64;

/**
 * The process limits of a sandbox. Under runc the host's pids cgroup counts the sandbox's processes.
 * Under gVisor it counts the Sentry's threads and stubs instead, and the Sentry dies when it hits the
 * limit; there the policy's count is RLIMIT_NPROC, which gVisor's own kernel enforces on the sandbox's
 * processes alone, and the cgroup is a host backstop sized for gVisor's overhead. (Under runc
 * RLIMIT_NPROC would count the uid's processes in every sandbox on the host: not used there.)
 */
function processLimits(spec: SandboxSpec): Pick<Docker.HostConfig, 'PidsLimit' | 'Ulimits'> {
  if (spec.runtime !== 'runsc') return { PidsLimit: spec.limits.pids };
  return {
    PidsLimit: spec.limits.pids * RUNSC_HOST_PIDS_PER_PROCESS + RUNSC_HOST_PIDS_BASE,
    Ulimits: [{ Name: 'nproc', Soft: spec.limits.pids, Hard: spec.limits.pids }],
  };
}

/**
 * Sandbox defaults of DESIGN.md; only the limits and the mount vary per run. With an executor (its
 * argv and the host directory for its socket) the sandbox's command is the executor; without,
 * `sleep infinity` keeps the sandbox up between `docker exec`s.
 */
export function sandboxCreateOptions(spec: SandboxSpec, executor?: { argv: readonly string[]; dir: string }): Docker.ContainerCreateOptions {
  return {
    name: spec.name,
    Image: spec.image,
    // tini (Init) reaps zombies and makes removal fast.
    Cmd: executor ? [...executor.argv, '--socket', `${EXECUTOR_DIR}/s`] : ['sleep', 'infinity'],
    Entrypoint: [],
    User: spec.user,
    WorkingDir: spec.mountPath,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: { ...spec.labels, [labels.managed]: '1' },
    NetworkDisabled: true,
    HostConfig: {
      Runtime: spec.runtime,
      NetworkMode: 'none',
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${spec.limits.tmpfsBytes}` },
      Init: true,
      ...processLimits(spec),
      Memory: spec.limits.memoryBytes,
      MemorySwap: spec.limits.memoryBytes,
      NanoCpus: spec.limits.nanoCpus,
      IpcMode: 'private',
      // No engine log of the sandbox's stdout/stderr: with the executor that stream carries every
      // step's output before redaction, and the engine's log file would keep secrets on disk (and
      // writing it halved throughput). The run log is the record.
      LogConfig: { Type: 'none', Config: {} },
      Binds: [`${spec.workspace}:${spec.mountPath}:rw${spec.workspacePropagation ? `,${spec.workspacePropagation}` : ''}`, ...(executor ? [`${executor.dir}:${EXECUTOR_DIR}:rw`] : []), ...(spec.binds ?? [])],
    },
  };
}

/** ContainerClient over the Docker Engine API (unix socket). */
export class DockerodeClient implements ContainerClient {
  readonly #docker: Docker;
  readonly #useExecutor: boolean;
  readonly #socketsDir: string;
  /** Runtimes the engine was seen to have (a runtime, once registered, is not asked about again). */
  readonly #runtimes = new Set<string>();
  /** Labels of images as `imageExists` last saw them (refreshed at every run's open). */
  readonly #imageLabels = new Map<string, Record<string, string>>();
  /** Executor channels (and their socket directories) of the sandboxes this client started. */
  readonly #executors = new Map<string, { channel: ExecutorChannel; dir: string }>();

  /**
   * `executor: false` runs every step with `docker exec` even when the image ships the in-sandbox
   * executor. `socketsDir` holds the executors' socket directories; it must be the same path for
   * this process and the Docker engine (true on one host, and in the compose file's runner).
   */
  constructor(opts: { socketPath?: string; executor?: boolean; socketsDir?: string } = {}) {
    this.#docker = new Docker({ socketPath: opts.socketPath ?? '/var/run/docker.sock' });
    this.#useExecutor = opts.executor ?? true;
    this.#socketsDir = opts.socketsDir ?? join(tmpdir(), 'airlock-exec');
  }

  /** A fresh directory for one executor's socket, owned by the sandbox's user (and no one else). */
  async #executorDir(user: string): Promise<string> {
    await mkdir(this.#socketsDir, { recursive: true, mode: 0o711 });
    const dir = await mkdtemp(join(this.#socketsDir, 'x'));
    const [uid, gid] = user.split(':').map(Number);
    await chown(dir, uid!, gid ?? uid!);
    return dir;
  }

  /** Connects to the executor once its socket appears; then it accepts no other connection. */
  async #connectExecutor(containerId: string, dir: string): Promise<ExecutorChannel> {
    const path = join(dir, 's');
    const deadline = Date.now() + 15_000;
    for (let i = 0; ; i++) {
      if (await stat(path).then(() => true, () => false)) break;
      if (Date.now() > deadline) throw new Error('the sandbox\'s executor did not start within 15 s');
      if (i % 100 === 99 && !(await this.inspect(containerId))?.running) throw new Error('the sandbox stopped before its executor started');
      await new Promise((r) => setTimeout(r, 5));
    }
    const channel = new ExecutorChannel(await dialExecutor(path, deadline, async () => (await this.inspect(containerId))?.running === true));
    await channel.ready(10_000);
    return channel;
  }

  /** The executor argv an image declares, if any (and if this client uses executors). */
  async #executorOf(image: string): Promise<string[] | undefined> {
    if (!this.#useExecutor) return undefined;
    // The runner checked the image when the run opened; a sandbox started without that check inspects it.
    const labels = this.#imageLabels.get(image) ?? (await this.#docker.getImage(image).inspect().catch(() => null))?.Config?.Labels;
    // A malformed label refuses the sandbox (typed image_invalid) instead of falling back to docker exec.
    return parseExecutorLabel(image, labels?.[EXECUTOR_LABEL]);
  }

  async ping(): Promise<void> {
    await this.#docker.ping();
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      const info = await this.#docker.getImage(image).inspect();
      this.#imageLabels.set(image, info.Config?.Labels ?? {});
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  /**
   * Fails closed when the engine lacks the sandbox's runtime: a policy that asks for gVisor never
   * gets runc instead. The engine's runtime list is read again until the runtime shows up (setup may
   * register it while the runner runs).
   */
  async #requireRuntime(runtime: SandboxRuntime, fresh = false): Promise<void> {
    if (fresh) this.#runtimes.clear();
    if (this.#runtimes.has(runtime)) return;
    const info = (await this.#docker.info()) as { Runtimes?: Record<string, unknown> };
    for (const name of Object.keys(info.Runtimes ?? {})) this.#runtimes.add(name);
    if (!this.#runtimes.has(runtime)) throw runtimeUnavailable(runtime, Object.keys(info.Runtimes ?? {}));
  }

  async startSandbox(spec: SandboxSpec): Promise<string> {
    await this.#requireRuntime(spec.runtime);
    const argv = await this.#executorOf(spec.image);
    const executor = argv ? { argv, dir: await this.#executorDir(spec.user) } : undefined;
    let container: Docker.Container;
    try {
      container = await this.#docker.createContainer(sandboxCreateOptions(spec, executor));
    } catch (err) {
      if (executor) await rm(executor.dir, { recursive: true, force: true });
      // The runtime may have been unregistered since it was seen: ask the engine again, so that
      // refusal is typed too.
      await this.#requireRuntime(spec.runtime, true);
      if (statusOf(err) === 404) {
        throw new AirlockError('image_not_found', `sandbox image ${spec.image} is not on this runner; build it with \`make images\``, { cause: err });
      }
      throw new AirlockError('sandbox_failed', `could not create the sandbox: ${messageOf(err)}`, { cause: err });
    }
    try {
      await container.start();
      // Connected before any step runs: the executor takes this one connection only.
      if (executor) this.#executors.set(container.id, { channel: await this.#connectExecutor(container.id, executor.dir), dir: executor.dir });
    } catch (err) {
      await this.remove(container.id);
      if (executor) await rm(executor.dir, { recursive: true, force: true });
      throw new AirlockError('sandbox_failed', `could not start the sandbox: ${messageOf(err)}`, { cause: err });
    }
    return container.id;
  }

  async exec(containerId: string, spec: ExecSpec): Promise<ExecHandle> {
    const channel = this.#executors.get(containerId)?.channel;
    if (channel) {
      // The executor runs as the sandbox's user; the spec's user is that same user (see the runner).
      return channel.run({ argv: spec.cmd, env: spec.env, cwd: spec.workdir, ...(spec.isolate ? { isolate: true } : {}), ...(spec.deadline ? { deadline: spec.deadline } : {}) });
    }
    if (spec.isolate) {
      // Fail closed: `docker exec` cannot end what earlier steps left running, and any of those
      // processes (same uid) could read this step's environment, its secrets, through /proc.
      throw new AirlockError(
        'secret_denied',
        'this sandbox runs steps through `docker exec`, which cannot keep processes of earlier steps from reading a secret; a step given a secret needs the in-sandbox executor (an image labelled airlock.executor, a runner without --executor exec)',
        { data: { reason: 'no_isolation' } },
      );
    }
    // `timeout` enforces the deadline here; whether it fired is read from its status and a clock
    // marked now, before the exec exists, so it can only run ahead of `timeout`'s own.
    const before = performance.now();
    const deadline = spec.deadline;
    const exec = await this.#docker.getContainer(containerId).exec({
      Cmd: deadline ? underTimeout(spec.cmd, deadline) : spec.cmd,
      Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      User: spec.user,
      WorkingDir: spec.workdir,
      AttachStdout: true,
      AttachStderr: true,
      AttachStdin: false,
      Tty: false,
    });
    const stream = (await exec.start({ hijack: true, stdin: false })) as NodeJS.ReadableStream & AsyncIterable<Buffer>;
    // Read when the output ends (the process is gone), not whenever exit() is asked: a caller that
    // asks late (after a log outage) must not turn a command's own `exit 124` into a timeout.
    let ended: number | undefined;
    stream.once('end', () => (ended ??= performance.now()));
    stream.once('close', () => (ended ??= performance.now()));
    return {
      output: demux(stream),
      exit: async () => {
        const elapsed = (ended ?? performance.now()) - before;
        const info = await exec.inspect();
        const code = info.Running ? null : (info.ExitCode ?? null);
        return { code, timedOut: deadline ? timeoutFired(code, elapsed, deadline) : false };
      },
    };
  }

  async sideExec(containerId: string, spec: { cmd: string[]; user: string }): Promise<{ code: number | null; output: string }> {
    const exec = await this.#docker.getContainer(containerId).exec({ Cmd: spec.cmd, User: spec.user, AttachStdout: true, AttachStderr: true, AttachStdin: false, Tty: false });
    const stream = (await exec.start({ hijack: true, stdin: false })) as NodeJS.ReadableStream & AsyncIterable<Buffer>;
    let output = '';
    for await (const f of demux(stream)) if (output.length < 4096) output += f.data.toString('utf8');
    const info = await exec.inspect();
    return { code: info.Running ? null : (info.ExitCode ?? null), output };
  }

  async inspect(containerId: string): Promise<ContainerState | null> {
    try {
      const info = await this.#docker.getContainer(containerId).inspect();
      return { running: info.State.Running, exitCode: info.State.Running ? null : info.State.ExitCode, oomKilled: info.State.OOMKilled };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async cpuUsageUsec(containerId: string): Promise<number | undefined> {
    try {
      const stats = await this.#docker.getContainer(containerId).stats({ stream: false, 'one-shot': true });
      const ns = stats.cpu_stats?.cpu_usage?.total_usage;
      return typeof ns === 'number' && ns > 0 ? ns / 1000 : undefined;
    } catch {
      return undefined;
    }
  }

  async kill(containerId: string): Promise<void> {
    try {
      await this.#docker.getContainer(containerId).kill({ signal: 'SIGKILL' });
    } catch (err) {
      const status = statusOf(err);
      if (status === 404 || status === 409 || status === 304) return;
      throw err;
    }
  }

  async remove(containerId: string): Promise<void> {
    const executor = this.#executors.get(containerId);
    this.#executors.delete(containerId);
    executor?.channel?.close();
    try {
      await this.#docker.getContainer(containerId).remove({ force: true, v: true });
    } catch (err) {
      const status = statusOf(err);
      // 404: already gone; 409: removal already in progress.
      if (status !== 404 && status !== 409) throw err;
    } finally {
      if (executor) await rm(executor.dir, { recursive: true, force: true });
    }
  }

  async listManaged(filter: Record<string, string>): Promise<Array<{ id: string; labels: Record<string, string>; createdMs: number }>> {
    const label = [`${labels.managed}=1`, ...Object.entries(filter).map(([k, v]) => `${k}=${v}`)];
    const list = await this.#docker.listContainers({ all: true, filters: { label } });
    return list.map((c) => ({ id: c.Id, labels: c.Labels, createdMs: c.Created * 1000 }));
  }

  async rename(containerId: string, name: string): Promise<void> {
    await this.#docker.getContainer(containerId).rename({ name });
  }

  async events(signal: AbortSignal, onEvent: (e: DockerEvent) => void, opts: { since?: string } = {}): Promise<void> {
    const stream = (await this.#docker.getEvents({
      // The engine takes "seconds.nanoseconds"; the typings say number, which would lose the nanoseconds.
      ...(opts.since ? { since: opts.since as unknown as number } : {}),
      filters: { type: ['container'], label: [`${labels.managed}=1`], event: ['die', 'oom'] },
    })) as NodeJS.ReadableStream & { destroy(): void };
    // Aborted while the stream was being opened: the listener below would never fire.
    if (signal.aborted) {
      stream.destroy();
      return;
    }
    signal.addEventListener('abort', () => stream.destroy(), { once: true });
    let buffered = '';
    stream.on('data', (piece: Buffer) => {
      buffered += piece.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.trim()) continue;
        try {
          const e = JSON.parse(line) as { Action?: string; id?: string; Actor?: { Attributes?: Record<string, string> } };
          // timeNano does not fit a double: its digits are read from the line itself.
          const timeNano = /"timeNano":\s*(\d+)/.exec(line)?.[1] ?? '';
          if (e.Action && e.id) onEvent({ action: e.Action, containerId: e.id, labels: e.Actor?.Attributes ?? {}, timeNano });
        } catch {
          // A malformed event line from the engine is skipped; the exit path re-checks with inspect.
        }
      }
    });
    await new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
  }
}

function runtimeUnavailable(runtime: string, known: readonly string[]): AirlockError {
  return new AirlockError(
    'runtime_unavailable',
    `the run's policy asks for sandbox runtime "${runtime}", which this runner's container engine does not have (it has ${known.join(', ') || 'none'}); refusing the run rather than using another runtime (\`make setup\` registers runsc)`,
    { data: { runtime, available: [...known] } },
  );
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number } | null)?.statusCode;
}

function messageOf(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return e?.json?.message ?? e?.message ?? String(err);
}
