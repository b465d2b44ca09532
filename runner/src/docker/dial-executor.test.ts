// The runner's first connection to an executor whose socket file exists before it listens: the
// window the executor leaves between bind and listen (wide under gVisor) must not fail the open.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dialExecutor } from './executor.ts';

let child: ChildProcess | undefined;
let dir = '';
afterEach(() => {
  child?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A real unix socket, bound at once and listening only after `gapMs`, that greets its one client. */
async function lateListener(gapMs: number): Promise<string> {
  dir = mkdtempSync(join(tmpdir(), 'airlock-dial-'));
  const path = join(dir, 's');
  const code = [
    'import socket, sys, time',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
    `s.bind(${JSON.stringify(path)})`,
    `time.sleep(${gapMs / 1000})`,
    's.listen(1)',
    'c, _ = s.accept()',
    'c.sendall(b"hi")',
    'time.sleep(5)',
  ].join('\n');
  child = spawn('python3', ['-c', code], { stdio: 'ignore' });
  for (let i = 0; i < 400 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 5));
  expect(existsSync(path)).toBe(true);
  return path;
}

describe('dialExecutor', () => {
  for (const gapMs of [0, 50, 400]) {
    it(`connects when the socket listens ${gapMs} ms after its file appeared`, async () => {
      const path = await lateListener(gapMs);
      const socket = await dialExecutor(path, Date.now() + 10_000, () => Promise.resolve(true));
      const greeting = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
      socket.destroy();
      expect(greeting).toBe('hi');
    });
  }

  it('gives up at the deadline with the reason', async () => {
    const path = await lateListener(60_000);
    await expect(dialExecutor(path, Date.now() + 300, () => Promise.resolve(true))).rejects.toThrow(/did not accept a connection in time \(ECONNREFUSED\)/);
  });

  it('stops waiting when the sandbox is no longer running', async () => {
    const path = await lateListener(60_000);
    await expect(dialExecutor(path, Date.now() + 30_000, () => Promise.resolve(false))).rejects.toThrow(/stopped before its executor started/);
  });
});
