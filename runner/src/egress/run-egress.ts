// The runner's side of one run's egress (policy `network.mode: proxy`): a directory bind-mounted
// read-only into the sandbox with the forwarder and the proxy's unix socket, the proxy process that
// listens there (forked, see main.ts), and what each step needs: the forwarder in front of its argv
// and the proxy variables in its environment. The sandbox itself keeps NetworkMode none.
import { fork, type ChildProcess } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandAllow, type Policy } from '@airlock/validate';
import type { ExecSpec } from '../docker/client.ts';
import type { TestResolveMap } from './address.ts';
import { createRunCa, trustBundle, type RunCa } from './ca.ts';
import type { EgressChildConfig } from './main.ts';
import type { EgressEvent } from './proxy.ts';
import { newPlaceholder, type EdgeSecret } from './secrets.ts';
import type { AnswerMessage, AskMessage } from './ask-ipc.ts';
import type { AskUnlisted } from './unlisted.ts';

/** Where the egress directory appears in the sandbox. */
export const EGRESS_DIR = '/opt/airlock/egress';
/** The sandbox-loopback port the forwarder listens on (each sandbox has its own network namespace). */
export const EGRESS_PORT = 3128;
const SOCKET = 'p';
const FORWARDER = 'forwarder.py';
/** The run CA's certificate alone (for NODE_EXTRA_CA_CERTS, which adds to Node's roots). */
const CA_FILE = 'ca.pem';
/** The public roots plus the run's CA (for the variables that replace a trust store, and the system path). */
const BUNDLE_FILE = 'ca-bundle.pem';
/**
 * Debian's system trust bundle (OpenSSL's default CA file, `/usr/lib/ssl/cert.pem`, links to it; curl,
 * git, Python and most programs read it when no variable says otherwise). The run's bundle is
 * bind-mounted over it read-only for the run's sandbox alone, so a program that ignores the trust
 * variables still trusts the run's CA, and only in this run.
 */
export const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const FORWARDER_SRC = fileURLToPath(new URL('./forwarder.py', import.meta.url));
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

/** The proxy variables of a step, both spellings (curl reads lower case, most others upper). */
export function proxyEnv(port = EGRESS_PORT): Record<string, string> {
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {};
  for (const [k, v] of [['HTTP_PROXY', url], ['HTTPS_PROXY', url], ['ALL_PROXY', url], ['NO_PROXY', 'localhost,127.0.0.1,::1']] as const) {
    env[k] = v;
    env[k.toLowerCase()] = v;
  }
  return env;
}

/** The trust variables of a step: the run's bundle for OpenSSL, Python requests, curl and git; the CA for Node. */
export function trustEnv(): Record<string, string> {
  const bundle = `${EGRESS_DIR}/${BUNDLE_FILE}`;
  return { SSL_CERT_FILE: bundle, REQUESTS_CA_BUNDLE: bundle, CURL_CA_BUNDLE: bundle, GIT_SSL_CAINFO: bundle, NODE_EXTRA_CA_CERTS: `${EGRESS_DIR}/${CA_FILE}` };
}

export interface RunEgressOptions {
  runId: string;
  policy: Policy;
  /** Test configuration only (see address.ts); empty in production. */
  testResolve: TestResolveMap;
  /** Called with each connection's event (and the step running then, if any). */
  onEvent(e: EgressEvent): void;
  /** Test configuration only: extra upstream CA certificates the proxy trusts. */
  testUpstreamCa: string[];
  /** Called when the proxy process ended without being asked to. */
  onExit(info: { pid: number; code: number | null; signal: string | null }): void;
  /** Policy `network.unlisted: ask`: answers the proxy's asks (ask.ts), within `askTimeoutMs`. */
  ask?: { ask: AskUnlisted; timeoutMs: number } | undefined;
}

/** One run's egress proxy and its directory. */
export class RunEgress {
  readonly #opts: RunEgressOptions;
  readonly #dir: string;
  /** The run's CA; its key stays in this process and the proxy's, never in the egress directory. */
  readonly #ca: RunCa;
  #child: ChildProcess | null = null;
  #closing = false;
  /** Edge secrets given to the run so far (sent again to a fresh proxy), by name. */
  readonly #secrets = new Map<string, EdgeSecret>();

  private constructor(opts: RunEgressOptions, dir: string, ca: RunCa) {
    this.#opts = opts;
    this.#dir = dir;
    this.#ca = ca;
  }

  /** Makes the directory and starts the proxy. */
  static async start(opts: RunEgressOptions): Promise<RunEgress> {
    const root = join(tmpdir(), 'airlock-egress');
    await mkdir(root, { recursive: true, mode: 0o711 });
    const dir = await mkdtemp(join(root, 'r'));
    // Readable by the sandbox's user (mkdtemp makes it 0700); only root writes it.
    await chmod(dir, 0o755);
    await copyFile(FORWARDER_SRC, join(dir, FORWARDER));
    const ca = createRunCa(opts.runId);
    await writeFile(join(dir, CA_FILE), ca.certPem, { mode: 0o644 });
    await writeFile(join(dir, BUNDLE_FILE), trustBundle(ca), { mode: 0o644 });
    const egress = new RunEgress(opts, dir, ca);
    try {
      await egress.ensure();
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    return egress;
  }

  /**
   * The sandbox's bind mounts: the egress directory (read-only: the sandbox can connect, not replace)
   * and the run's bundle over the system one (the image's file is untouched; other sandboxes keep it).
   */
  get binds(): string[] {
    return [`${this.#dir}:${EGRESS_DIR}:ro`, `${join(this.#dir, BUNDLE_FILE)}:${SYSTEM_BUNDLE}:ro`];
  }

  /** The proxy process's pid, while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts a proxy when none runs (first step, or the last one died). */
  async ensure(): Promise<void> {
    if (this.#child && this.#child.exitCode === null && this.#child.signalCode === null) return;
    // The run id in its argv: `ps` shows whose proxy it is.
    const child = fork(MAIN, [this.#opts.runId], { execArgv: ['--conditions=airlock-source', '--disable-warning=ExperimentalWarning'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json' });
    this.#child = child;
    const config: EgressChildConfig = { socketPath: join(this.#dir, SOCKET), rules: expandAllow(this.#opts.policy.network.allow ?? []), testResolve: this.#opts.testResolve, ca: this.#ca, testUpstreamCa: this.#opts.testUpstreamCa, ...(this.#opts.ask ? { askTimeoutMs: this.#opts.ask.timeoutMs } : {}) };
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the egress proxy did not start within 15 s')), 15_000);
      child.on('message', (m: { type: string; event?: EgressEvent; message?: string } | AskMessage) => {
        if (m.type === 'ask') return this.#answer(child, m as AskMessage);
        if (m.type === 'listening') {
          clearTimeout(timer);
          resolve();
        } else if (m.type === 'event' && m.event) this.#opts.onEvent(m.event);
        else if (m.type === 'error') reject(new Error(`the egress proxy failed: ${m.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the egress proxy exited at start (${signal ?? code})`));
        if (!this.#closing) this.#opts.onExit({ pid: child.pid ?? 0, code, signal });
      });
      child.send(config);
    });
    if (this.#secrets.size > 0) await this.#sendSecrets();
  }

  /** Answers one of the proxy's asks; a failure to answer is a denial there (its own timeout). */
  #answer(child: ChildProcess, m: AskMessage): void {
    const ask = this.#opts.ask?.ask;
    const reply = (answer: AnswerMessage['answer']) => {
      if (child.connected) child.send({ type: 'answer', id: m.id, answer } satisfies AnswerMessage);
    };
    if (!ask) return reply({ allowed: false, reason: 'the run does not ask for unlisted hosts' });
    void ask(m.target).then(reply, (err: unknown) => reply({ allowed: false, reason: `the ask failed: ${(err as Error).message}` }));
  }

  /** Sends the edge secrets to the proxy and waits until it holds them. */
  async #sendSecrets(): Promise<void> {
    const child = this.#child!;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the egress proxy did not take the secrets within 10 s')), 10_000);
      const onMessage = (m: { type: string }) => {
        if (m.type !== 'secrets-set') return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve();
      };
      child.on('message', onMessage);
      child.send({ type: 'secrets', secrets: [...this.#secrets.values()] });
    });
  }

  /**
   * The step's environment with each edge secret (a policy secret with `hosts`, given as the
   * variable of its own name) replaced by the run's placeholder for it; the proxy gets the value.
   */
  async edgeEnv(env: Record<string, string>, given: Readonly<Record<string, string>>): Promise<Record<string, string>> {
    const out = { ...env };
    let changed = false;
    for (const grant of this.#opts.policy.secrets) {
      const value = given[grant.name];
      if (!grant.hosts || value === undefined) continue;
      const known = this.#secrets.get(grant.name);
      const placeholder = known?.placeholder ?? newPlaceholder(grant.name);
      if (known?.value !== value) {
        this.#secrets.set(grant.name, { name: grant.name, placeholder, value, hosts: grant.hosts });
        changed = true;
      }
      out[grant.name] = placeholder;
    }
    if (changed) await this.#sendSecrets();
    return out;
  }

  /** The step's exec spec with the forwarder in front of its argv and the proxy variables set. */
  stepSpec(spec: ExecSpec): ExecSpec {
    return {
      ...spec,
      cmd: ['python3', '-I', '-S', `${EGRESS_DIR}/${FORWARDER}`, String(EGRESS_PORT), `${EGRESS_DIR}/${SOCKET}`, '--', ...spec.cmd],
      env: { ...spec.env, ...proxyEnv(), ...trustEnv() },
    };
  }

  /** Stops the proxy and removes the directory. */
  async close(): Promise<void> {
    this.#closing = true;
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    await rm(this.#dir, { recursive: true, force: true });
  }
}
