// Every step of a run is snapshotted; any step can be listed, diffed, restored, exported, imported
// and forked from the CLI.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, lstatSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestStack, containersOf, runCli } from '../fixtures.ts';

let stack: TestStack;
const cli = async (args: string[], opts: { input?: Buffer } = {}) => {
  const r = await runCli(['--nats', stack.nats.url, ...args], opts.input ? { input: opts.input } : {});
  return { code: r.code, stdout: r.stdoutBytes, stderr: r.stderr };
};
let tmp: string;


beforeAll(async () => {
  stack = await TestStack.start();
  tmp = mkdtempSync(join(tmpdir(), 'airlock-snapcli-'));
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
  rmSync(tmp, { recursive: true, force: true });
  expect(await containersOf(stack.runnerId)).toEqual([]);
});

describe('snapshots of every step', () => {
  let runId = '';

  it('takes one after every step, failed and killed ones too, and only uploads what changed', async () => {
    const c = stack.client;
    const run = await c.open({});
    runId = run.runId;
    const steps = [
      'printf "one\\n" > a.txt && mkdir -p empty dir && printf "#!/bin/sh\\necho hi\\n" > dir/run.sh && chmod +x dir/run.sh && ln -s a.txt link',
      'head -c 100000 /dev/urandom > blob.bin',
      'printf "two\\n" >> a.txt; rm -f dir/run.sh; exit 3',
      'true',
    ];
    const results = [];
    for (const cmd of steps) results.push(await c.run(runId).exec(cmd));
    expect(results.map((r) => r.exitCode)).toEqual([0, 0, 3, 0]);
    expect(results.every((r) => /^[0-9a-f]{64}$/.test(r.snapshot ?? ''))).toBe(true);
    const snaps = await c.run(runId).snapshots();
    expect(snaps.map((s) => s.step)).toEqual([0, 1, 2, 3, 4]);
    expect(snaps[2]!.bytesUploaded).toBeGreaterThanOrEqual(100_000);
    // An unchanged workspace is the same snapshot and uploads nothing.
    expect(snaps[4]!.digest).toBe(snaps[3]!.digest);
    expect(snaps[4]!.bytesUploaded).toBe(0);
    expect(snaps[3]).toMatchObject({ modified: 1, deleted: 1 });
  });

  it('lists them and diffs two steps with a patch', async () => {
    const list = await cli(['snapshots', runId]);
    expect(list.code).toBe(0);
    expect(list.stdout.toString().trim().split('\n').length).toBe(6);
    const diff = await cli(['diff', runId, '1', '3', '--patch']);
    expect(diff.code).toBe(0);
    const text = diff.stdout.toString();
    expect(text).toContain('M  a.txt');
    expect(text).toContain('D  dir/run.sh');
    expect(text).toContain('A  blob.bin');
    expect(text).toMatch(/^\+two$/m);
  });

  it('restores any step bit for bit, modes and symlinks included', async () => {
    const to = join(tmp, 'restored');
    const r = await cli(['restore', runId, '--step', '1', '--to', to]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(to, 'a.txt'), 'utf8')).toBe('one\n');
    expect(statSync(join(to, 'dir/run.sh')).mode & 0o777).toBe(0o755);
    expect(lstatSync(join(to, 'link')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(to, 'link'))).toBe('a.txt');
    expect(readdirSync(join(to, 'empty'))).toEqual([]);
    const again = await cli(['restore', runId, '--step', '1', '--to', to]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('not empty');
  });

  it('exports a normal tar that GNU tar extracts, and imports it into a new run', async () => {
    const ex = await cli(['export', runId, '--step', '2']);
    expect(ex.code, ex.stderr).toBe(0);
    const tarFile = join(tmp, 'ws.tar');
    writeFileSync(tarFile, ex.stdout);
    const out = join(tmp, 'gnu');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['-xf', tarFile, '-C', out]);
    expect(readFileSync(join(out, 'a.txt'), 'utf8')).toBe('one\n');
    expect(statSync(join(out, 'blob.bin')).size).toBe(100_000);

    const imp = await cli(['import', tarFile]);
    expect(imp.code, imp.stderr).toBe(0);
    const newRun = imp.stdout.toString().trim();
    expect(newRun).toMatch(/^[0-9A-Z]{26}$/);
    const seen: Buffer[] = [];
    const r = await stack.client.run(newRun).exec('cat a.txt; wc -c < blob.bin; ./dir/run.sh', { onOutput: (_, d) => seen.push(d) });
    expect(r.exitCode).toBe(0);
    expect(Buffer.concat(seen).toString()).toBe('one\n100000\nhi\n');
    await stack.client.close(newRun);
  });

  it('forks a run from any step: the new run starts from that workspace, the old one is untouched', async () => {
    const f = await cli(['fork', runId, '--step', '1']);
    expect(f.code, f.stderr).toBe(0);
    const forked = f.stdout.toString().trim();
    const seen: Buffer[] = [];
    await stack.client.run(forked).exec('cat a.txt; ls dir; echo forked > a.txt', { onOutput: (_, d) => seen.push(d) });
    expect(Buffer.concat(seen).toString()).toBe('one\nrun.sh\n');
    const orig: Buffer[] = [];
    await stack.client.run(runId).exec('cat a.txt', { onOutput: (_, d) => orig.push(d) });
    expect(Buffer.concat(orig).toString()).toBe('one\ntwo\n');
    const log: string[] = [];
    for await (const e of stack.client.run(forked).log({ follow: false })) if (e.type === 'run.opened') log.push(e.fromSnapshot ?? '');
    expect(log[0]).toBe((await stack.client.run(runId).snapshotAt(1)).digest);
    await stack.client.close(forked);
    await stack.client.close(runId);
  });

  it('refuses hostile archives on import, with a clear error and no run', async () => {
    // A tar whose entry climbs out of the tree.
    const evil = join(tmp, 'evil.tar');
    const src = join(tmp, 'evil-src');
    execFileSync('mkdir', ['-p', join(src, 'x')]);
    writeFileSync(join(src, 'x', 'f'), 'pwned');
    execFileSync('tar', ['-cf', evil, '-C', join(src, 'x'), '--transform', 's,^,../../,', 'f']);
    const before = (await stack.client.ps()).runs.length;
    const r = await cli(['import', evil]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/unsafe|\.\./i);
    expect((await stack.client.ps()).runs.length).toBe(before);
  });
});
