// The only file that imports dockerode: everything else talks to Docker through ContainerClient.
import Docker from 'dockerode';
import type { SandboxLimits } from '@airlock/proto';
import { AirlockError } from '@airlock/proto';
import { demux, type Frame } from './demux.ts';
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
  labels: Record<string, string>;
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
}

export interface ExecHandle {
  /** Demultiplexed output; ends when the process (or its container) ends. */
  output: AsyncIterable<Frame>;
  /** Exit code once `output` has ended; null when the process was killed without one. */
  exitCode(): Promise<number | null>;
}

export interface DockerEvent {
  action: string;
  containerId: string;
  labels: Record<string, string>;
}

/** What the runner needs from a container engine. */
export interface ContainerClient {
  ping(): Promise<void>;
  imageExists(image: string): Promise<boolean>;
  /** Creates and starts a sandbox; resolves with the container id. */
  startSandbox(spec: SandboxSpec): Promise<string>;
  exec(containerId: string, spec: ExecSpec): Promise<ExecHandle>;
  inspect(containerId: string): Promise<ContainerState | null>;
  /** Sends SIGKILL. Idempotent: a stopped or missing container is not an error. */
  kill(containerId: string): Promise<void>;
  /** Force-removes. Idempotent. */
  remove(containerId: string): Promise<void>;
  listManaged(filter: Record<string, string>): Promise<Array<{ id: string; labels: Record<string, string>; createdMs: number }>>;
  /** Container events (die, oom, …) of Airlock sandboxes until the signal aborts. */
  events(signal: AbortSignal, onEvent: (e: DockerEvent) => void): Promise<void>;
}

/** Sandbox defaults of DESIGN.md; only the limits and the mount vary per run. */
export function sandboxCreateOptions(spec: SandboxSpec): Docker.ContainerCreateOptions {
  return {
    name: spec.name,
    Image: spec.image,
    // tini (Init) reaps zombies and makes removal fast; `sleep infinity` keeps the sandbox up between steps.
    Cmd: ['sleep', 'infinity'],
    Entrypoint: [],
    User: spec.user,
    WorkingDir: spec.mountPath,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: { ...spec.labels, [labels.managed]: '1' },
    NetworkDisabled: true,
    HostConfig: {
      NetworkMode: 'none',
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${spec.limits.tmpfsBytes}` },
      Init: true,
      PidsLimit: spec.limits.pids,
      Memory: spec.limits.memoryBytes,
      MemorySwap: spec.limits.memoryBytes,
      NanoCpus: spec.limits.nanoCpus,
      IpcMode: 'private',
      Binds: [`${spec.workspace}:${spec.mountPath}:rw`],
    },
  };
}

/** ContainerClient over the Docker Engine API (unix socket). */
export class DockerodeClient implements ContainerClient {
  readonly #docker: Docker;

  constructor(opts: { socketPath?: string } = {}) {
    this.#docker = new Docker({ socketPath: opts.socketPath ?? '/var/run/docker.sock' });
  }

  async ping(): Promise<void> {
    await this.#docker.ping();
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      await this.#docker.getImage(image).inspect();
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  async startSandbox(spec: SandboxSpec): Promise<string> {
    let container: Docker.Container;
    try {
      container = await this.#docker.createContainer(sandboxCreateOptions(spec));
    } catch (err) {
      if (statusOf(err) === 404) {
        throw new AirlockError('image_not_found', `sandbox image ${spec.image} is not on this runner; build it with \`make images\``, { cause: err });
      }
      throw new AirlockError('sandbox_failed', `could not create the sandbox: ${messageOf(err)}`, { cause: err });
    }
    try {
      await container.start();
    } catch (err) {
      await this.remove(container.id);
      throw new AirlockError('sandbox_failed', `could not start the sandbox: ${messageOf(err)}`, { cause: err });
    }
    return container.id;
  }

  async exec(containerId: string, spec: ExecSpec): Promise<ExecHandle> {
    const exec = await this.#docker.getContainer(containerId).exec({
      Cmd: spec.cmd,
      Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      User: spec.user,
      WorkingDir: spec.workdir,
      AttachStdout: true,
      AttachStderr: true,
      AttachStdin: false,
      Tty: false,
    });
    const stream = (await exec.start({ hijack: true, stdin: false })) as NodeJS.ReadableStream & AsyncIterable<Buffer>;
    return {
      output: demux(stream),
      exitCode: async () => {
        const info = await exec.inspect();
        return info.Running ? null : (info.ExitCode ?? null);
      },
    };
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
    try {
      await this.#docker.getContainer(containerId).remove({ force: true, v: true });
    } catch (err) {
      const status = statusOf(err);
      // 404: already gone; 409: removal already in progress.
      if (status === 404 || status === 409) return;
      throw err;
    }
  }

  async listManaged(filter: Record<string, string>): Promise<Array<{ id: string; labels: Record<string, string>; createdMs: number }>> {
    const label = [`${labels.managed}=1`, ...Object.entries(filter).map(([k, v]) => `${k}=${v}`)];
    const list = await this.#docker.listContainers({ all: true, filters: { label } });
    return list.map((c) => ({ id: c.Id, labels: c.Labels, createdMs: c.Created * 1000 }));
  }

  async events(signal: AbortSignal, onEvent: (e: DockerEvent) => void): Promise<void> {
    const stream = (await this.#docker.getEvents({
      filters: { type: ['container'], label: [`${labels.managed}=1`], event: ['die', 'oom'] },
    })) as NodeJS.ReadableStream & { destroy(): void };
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
          if (e.Action && e.id) onEvent({ action: e.Action, containerId: e.id, labels: e.Actor?.Attributes ?? {} });
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

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number } | null)?.statusCode;
}

function messageOf(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return e?.json?.message ?? e?.message ?? String(err);
}
