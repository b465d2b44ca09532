// The CLI as a person uses it: `./airlock …` processes against real services.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestStack, containersOf, freePort, runCli } from '../fixtures.ts';
import { connect } from '@nats-io/transport-node';


const airlock = (args: string[], env: Record<string, string> = {}, timeoutMs = 60_000) => runCli(args, { env, timeoutMs });


let stack: TestStack;
let stateDir: string;
beforeAll(async () => {
  stack = await TestStack.start();
  stateDir = mkdtempSync(join(tmpdir(), 'airlock-cli-'));
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
  rmSync(stateDir, { recursive: true, force: true });
  expect(await containersOf(stack.runnerId)).toEqual([]);
});

describe('./airlock against a running deployment', () => {
  const g = () => ['--nats', stack.nats.url, '--state-dir', stateDir];

  it('run: streams output and exits with the command\'s exit code; the sandbox inherits nothing', async () => {
    const r = await airlock([...g(), 'run', '--', 'echo hi; echo warn >&2; compgen -e; exit 3'], { AIRLOCK_CANARY: 'leak-me' });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('hi\n');
    expect(r.stdout).not.toContain('AIRLOCK_CANARY');
    expect(r.stderr).toContain('warn');
  });

  it('open / exec / log / ps / close, with --json naming the run as runId', async () => {
    const open = await airlock([...g(), '--json', 'open']);
    expect(open.code).toBe(0);
    const run = JSON.parse(open.stdout.trim()) as { runId: string; type: string };
    expect(run.type).toBe('run');
    expect(run.runId).toMatch(/^[0-9A-Z]{26}$/);

    // Like ssh, the words after `--` are joined with spaces into one bash command line.
    const exec = await airlock([...g(), 'exec', run.runId, '--', 'printf', '"%s\\n"', 'one two']);
    expect(exec).toMatchObject({ code: 0, stdout: 'one\ntwo\n' });
    const failing = await airlock([...g(), 'exec', run.runId, '--timeout', '1000', '--', 'sleep 20']);
    expect(failing.code).toBe(124);
    expect(failing.stderr).toContain('timed out');

    const ps = await airlock([...g(), 'ps']);
    expect(ps.stdout).toContain(run.runId);

    const jsonExec = await airlock([...g(), '--json', 'exec', run.runId, '--', 'echo json']);
    const lines = jsonExec.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.every((l) => l.runId === run.runId)).toBe(true);
    expect(lines.find((l) => l.type === 'step.output')?.text).toBe('json\n');
    expect(lines.at(-1)).toMatchObject({ type: 'result', exitCode: 0, step: 3 });

    expect((await airlock([...g(), 'close', run.runId])).code).toBe(0);
    // The log outlives the run.
    const log = await airlock([...g(), 'log', run.runId]);
    expect(log.code).toBe(0);
    expect(log.stdout).toContain('step 1 $ printf');
    expect(log.stdout).toContain('one two');
    expect(log.stdout).toContain('timed out');
    expect(log.stdout).toContain('run closed');
    const from = await airlock([...g(), '--json', 'log', run.runId, '--from', '3']);
    expect((JSON.parse(from.stdout.split('\n')[0]!) as { seq: number }).seq).toBe(3);
  });

  it('global options after the command: `run --json -- cmd` and `open --json` (issue 11, point 7)', async () => {
    const run = await airlock(['run', '--json', ...g(), '--', 'echo', '--json']);
    expect(run.stderr).not.toContain('unknown option');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ type: 'run' });
    // `--json` after `--` belongs to the command: echo printed it.
    expect(lines.find((l) => l.type === 'step.output')?.text).toBe('--json\n');
    expect(lines.at(-1)).toMatchObject({ type: 'result', exitCode: 0 });

    const open = await airlock(['open', '--json', '--nats', stack.nats.url, '--state-dir', stateDir]);
    expect(open.code).toBe(0);
    const opened = JSON.parse(open.stdout.trim()) as { runId: string; type: string };
    expect(opened).toMatchObject({ type: 'run', runId: expect.stringMatching(/^[0-9A-Z]{26}$/) });
    expect((await airlock(['close', opened.runId, ...g(), '--json'])).code).toBe(0);
  });

  it('log --follow streams a live run and ends when it closes', async () => {
    const run = await stack.client.open({});
    const follower = airlock([...g(), 'log', '--follow', run.runId]);
    await run.exec('for i in 1 2 3; do echo tick$i; sleep 0.2; done');
    await stack.client.close(run.runId);
    const r = await follower;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/tick1\ntick2\ntick3\n/);
    expect(r.stdout).toContain('run closed');
  });

  it('errors are typed and say what to do', async () => {
    const unknown = await airlock([...g(), 'exec', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '--', 'true']);
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toContain('no run 01ARZ3NDEKTSV4RRFFQ69G5FAV');
    const noCmd = await airlock([...g(), 'exec', '01ARZ3NDEKTSV4RRFFQ69G5FAV']);
    expect(noCmd.code).not.toBe(0);
    const json = await airlock([...g(), '--json', 'close', 'not-a-run']);
    expect(JSON.parse(json.stdout.trim())).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(json.code).toBe(2);
  });

  it('with no harness reachable, says so and how to start one', async () => {
    const port = await freePort();
    const r = await airlock(['--nats', `nats://127.0.0.1:${port}`, 'ps']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/cannot reach NATS .*\.\/airlock up/);
    // NATS up but no harness on it.
    const natsOnly = await airlock(['--nats', stack.nats.url, 'status'], {}, 30_000);
    expect(natsOnly.code === 0 || /no harness/.test(natsOnly.stderr)).toBe(true);
  });

  it('--help is there for every command', async () => {
    for (const cmd of ['up', 'down', 'status', 'open', 'exec', 'run', 'log', 'ps', 'close']) {
      const r = await airlock([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: airlock ${cmd}`);
    }
  });
});

describe('./airlock up', () => {
  it('starts NATS, a runner and the harness; run works; down stops them and leaves no sandbox', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-up-'));
    const port = await freePort();
    try {
      const up = await airlock(['--state-dir', dir, 'up', '--detach', '--port', String(port), '--runner-id', 'cli-up-test'], {}, 60_000);
      expect(up.code, up.stderr).toBe(0);
      expect(up.stdout).toContain(`nats://127.0.0.1:${port}`);
      // Its NATS has this deployment's users: nobody connects without credentials, and none are printed.
      await expect(connect({ servers: `nats://127.0.0.1:${port}`, reconnect: false })).rejects.toThrow(/authorization/i);
      expect(up.stdout).not.toMatch(/client:|harness:[^ ]*@/);
      // Operator (JWT) mode: no user JWT or nkey seed printed either.
      expect(up.stdout).not.toMatch(/eyJ|SU[A-Z2-7]{20}/);
      const again = await airlock(['--state-dir', dir, 'up', '--detach', '--port', String(port)]);
      expect(again.stdout).toContain('already up');
      const status = await airlock(['--state-dir', dir, 'status']);
      expect(status.stdout).toContain('cli-up-test');
      const r = await airlock(['--state-dir', dir, 'run', '--', 'echo from-up']);
      expect(r).toMatchObject({ code: 0, stdout: 'from-up\n' });
      const down = await airlock(['--state-dir', dir, 'down']);
      expect(down.stdout).toContain('Airlock is down');
      expect(await containersOf('cli-up-test')).toEqual([]);
    } finally {
      await airlock(['--state-dir', dir, 'down']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
