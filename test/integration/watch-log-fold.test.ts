// `./airlock watch --follow` shows every stored change: its view's state is folded from the run's log
// it reads, not asked of the harness afterwards, so a pause resumed before the watcher got to it, or
// stored just before the harness stops, is still shown, and without waiting for the harness. Real
// stack, real CLI process; the watcher is held (SIGSTOP) while the changes are made, so it reads them
// only afterwards, as a watcher on a loaded machine may.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Airlock } from '@airlock/client';
import { issueCredential } from '@airlock/harness';
import { importPrivateKey } from '@airlock/trust';
import { AIRLOCK_BIN, useStack, waitUntil } from '../fixtures.ts';

const stack = useStack({ harness: { auth: 'required' as const } });
const credential = (principal: string, role: 'agent' | 'operator' | 'reviewer') => issueCredential(importPrivateKey(readFileSync(stack.keyFile, 'utf8')), { principal, role });
const as = (principal: string, role: 'agent' | 'operator' | 'reviewer') => Airlock.connect({ servers: stack.nats.url, credential: credential(principal, role) });

/** `./airlock --json watch RUN --follow` as a reviewer: its views as they come, its stderr, its exit. */
function watch(runId: string) {
  const child = spawn(AIRLOCK_BIN, ['--nats', stack.nats.url, '--json', 'watch', runId, '--follow'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', AIRLOCK_CREDENTIAL: credential('rita', 'reviewer') },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const exit = new Promise<number | null>((done) => child.on('close', (c) => (clearTimeout(timer), done(c))));
  const hold = () => child.kill('SIGSTOP');
  const release = () => child.kill('SIGCONT');
  const views = () =>
    out
      .slice(0, out.lastIndexOf('\n') + 1)
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { state: string; paused?: { reason: string }; lastControl?: { verb: string }; held: unknown[] });
  return { views, stderr: () => err, exit, hold, release };
}

const pausedFor = (reason: string) => (v: { state: string; paused?: { reason: string } }) => v.state === 'paused' && v.paused?.reason === reason;

describe('watch --follow folds the state from the log', () => {
  it('a pause resumed before the watcher read it is still shown (the harness, asked then, says running)', async () => {
    await using bot = await as('bot-fold', 'agent');
    await using olga = await as('olga', 'operator');
    const run = await bot.open({});
    await bot.run(run.runId).exec('echo first');
    const watcher = watch(run.runId);
    await waitUntil('the watcher shows the run', () => watcher.views().length > 0, 30_000);
    watcher.hold();
    for (let i = 0; i < 3; i++) {
      await olga.pause(run.runId, { reason: `blink ${i}` });
      await olga.resume(run.runId);
    }
    watcher.release();
    await bot.run(run.runId).exec('echo after');
    await bot.close(run.runId);
    expect(await watcher.exit, watcher.stderr()).toBe(0);
    const views = watcher.views();
    for (let i = 0; i < 3; i++) expect(views.some(pausedFor(`blink ${i}`)), `blink ${i} in ${JSON.stringify(views.map((v) => v.state))}`).toBe(true);
    expect(views.at(-1)).toMatchObject({ state: 'closed', termination: 'succeeded' });
  });

  it('a pause stored just before the harness stops is shown while no harness answers; the view goes on after a new one starts', async () => {
    await using bot = await as('bot-down', 'agent');
    await using olga = await as('olga', 'operator');
    const run = await bot.open({});
    await bot.run(run.runId).exec('echo first');
    const watcher = watch(run.runId);
    await waitUntil('the watcher shows the run', () => watcher.views().length > 0, 30_000);
    watcher.hold();
    await olga.pause(run.runId, { reason: 'going down' });
    await stack.harness.drain(2000);
    watcher.release();
    // No harness answers now: the pause is in the log, and the view shows it within seconds.
    await waitUntil('the watcher shows the pause with no harness', () => watcher.views().some(pausedFor('going down')), 15_000).catch((err: Error) => {
      throw new Error(`${err.message}; views: ${JSON.stringify(watcher.views().map((v) => v.state))}; stderr: ${watcher.stderr() || '(empty)'}`);
    });
    await stack.restartHarness();
    await olga.resume(run.runId);
    await bot.run(run.runId).exec('echo last');
    await bot.close(run.runId);
    expect(await watcher.exit, watcher.stderr()).toBe(0);
    expect(watcher.views().at(-1)).toMatchObject({ state: 'closed', termination: 'succeeded' });
  });
});
