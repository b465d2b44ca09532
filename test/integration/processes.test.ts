// Sessions as agents expect them, against the real stack: the working directory persists between
// steps when asked (exported variables do not); `exec` with `yieldMs` starts a long-running process
// that any client can poll, signal and list, after a reconnect and after a harness restart.
import { describe, expect, it } from 'vitest';
import {
  ApiProcessesResultSchema,
  ApiSignalResultSchema,
  PROTOCOL_VERSION,
  ProcessStateSchema,
  StepResultSchema,
  decodeReply,
  encode,
  outputBytes,
  subjects,
} from '@airlock/proto';
import type { ProcessState, StepResult } from '@airlock/proto';
import { connectNats, type NatsHandles } from '@airlock/transport';
import type { z } from 'zod';
import { Airlock } from '@airlock/client';
import { runEvents, useStack, waitUntil } from '../fixtures.ts';

const stack = useStack();

/** A raw request to the harness API, on a connection of its own unless one is given. */
async function api<S extends z.ZodType>(subject: string, body: Record<string, unknown>, schema: S, conn?: NatsHandles): Promise<z.infer<S>> {
  const own = conn ? undefined : await connectNats({ servers: stack.nats.url, name: 'processes-test' });
  try {
    const msg = await (conn ?? own!).nc.request(subject, encode({ v: PROTOCOL_VERSION, ...body }), { timeout: 120_000 });
    return decodeReply(schema, msg.data, subject);
  } finally {
    await own?.drain();
  }
}

const exec = (runId: string, cmd: string, o: Record<string, unknown> = {}) => api(subjects.api.exec, { runId, cmd, ...o }, StepResultSchema);
const start = (runId: string, cmd: string, o: Record<string, unknown> = {}, conn?: NatsHandles) => api(subjects.api.exec, { runId, cmd, ...o }, ProcessStateSchema, conn);
const pollOnce = (runId: string, pid: number, fromOffset: number, waitMs = 10_000, conn?: NatsHandles) => api(subjects.api.poll, { runId, pid, fromOffset, waitMs }, ProcessStateSchema, conn);

/** Polls a process to its end (each poll waits server-side for news), collecting its output. */
async function pollToEnd(runId: string, pid: number, from = { text: '', offset: 0 }, conn?: NatsHandles): Promise<{ text: string; stdout: string; state: ProcessState }> {
  let { text, offset } = from;
  let stdout = '';
  for (let i = 0; i < 200; i++) {
    const s = await pollOnce(runId, pid, offset, 10_000, conn);
    const piece = (c: ProcessState['output'][number]) => c.text ?? Buffer.from(c.data ?? '', 'base64').toString();
    text += s.output.map(piece).join('');
    stdout += s.output.filter((c) => c.stream === 'stdout').map(piece).join('');
    offset = s.nextOffset;
    if (s.status !== 'running' && s.status !== 'starting' && !s.more) return { text, stdout, state: s };
  }
  throw new Error(`process ${pid} did not end`);
}

/** The stdout a step wrote, from the run's log. */
async function stdoutOf(runId: string, r: StepResult): Promise<string> {
  const events = await runEvents(stack.client, runId);
  return Buffer.concat(events.flatMap((e) => (e.type === 'step.output' && e.step === r.step && e.stream === 'stdout' ? [outputBytes(e)] : []))).toString();
}

describe('working directory', () => {
  it('persists between steps with keepCwd (at open or per exec); exported variables never do', async () => {
    await using run = await stack.client.open({ keepCwd: true });
    const { mountPath } = run.record!;
    await exec(run.runId, 'mkdir -p sub/deeper && cd sub && export FOO=leaked');
    expect(await stdoutOf(run.runId, await exec(run.runId, 'pwd; echo "${FOO:-unset}"'))).toBe(`${mountPath}/sub\nunset\n`);
    const moved = await exec(run.runId, 'cd deeper');
    expect(moved.cwd).toBe(`${mountPath}/sub/deeper`);
    // A relative path in the next step is judged from where it really runs: this stays in the workspace.
    expect(await stdoutOf(run.runId, await exec(run.runId, 'touch here.txt && pwd'))).toBe(`${mountPath}/sub/deeper\n`);
    expect(await stdoutOf(run.runId, await exec(run.runId, `ls ${mountPath}/sub/deeper`))).toBe('here.txt\n');
    // One step can opt out; the run keeps its place.
    expect(await stdoutOf(run.runId, await exec(run.runId, 'pwd', { keepCwd: false }))).toBe(`${mountPath}\n`);
    expect(await stdoutOf(run.runId, await exec(run.runId, 'pwd'))).toBe(`${mountPath}/sub/deeper\n`);
    // An explicit cwd (relative to the workspace) starts a step there; with keepCwd the run goes on from there.
    expect(await stdoutOf(run.runId, await exec(run.runId, 'pwd', { cwd: 'sub' }))).toBe(`${mountPath}/sub\n`);
    // The record keeps the place: a restarted harness starts the next step there.
    await stack.restartHarness();
    expect(await stdoutOf(run.runId, await exec(run.runId, 'pwd'))).toBe(`${mountPath}/sub\n`);
    expect(await stdoutOf(run.runId, await exec(run.runId, 'cd deeper && pwd'))).toBe(`${mountPath}/sub/deeper\n`);
    expect(await stdoutOf(run.runId, await exec(run.runId, 'pwd'))).toBe(`${mountPath}/sub/deeper\n`);
    // The step is validated with the cd in front: relative paths are judged from where it runs.
    const verdicts = (await runEvents(stack.client, run.runId)).filter((e) => e.type === 'step.verdict');
    expect(verdicts.at(-1)).toMatchObject({ cmd: `cd '${mountPath}/sub/deeper' || exit 1; pwd`, verdict: 'allow' });
    await run.close();
  });

  it('does not persist without keepCwd, and per-exec keepCwd turns it on', async () => {
    await using run = await stack.client.open({});
    const { mountPath } = run.record!;
    await exec(run.runId, 'mkdir -p sub && cd sub');
    expect(await stdoutOf(run.runId, await exec(run.runId, 'pwd'))).toBe(`${mountPath}\n`);
    await exec(run.runId, 'cd sub', { keepCwd: true });
    expect(await stdoutOf(run.runId, await exec(run.runId, 'pwd', { keepCwd: true }))).toBe(`${mountPath}/sub\n`);
    expect(await stdoutOf(run.runId, await exec(run.runId, 'pwd'))).toBe(`${mountPath}\n`);
    // Output is exactly what the command wrote: the shell's reports are taken out.
    const events = await runEvents(stack.client, run.runId);
    for (const e of events) if (e.type === 'step.output') expect(outputBytes(e).includes(0x1e)).toBe(false);
    await run.close();
  });

  it('keeps exported variables only with keepEnv, replayed in front of the command where the validator sees them', async () => {
    await using run = await stack.client.open({ keepEnv: true });
    await exec(run.runId, 'export GREETING="hello world" && export N=1 && LOCAL=not-exported');
    expect(await stdoutOf(run.runId, await exec(run.runId, 'echo "$GREETING $N ${LOCAL:-unset}"'))).toBe('hello world 1 unset\n');
    await exec(run.runId, 'export N=2');
    expect(await stdoutOf(run.runId, await exec(run.runId, 'echo "$GREETING $N"'))).toBe('hello world 2\n');
    // One step can start clean.
    expect(await stdoutOf(run.runId, await exec(run.runId, 'echo "${GREETING:-unset}"', { keepEnv: false }))).toBe('unset\n');
    const verdicts = (await runEvents(stack.client, run.runId)).filter((e) => e.type === 'step.verdict');
    const replayed = verdicts.at(-2);
    expect(replayed).toMatchObject({ verdict: 'allow', cmd: expect.stringMatching(/^export [^;]*; echo "\$GREETING \$N"$/) });
    expect(replayed?.type === 'step.verdict' && replayed.cmd).toContain("GREETING='hello world'");
    expect(replayed?.type === 'step.verdict' && replayed.cmd).toContain("N='2'");
    // Only what the commands exported: nothing the sandbox itself set (HOSTNAME, PATH, …).
    expect(replayed?.type === 'step.verdict' && replayed.cmd).not.toMatch(/HOSTNAME|PATH|PWD|SHLVL/);
    // Kept variables are judged like any assignment: one the policy refuses refuses the next step.
    await exec(run.runId, 'export LD_PRELOAD=/workspace/x.so || true').catch(() => undefined);
    expect((await runEvents(stack.client, run.runId)).filter((e) => e.type === 'step.verdict').at(-1)).toMatchObject({ verdict: expect.stringMatching(/deny|ask/) });
  });
});

describe('long-running processes', () => {
  it('yields with the output so far, runs on, is polled to its end; the run is busy meanwhile', async () => {
    await using run = await stack.client.open({});
    const { mountPath } = run.record!;
    const t0 = Date.now();
    const first = await start(run.runId, 'for i in 1 2 3 4; do echo tick $i; sleep 1; done; echo done >&2', { yieldMs: 1500 });
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(first).toMatchObject({ pid: 1, status: 'running' });
    expect(first.output.map((c) => c.text).join('')).toMatch(/^tick 1\n/);
    // Steps of a run are serial: while the process runs, another step is refused (retryable).
    await expect(exec(run.runId, 'true')).rejects.toMatchObject({ code: 'run_busy', retryable: true });
    const listed = await api(subjects.api.processes, { runId: run.runId }, ApiProcessesResultSchema);
    expect(listed.processes).toMatchObject([{ pid: 1, status: 'running' }]);
    const rest = await pollToEnd(run.runId, 1, { text: first.output.map((c) => c.text).join(''), offset: first.nextOffset });
    expect(rest.text).toBe('tick 1\ntick 2\ntick 3\ntick 4\ndone\n');
    expect(rest.state).toMatchObject({ status: 'exited', result: { exitCode: 0, timedOut: false } });
    expect(rest.state.result?.snapshot).toMatch(/^[0-9a-f]{64}$/);
    // A finished process is still readable, whole, from offset 0; the run takes steps again.
    const again = await pollOnce(run.runId, 1, 0, 0);
    expect(again.output.map((c) => c.text).join('')).toBe('tick 1\ntick 2\ntick 3\ntick 4\ndone\n');
    expect((await exec(run.runId, 'true')).exitCode).toBe(0);
    expect((await api(subjects.api.processes, { runId: run.runId }, ApiProcessesResultSchema)).processes).toMatchObject([{ pid: 1, status: 'exited', exitCode: 0 }]);
    await run.close();
  });

  it('keeps waiting and lifetime apart: yieldMs is the wait, timeoutMs ends the process', async () => {
    await using run = await stack.client.open({});
    const { mountPath } = run.record!;
    const s = await start(run.runId, 'echo up; sleep 60', { yieldMs: 300, timeoutMs: 4000 });
    expect(s.status).toBe('running');
    const end = await pollToEnd(run.runId, s.pid);
    expect(end.state).toMatchObject({ status: 'exited', result: { timedOut: true, exitCode: 124 } });
    // A command that ends within yieldMs answers with its result at once.
    const quick = await start(run.runId, 'echo fast', { yieldMs: 30_000 });
    expect(quick).toMatchObject({ status: 'exited', result: { exitCode: 0 }, output: [{ stream: 'stdout', text: 'fast\n' }] });
    await run.close();
  });

  it('signals the process group: a trap sees SIGTERM, SIGKILL ends it', async () => {
    await using run = await stack.client.open({});
    const { mountPath } = run.record!;
    const s = await start(run.runId, "trap 'echo got TERM; exit 7' TERM; echo ready; for i in $(seq 1 600); do sleep 0.2; done", { yieldMs: 1000 });
    expect(s.output.map((c) => c.text).join('')).toBe('ready\n');
    const sent = await api(subjects.api.signal, { runId: run.runId, pid: s.pid, signal: 'SIGTERM' }, ApiSignalResultSchema);
    expect(sent).toMatchObject({ delivered: true, signal: 'SIGTERM' });
    const end = await pollToEnd(run.runId, s.pid);
    // (bash may also say on stderr that the group's `sleep` was terminated.)
    expect(end.stdout).toBe('ready\ngot TERM\n');
    expect(end.state.result?.exitCode).toBe(7);
    // The group went: no `sleep` of it is left. A signal to an ended process is not an error.
    expect((await api(subjects.api.signal, { runId: run.runId, pid: s.pid, signal: 'SIGKILL' }, ApiSignalResultSchema)).delivered).toBe(false);
    const stubborn = await start(run.runId, "trap '' TERM INT; echo ignoring; sleep 100 & wait", { yieldMs: 1000 });
    await api(subjects.api.signal, { runId: run.runId, pid: stubborn.pid, signal: 'SIGKILL' }, ApiSignalResultSchema);
    expect((await pollToEnd(run.runId, stubborn.pid)).state).toMatchObject({ status: 'exited', result: { exitCode: 137, signal: 'SIGKILL' } });
    expect(await stdoutOf(run.runId, await exec(run.runId, 'ps -eo args | grep -c "^sleep 100$" || true'))).toBe('0\n');
    await run.close();
  });

  it('is found and read in full by a new client after the first one disconnected', async () => {
    await using run = await stack.client.open({});
    const { mountPath } = run.record!;
    const first = await connectNats({ servers: stack.nats.url, name: 'agent-1' });
    const s = await start(run.runId, 'for i in $(seq 1 5); do echo line $i; sleep 0.5; done', { yieldMs: 200 }, first);
    expect(s.status).toBe('running');
    await first.drain();
    // Another client, knowing only the run: it lists the process and reads everything from offset 0.
    await using second = await connectNats({ servers: stack.nats.url, name: 'agent-2' });
    const listed = await api(subjects.api.processes, { runId: run.runId }, ApiProcessesResultSchema, second);
    expect(listed.processes.map((p) => p.pid)).toEqual([s.pid]);
    const all = await pollToEnd(run.runId, s.pid, undefined, second);
    expect(all.text).toBe('line 1\nline 2\nline 3\nline 4\nline 5\n');
    await run.close();
  });

  // Before the restart test: an SDK wait begun within 5 s of a harness restart still depends on the old instance (harness_lost).
  it('are methods of the SDK run: exec({ yieldMs }), poll, signal, processes, from a second client too', async () => {
    await using run = await stack.client.open({});
    const p = await run.exec("echo start; for i in $(seq 1 100); do sleep 0.1; done; echo never", { yieldMs: 500, timeoutMs: 120_000 });
    expect(p).toMatchObject({ status: 'running', output: [{ text: 'start\n' }] });
    await using other = await Airlock.connect({ servers: stack.nats.url });
    const same = other.run(run.runId);
    expect((await same.processes()).map((x) => [x.pid, x.status])).toEqual([[p.pid, 'running']]);
    expect(await same.signal(p.pid, 'SIGINT')).toBe(true);
    let state = await same.poll(p.pid, { fromOffset: p.nextOffset, waitMs: 10_000 });
    for (let i = 0; state.status === 'running' && i < 50; i++) state = await same.poll(p.pid, { fromOffset: state.nextOffset, waitMs: 10_000 });
    expect(state).toMatchObject({ status: 'exited', result: { exitCode: 130, signal: 'SIGINT' } });
    // The ordinary exec is unchanged: a result with the output.
    expect((await run.exec('pwd', { cwd: 'sub', keepCwd: false }).catch((e: unknown) => e))).toMatchObject({ exitCode: 1 });
    expect((await run.exec('mkdir sub && cd sub', { keepCwd: true })).exitCode).toBe(0);
    expect((await run.exec('pwd', { keepCwd: true })).stdout).toBe(`${run.record!.mountPath}/sub\n`);
  });
  it('survives a harness restart: the process runs on and is polled, signalled and listed by the new harness', async () => {
    await using run = await stack.client.open({});
    const { mountPath } = run.record!;
    const s = await start(run.runId, 'for i in $(seq 1 6); do echo beat $i; sleep 0.5; done; sleep 300', { yieldMs: 300, timeoutMs: 600_000 });
    expect(s.status).toBe('running');
    await stack.restartHarness();
    await waitUntil('the process to print beat 6', async () => {
      const p = await pollOnce(run.runId, s.pid, 0, 0);
      return p.output.map((c) => c.text).join('').includes('beat 6');
    }, 30_000);
    expect((await api(subjects.api.processes, { runId: run.runId }, ApiProcessesResultSchema)).processes).toMatchObject([{ pid: s.pid, status: 'running' }]);
    expect((await api(subjects.api.signal, { runId: run.runId, pid: s.pid, signal: 'SIGTERM' }, ApiSignalResultSchema)).delivered).toBe(true);
    const end = await pollToEnd(run.runId, s.pid);
    expect(end.text).toBe('beat 1\nbeat 2\nbeat 3\nbeat 4\nbeat 5\nbeat 6\n');
    expect(end.state.result).toMatchObject({ exitCode: 143, signal: 'SIGTERM' });
    await run.close();
  });

});
