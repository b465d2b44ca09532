// Real components for integration tests: nats-server processes on loopback, runner and harness services.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connectNats, type NatsHandles } from '@airlock/transport';
import { DockerodeClient, RunnerService, type ContainerClient, type RunnerConfig } from '@airlock/runner';
import { HarnessService, HarnessConfigSchema, issueCredential, type HarnessConfig } from '@airlock/harness';
import { Airlock } from '@airlock/client';
import { AirlockError, SERVICE_NODE_FLAGS, SandboxRuntimeSchema, type LogEvent, type Role, type SandboxRuntime } from '@airlock/proto';
import { importPrivateKey } from '@airlock/trust';
import { defaultPolicy, loadPolicyFile } from '@airlock/validate';
import { pino } from 'pino';

export const silent = pino({ level: process.env.AIRLOCK_TEST_LOG ?? 'silent' });

/**
 * The sandbox runtime the suites run under: AIRLOCK_TEST_RUNTIME (the `integration-runsc` project sets
 * `runsc`), else runc. An unknown value fails the suite rather than running it under runc.
 */
export function testRuntime(): SandboxRuntime {
  return SandboxRuntimeSchema.parse(process.env.AIRLOCK_TEST_RUNTIME ?? 'runc');
}

/**
 * The policy file a test stack's harness enforces: `file` (or the shipped default) with the suite's
 * runtime, written into `dir`. Under runc with no file, none (the harness loads the default itself).
 */
async function policyForRuntime(file: string | undefined, dir: string): Promise<string | undefined> {
  const runtime = testRuntime();
  if (runtime === 'runc' && !file) return undefined;
  const policy = file ? await loadPolicyFile(file) : await defaultPolicy();
  if (policy.runtime === runtime) return file;
  const out = join(dir, `policy-${runtime}.json`);
  writeFileSync(out, JSON.stringify({ ...policy, runtime }));
  return out;
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await Promise.resolve(check()).catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A nats-server with JetStream on a loopback port; `restart()` keeps its store (and port). */
export class NatsServer implements AsyncDisposable {
  readonly port: number;
  readonly storeDir: string;
  #proc: ChildProcess | undefined;

  private constructor(port: number, storeDir: string) {
    this.port = port;
    this.storeDir = storeDir;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<NatsServer> {
    const s = new NatsServer(await freePort(), mkdtempSync(join(tmpdir(), 'airlock-nats-')));
    await s.#spawn();
    return s;
  }

  async #spawn(): Promise<void> {
    this.#proc = spawn('nats-server', ['-js', '-sd', this.storeDir, '-a', '127.0.0.1', '-p', String(this.port)], { stdio: 'ignore' });
    await waitUntil('nats-server to listen', () => portOpen(this.port));
  }

  async stop(): Promise<void> {
    const p = this.#proc;
    if (!p || p.exitCode !== null) return;
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.#spawn();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

export interface StackOptions {
  runnerId?: string;
  slots?: number;
  harness?: Partial<HarnessConfig>;
  /** The runner's container client (default: a {@link TestDocker}); tests wrap it to inject faults. */
  docker?: () => ContainerClient;
  /** Settings of the stack's runner over the test defaults (e.g. a short `logRetryMs`). */
  runner?: Partial<RunnerConfig>;
  /** Keep the policy's own runtime instead of the suite's (AIRLOCK_TEST_RUNTIME). */
  policyRuntime?: boolean;
}

/** NATS + one runner + the harness, in this process, and a client. Everything is torn down on dispose. */
export class TestStack implements AsyncDisposable {
  readonly nats: NatsServer;
  readonly runnerId: string;
  readonly stateDir: string;
  runner!: RunnerService;
  harness!: HarnessService;
  client!: Airlock;
  #conns: NatsHandles[] = [];
  #docker: (() => ContainerClient) | undefined;
  /** What the harness was last started with, so a restart starts the same harness (runtime policy included). */
  #harnessOverrides: Partial<HarnessConfig> = {};
  runnerOverrides: Partial<RunnerConfig> = {};

  private constructor(nats: NatsServer, runnerId: string, stateDir: string) {
    this.nats = nats;
    this.runnerId = runnerId;
    this.stateDir = stateDir;
  }

  static async start(opts: StackOptions = {}): Promise<TestStack> {
    const nats = await NatsServer.start();
    const stack = new TestStack(nats, opts.runnerId ?? `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`, mkdtempSync(join(tmpdir(), 'airlock-state-')));
    stack.#docker = opts.docker;
    stack.runnerOverrides = opts.runner ?? {};
    // The harness first: it creates the policy bucket runners read.
    const harness = { ...opts.harness };
    if (!opts.policyRuntime) {
      const policyFile = await policyForRuntime(harness.policyFile, stack.stateDir);
      if (policyFile) harness.policyFile = policyFile;
    }
    await stack.startHarness(harness);
    await stack.startRunner(opts.slots ?? 4);
    stack.client = await Airlock.connect({ servers: nats.url });
    return stack;
  }

  runnerConfig(slots: number): RunnerConfig {
    return {
      natsUrl: this.nats.url,
      runnerId: this.runnerId,
      slots,
      stateDir: join(this.stateDir, 'runner'),
      dockerSocket: '/var/run/docker.sock',
      executor: process.env.AIRLOCK_EXECUTOR === 'exec' ? 'exec' : 'auto',
      maxOutputBytes: 2 * 1024 ** 3,
      heartbeatMs: 500,
      // No warm pool unless a test asks for one (its background sandboxes would load every suite).
      poolSize: 0,
      replicas: 1,
      harnessKey: `${this.keyFile}.pub`,
      logLevel: 'silent',
      ...this.runnerOverrides,
    };
  }

  /** The harness's signing key; runners are given `<keyFile>.pub`. */
  get keyFile(): string {
    return join(this.stateDir, 'harness', 'key.pem');
  }

  /** A client with a credential this stack's harness signed for `principal` in `role` (for a harness that requires them). */
  as(principal: string, role: Role, opts: { runs?: string[]; ttlMs?: number } = {}): Promise<Airlock> {
    const key = importPrivateKey(readFileSync(this.keyFile, 'utf8'));
    return Airlock.connect({ servers: this.nats.url, credential: issueCredential(key, { principal, role, ...opts }) });
  }

  async startRunner(slots = 4): Promise<RunnerService> {
    const conn = await connectNats({ servers: this.nats.url, name: 'test-runner' });
    this.#conns.push(conn);
    this.runner = await RunnerService.start(this.runnerConfig(slots), conn, this.#docker?.() ?? new TestDocker(), silent);
    return this.runner;
  }

  async startHarness(overrides: Partial<HarnessConfig>): Promise<HarnessService> {
    this.#harnessOverrides = overrides;
    const conn = await connectNats({ servers: this.nats.url, name: 'test-harness' });
    this.#conns.push(conn);
    const cfg = HarnessConfigSchema.parse({ natsUrl: this.nats.url, openTimeoutMs: 5000, keyFile: this.keyFile, secretsDir: join(this.stateDir, 'secrets'), ...overrides });
    this.harness = await HarnessService.start(cfg, conn, silent);
    return this.harness;
  }

  /**
   * Stops the harness and starts a new one on the same NATS, key and configuration: what a test
   * checks afterwards must come back from JetStream, not from the old process's memory.
   */
  async restartHarness(): Promise<HarnessService> {
    await this.harness.drain(2000);
    return this.startHarness(this.#harnessOverrides);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.client?.[Symbol.asyncDispose]();
    await this.harness?.drain(2000);
    await this.runner?.drain(2000);
    for (const c of this.#conns) await c.drain();
    await this.nats[Symbol.asyncDispose]();
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

/** The real Docker client, with a label on every sandbox so the suite can prove nothing leaked. */
export class TestDocker extends DockerodeClient {
  /** AIRLOCK_EXECUTOR=exec runs the suite with `docker exec` steps instead of the in-sandbox executor. */
  constructor(opts: { executor?: boolean } = {}) {
    super({ executor: opts.executor ?? process.env.AIRLOCK_EXECUTOR !== 'exec', socketsDir: join(tmpdir(), `airlock-test-exec-${process.pid}`) });
  }

  /**
   * Under AIRLOCK_TEST_RUNTIME every sandbox must have been asked for with that runtime and must run
   * under it (as the engine reports): a suite meant for gVisor cannot pass under runc.
   */
  override async startSandbox(spec: Parameters<DockerodeClient['startSandbox']>[0]): Promise<string> {
    const want = process.env.AIRLOCK_TEST_RUNTIME;
    if (want && spec.runtime !== want) throw new Error(`AIRLOCK_TEST_RUNTIME=${want} but a sandbox was asked for with runtime ${spec.runtime}`);
    const id = await super.startSandbox({ ...spec, labels: { ...spec.labels, 'airlock.test': testSession() } });
    if (want) {
      const got = execFileSync('docker', ['inspect', '-f', '{{.HostConfig.Runtime}}', id], { encoding: 'utf8' }).trim();
      if (got !== want) {
        await this.remove(id);
        throw new Error(`AIRLOCK_TEST_RUNTIME=${want} but the engine started sandbox ${id.slice(0, 12)} under ${got}`);
      }
    }
    return id;
  }
}

/** Ids of the sandbox containers of a runner (running or not). */
export async function containersOf(runnerId: string): Promise<string[]> {
  const list = await new DockerodeClient().listManaged({ 'airlock.runner-id': runnerId });
  return list.map((c) => c.id);
}

/** The `./airlock` launcher of this checkout. */
export const AIRLOCK_BIN = resolve(import.meta.dirname, '..', 'airlock');

export interface CliRun {
  code: number | null;
  stdout: string;
  /** stdout as bytes (tar archives, bundles). */
  stdoutBytes: Buffer;
  stderr: string;
}

/**
 * Runs the `./airlock` CLI as a user would, in a clean environment (PATH and HOME, plus `env`), with
 * `input` on stdin; fails if it has not finished within `timeoutMs`.
 */
export function runCli(args: string[], opts: { env?: Record<string, string>; input?: string | Buffer; timeoutMs?: number } = {}): Promise<CliRun> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((done, fail) => {
    const child = spawn(AIRLOCK_BIN, args, { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...opts.env } });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`airlock ${args.join(' ')} did not finish in ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      done({ code, stdout: stdoutBytes.toString(), stdoutBytes, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Every event of a run, as stored. */
export async function runEvents(client: Airlock, runId: string): Promise<LogEvent[]> {
  const all: LogEvent[] = [];
  for await (const e of client.run(runId).log({ follow: false })) all.push(e);
  return all;
}

/**
 * The usual life of a test file's stack: started before its tests, disposed after them, and the file
 * fails if a sandbox of it is left. Returns a stand-in that forwards to the stack once it is up, so
 * tests write `stack.client` as with a plain variable.
 */
export function useStack(opts: StackOptions | (() => StackOptions | Promise<StackOptions>) = {}): TestStack {
  let current: TestStack | undefined;
  beforeAll(async () => {
    current = await TestStack.start(typeof opts === 'function' ? await opts() : opts);
  });
  afterAll(async () => {
    if (!current) return;
    await current[Symbol.asyncDispose]();
    expect(await containersOf(current.runnerId)).toEqual([]);
  });
  return new Proxy({} as TestStack, {
    get(_, key) {
      if (!current) throw new Error('the test stack is not up yet (use it inside tests or hooks)');
      const value = Reflect.get(current, key, current) as unknown;
      // Methods use private fields: call them on the stack itself, not on this stand-in.
      return typeof value === 'function' ? value.bind(current) : value;
    },
  });
}

/**
 * Starts a runner as its own process, as deployed (`SERVICE_NODE_FLAGS`, a clean environment plus
 * `env`); its state lives in `<stateDir>/<id>`, and it trusts `<stateDir>/key.pem.pub`.
 */
export function spawnRunner(o: { natsUrl: string; id: string; slots: number; stateDir: string; env?: Record<string, string> }): ChildProcess {
  const args = ['--nats', o.natsUrl, '--id', o.id, '--slots', String(o.slots), '--state-dir', join(o.stateDir, o.id), '--harness-key', join(o.stateDir, 'key.pem.pub'), '--log-level', 'warn'];
  return spawn(process.execPath, [...SERVICE_NODE_FLAGS, resolve(import.meta.dirname, '..', 'runner/src/main.ts'), ...args], {
    stdio: 'ignore',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...o.env },
  });
}

/** Sends SIGTERM to the processes still running and waits until they have exited. */
export async function stopProcesses(procs: Iterable<ChildProcess>): Promise<void> {
  const live = [...procs].filter((p) => p.exitCode === null && p.signalCode === null);
  for (const p of live) p.kill('SIGTERM');
  await Promise.all(live.map((p) => new Promise((r) => p.once('exit', r))));
}

/** The label value marking this test run's containers (set by test/global-setup.ts; `1` outside vitest). */
export function testSession(): string {
  return process.env.AIRLOCK_TEST_SESSION ?? '1';
}

/** The events of one type in a run's log, typed as that event. */
export function eventsOfType<T extends LogEvent['type']>(log: readonly LogEvent[], type: T): Extract<LogEvent, { type: T }>[] {
  return log.filter((e): e is Extract<LogEvent, { type: T }> => e.type === type);
}

/** How a call ended: 'ok', or the AirlockError code it failed with (anything else as text). */
export function errorCode(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'ok',
    (e: unknown) => (e instanceof AirlockError ? e.code : String(e)),
  );
}
