// Method mapping with a fake backend (no Airlock): what step each request becomes, and how outcomes
// come back. The real stack is driven by test/integration/codex-env.test.ts.
import { describe, expect, it } from 'vitest';
import type { FileEntry, FileResult } from '@airlock/proto';
import type { FileOutcome, FileTools, StepBackend, StepOutcome, StepRequest } from './backend.ts';
import { NOT_FOUND_EXIT } from './fs-commands.ts';
import type { Outgoing } from './jsonrpc.ts';
import { PathMap } from './paths.ts';
import { CodexEnvServer, commandFor, signalName } from './server.ts';

type Script = (req: StepRequest) => Promise<StepOutcome> | StepOutcome;

class FakeBackend implements StepBackend {
  readonly runId = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
  readonly mountPath = '/testbed';
  readonly workspace = '/srv/ws';
  readonly seen: StepRequest[] = [];
  /** The workspace as the fake file tools see it: sandbox path -> content (directories end in '/'). */
  readonly tree = new Map<string, string>();
  readonly fileCalls: string[] = [];
  readonly files: FileTools = {
    stat: async (path) => this.#file(`stat ${path}`, () => this.#entry(path)),
    read: async (path) =>
      this.#file(`read ${path}`, () => {
        const content = this.tree.get(path);
        if (content === undefined) return { kind: 'failed', code: 'file_not_found', message: path };
        return { kind: 'ok', value: { runId: this.runId, step: 1, op: 'read', path, content } as FileResult };
      }),
    write: async (path, data) =>
      this.#file(`write ${path}`, () => {
        if (path.includes('/.git/hooks/')) return { kind: 'refused', verdict: 'ask', step: 7, rule: 'file.sensitive_write', reason: 'writes a git hook', message: 'held' };
        this.tree.set(path, data.toString('utf8'));
        return { kind: 'ok', value: { runId: this.runId, step: 1, op: 'write', path } as FileResult };
      }),
    list: async (path) =>
      this.#file(`list ${path}`, () => ({
        kind: 'ok',
        value: [...this.tree.keys()].filter((k) => k.startsWith(`${path}/`) && k !== `${path}/` && !k.slice(path.length + 1).replace(/\/$/, '').includes('/')).map((k) => this.#entryOf(k)),
      })),
  };
  readonly script: Script;
  #step = 0;
  constructor(script: Script) {
    this.script = script;
  }
  readonly signals: string[] = [];
  async exec(req: StepRequest): Promise<StepOutcome> {
    this.seen.push(req);
    req.onStarted?.(100 + this.seen.length);
    return this.script(req);
  }
  async signal(step: number, sig: string): Promise<boolean> {
    this.signals.push(`${sig} ${step}`);
    return true;
  }
  ran(exitCode: number, out = '', stream: 'stdout' | 'stderr' = 'stdout'): (req: StepRequest) => StepOutcome {
    return (req) => {
      if (out) req.onOutput?.(stream, Buffer.from(out));
      return { kind: 'ran', step: ++this.#step, exitCode, timedOut: false, sandboxDied: false, truncated: false };
    };
  }
  #file<T>(call: string, fn: () => FileOutcome<T>): FileOutcome<T> {
    this.fileCalls.push(call);
    return fn();
  }
  #entryOf(key: string): FileEntry {
    const dir = key.endsWith('/');
    return { path: key.replace(/\/$/, '').slice(this.mountPath.length + 1), type: dir ? 'dir' : 'file', size: dir ? 0 : this.tree.get(key)!.length, mode: 0o644, mtimeMs: 1_700_000_000_000.4 };
  }
  #entry(path: string): FileOutcome<FileEntry | null> {
    const key = this.tree.has(path) ? path : this.tree.has(`${path}/`) ? `${path}/` : undefined;
    return { kind: 'ok', value: key ? this.#entryOf(key) : null };
  }
  async [Symbol.asyncDispose](): Promise<void> {}
}

function serve(script: (b: FakeBackend) => Script) {
  let backend!: FakeBackend;
  backend = new FakeBackend((req) => script(backend)(req));
  const sent: Outgoing[] = [];
  const server = new CodexEnvServer({ backend, paths: new PathMap('/home/me/repo', '/testbed'), stepTimeoutMs: 1000, send: (m) => sent.push(m) });
  let id = 0;
  const call = async (method: string, params?: unknown) => {
    const n = ++id;
    await server.handle({ id: n, method, params });
    const reply = sent.find((m) => 'id' in m && m.id === n);
    if (!reply) throw new Error(`no reply to ${method}`);
    return reply as { result?: Record<string, unknown>; error?: { code: number; message: string } };
  };
  return { backend, server, sent, call };
}

describe('CodexEnvServer', () => {
  it('wants initialize first, names the run as the session, and refuses unknown methods', async () => {
    const { call } = serve((b) => b.ran(0));
    expect((await call('fs/getMetadata', { path: 'file:///x' })).error?.code).toBe(-32600);
    expect((await call('initialize', { clientName: 'codex-environment', resumeSessionId: null })).result).toEqual({ sessionId: '01ARZ3NDEKTSV4RRFFQ69G5FAV' });
    expect((await call('initialize', { clientName: 'again' })).error?.code).toBe(-32600);
    expect((await call('process/teleport', {})).error?.code).toBe(-32601);
    expect((await call('environment/info')).result).toEqual({ shell: { name: 'bash', path: '/bin/bash' }, cwd: 'file:///home/me/repo' });
  });

  it("runs Codex's bash -lc script itself as the step, with Codex's env, and streams its output", async () => {
    const { backend, server, sent, call } = serve((b) => b.ran(3, 'hi\n'));
    await call('initialize', { clientName: 'c' });
    const start = await call('process/start', { processId: 'p1', argv: ['/bin/bash', '-lc', "grep -n 'x' a.py"], cwd: 'file:///home/me/repo', env: { PAGER: 'cat' }, tty: false, pipeStdin: false, arg0: null });
    expect(start.result).toEqual({ processId: 'p1' });
    await server.idle();
    expect(backend.seen.map((r) => [r.cmd, r.env, r.timeoutMs])).toEqual([["grep -n 'x' a.py", { PAGER: 'cat' }, 1000]]);
    const read = await call('process/read', { processId: 'p1', afterSeq: 0, maxBytes: null, waitMs: 0 });
    expect(read.result).toMatchObject({ exited: true, exitCode: 3, closed: true, failure: null, nextSeq: 4 });
    expect(sent.filter((m) => 'method' in m).map((m) => (m as { method: string }).method)).toEqual(['process/output', 'process/exited', 'process/closed']);
    expect((await call('process/terminate', { processId: 'p1' })).result).toEqual({ running: false });
    expect((await call('process/write', { processId: 'p1', chunk: 'eA==' })).result).toEqual({ status: 'stdinClosed' });
  });

  it('turns a denied or held command into a failed process naming the rule', async () => {
    const { server, call } = serve(() => () => ({ kind: 'refused', verdict: 'ask', step: 4, rule: 'exfil.env_file_read', reason: 'reads a dotenv file', message: 'held' }));
    await call('initialize', { clientName: 'c' });
    await call('process/start', { processId: 'p', argv: ['bash', '-c', 'cat .env'], cwd: 'file:///home/me/repo', env: {}, tty: false });
    await server.idle();
    const read = (await call('process/read', { processId: 'p' })).result!;
    expect(read.exitCode).toBe(126);
    expect(read.failure).toMatch(/^Airlock is holding this command for an operator's approval \(rule exfil\.env_file_read\).*airlock approve 01ARZ3NDEKTSV4RRFFQ69G5FAV 4/);
  });

  it('queues steps in the order Codex asked; terminate cancels a queued one and signals a running one', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { backend, server, call } = serve((b) => async (req) => {
      if (req.cmd === 'slow') await gate;
      return b.ran(0)(req);
    });
    await call('initialize', { clientName: 'c' });
    const base = { cwd: 'file:///home/me/repo', env: {}, tty: false };
    await call('process/start', { ...base, processId: 'a', argv: ['bash', '-lc', 'slow'] });
    await call('process/start', { ...base, processId: 'b', argv: ['bash', '-lc', 'second'] });
    await call('process/start', { ...base, processId: 'c', argv: ['bash', '-lc', 'third'] });
    expect((await call('process/terminate', { processId: 'a' })).result).toEqual({ running: true });
    expect((await call('process/terminate', { processId: 'b' })).result).toEqual({ running: true });
    expect((await call('process/signal', { processId: 'c', signal: 'USR1' })).result).toEqual({ running: true });
    expect((await call('process/signal', { processId: 'c', signal: 'SIGSTOP' })).error?.code).toBe(-32602);
    await new Promise((r) => setTimeout(r, 10));
    expect(backend.signals).toEqual(['SIGTERM 101']);
    release();
    await server.idle();
    expect(backend.seen.map((r) => r.cmd)).toEqual(['slow', 'third']);
    expect((await call('process/read', { processId: 'b' })).result).toMatchObject({ exited: true, failure: expect.stringMatching(/never ran/) });
  });

  it('maps fs calls to steps on sandbox paths, and their exit codes to JSON-RPC errors', async () => {
    const { backend, call } = serve((b) => (req) => (req.cmd.includes('missing') ? b.ran(NOT_FOUND_EXIT)(req) : req.cmd.includes('broken') ? b.ran(1, 'Permission denied', 'stderr')(req) : b.ran(0, 'directory\ndirectory\n4096\n0\n1700000000\n')(req)));
    await call('initialize', { clientName: 'c' });
    // Outside the workspace (the sandbox's own /opt), where file tools do not reach: bash steps.
    expect((await call('fs/getMetadata', { path: 'file:///opt/src', sandbox: null })).result).toEqual({ isDirectory: true, isFile: false, isSymlink: false, size: 4096, createdAtMs: 0, modifiedAtMs: 1_700_000_000_000 });
    expect(backend.seen.at(-1)!.cmd).toContain("stat --printf '%F\\n' -- '/opt/src'");
    expect((await call('fs/readFile', { path: 'file:///opt/missing' })).error?.code).toBe(-32004);
    const broken = (await call('fs/remove', { path: 'file:///home/me/repo/broken', recursive: true, force: true })).error;
    expect(broken?.code).toBe(-32603);
    expect(broken?.message).toMatch(/exit 1.*Permission denied/);
    expect((await call('fs/writeFile', { path: 'file:///home/me/repo/x', dataBase64: 'not base64!' })).error?.code).toBe(-32602);
    expect((await call('fs/readFile', { path: '/home/me/repo/x' })).error?.code).toBe(-32602);
  });

  it("uses Airlock's file tools for files in the workspace, no shell", async () => {
    const { backend, call } = serve((b) => b.ran(0));
    backend.tree.set('/testbed/src/', '');
    backend.tree.set('/testbed/src/a.py', "print('é')\n");
    await call('initialize', { clientName: 'c' });
    expect((await call('fs/getMetadata', { path: 'file:///home/me/repo/src/a.py' })).result).toEqual({ isDirectory: false, isFile: true, isSymlink: false, size: 11, createdAtMs: 0, modifiedAtMs: 1_700_000_000_000 });
    expect((await call('fs/getMetadata', { path: 'file:///home/me/repo/nope' })).error?.code).toBe(-32004);
    const read = (await call('fs/readFile', { path: 'file:///home/me/repo/src/a.py' })).result as { dataBase64: string };
    expect(Buffer.from(read.dataBase64, 'base64').toString('utf8')).toBe("print('é')\n");
    expect((await call('fs/readFile', { path: 'file:///home/me/repo/gone.py' })).error?.code).toBe(-32004);
    expect((await call('fs/writeFile', { path: 'file:///home/me/repo/new/b.py', dataBase64: Buffer.from('x = 1\n').toString('base64') })).result).toEqual({});
    expect(backend.tree.get('/testbed/new/b.py')).toBe('x = 1\n');
    expect((await call('fs/readDirectory', { path: 'file:///home/me/repo/src' })).result).toEqual({ entries: [{ fileName: 'a.py', isDirectory: false, isFile: true }] });
    const held = (await call('fs/writeFile', { path: 'file:///home/me/repo/.git/hooks/pre-commit', dataBase64: 'eA==' })).error;
    expect(held?.message).toMatch(/holding this command for an operator's approval \(rule file\.sensitive_write\)/);
    expect(backend.seen).toEqual([]);
    expect(backend.fileCalls).toEqual([
      'stat /testbed/src/a.py',
      'stat /testbed/nope',
      'read /testbed/src/a.py',
      'read /testbed/gone.py',
      'write /testbed/new/b.py',
      'list /testbed/src',
      'write /testbed/.git/hooks/pre-commit',
    ]);
  });

  it('a refused fs call is an error that says why', async () => {
    const { call } = serve(() => () => ({ kind: 'refused', verdict: 'deny', step: 9, rule: 'path.sensitive', reason: 'writes a git hook', message: 'denied' }));
    await call('initialize', { clientName: 'c' });
    const err = (await call('fs/writeFile', { path: 'file:///etc/cron.d/job', dataBase64: 'eA==' })).error;
    expect(err?.message).toMatch(/Airlock denied this command \(rule path\.sensitive\): writes a git hook/);
  });
});

describe('commandFor', () => {
  it('passes a shell script through, quotes any other argv, and cds when the cwd is not the root', () => {
    expect(commandFor(['/bin/bash', '-lc', 'ls | wc -l'], '/testbed', '/testbed')).toBe('ls | wc -l');
    expect(commandFor(['python3', '-c', 'print(1)'], '/testbed', '/testbed')).toBe("python3 -c 'print(1)'");
    expect(commandFor(['/bin/bash', '-lc', 'make'], '/testbed/sub dir', '/testbed')).toBe("cd -- '/testbed/sub dir' || exit 1\nmake");
  });
});

describe('signalName', () => {
  it('takes a name with or without SIG, in any case, or a number, and refuses what Airlock does not deliver', () => {
    expect([signalName('INT'), signalName('sigterm'), signalName(9), signalName('SIGUSR2')]).toEqual(['SIGINT', 'SIGTERM', 'SIGKILL', 'SIGUSR2']);
    for (const bad of ['STOP', 'SIGCONT', 19, 'kill -9']) expect(() => signalName(bad)).toThrow(/not one Airlock delivers/);
  });
});
