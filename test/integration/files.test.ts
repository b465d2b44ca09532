// File tools without a shell: read, write, edit, list, stat as steps of a run, against the real
// stack. Each is logged and snapshotted; paths outside the workspace (also through symlinks) are
// denied; writes to sensitive paths are held for an operator; failed edits name the nearest text.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AirlockError, FileResultSchema, PROTOCOL_VERSION, encode, decodeReply, subjects } from '@airlock/proto';
import type { FileOp, FileResult, LogEvent } from '@airlock/proto';
import { connectNats } from '@airlock/transport';
import { runEvents, useStack } from '../fixtures.ts';

const stack = useStack();

/** One file operation through the harness API, as any client sends it (raw NATS request). */
async function file(runId: string, op: FileOp | (Omit<FileOp, 'encoding'> & { encoding?: 'utf8' | 'base64' })): Promise<FileResult> {
  await using conn = await connectNats({ servers: stack.nats.url, name: 'files-test' });
  const msg = await conn.nc.request(subjects.api.file, encode({ v: PROTOCOL_VERSION, runId, file: op }), { timeout: 60_000 });
  return decodeReply(FileResultSchema, msg.data, 'file reply');
}

async function fails(p: Promise<unknown>): Promise<AirlockError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AirlockError);
  return err as AirlockError;
}

const stdout = async (runId: string, cmd: string) => (await stack.client.run(runId).exec(cmd)).stdout;

describe('file tools', () => {
  it('write, read (line ranges), list and stat are logged, snapshotted steps; files stay the user\'s', async () => {
    await using run = await stack.client.open({});
    const record = run.record!;
    const w = await file(run.runId, { op: 'write', path: 'src/deep/a.txt', content: 'one\ntwo\nthree\n' });
    expect(w).toMatchObject({ op: 'write', step: 1, path: 'src/deep/a.txt', created: true, size: 14 });
    expect(w.snapshot).toMatch(/^[0-9a-f]{64}$/);
    // Written inside the sandbox, as its user: owned like files a command writes.
    const host = statSync(join(record.workspace, 'src/deep/a.txt'));
    const ws = statSync(record.workspace);
    expect([host.uid, host.gid]).toEqual([ws.uid, ws.gid]);
    expect(host.uid).not.toBe(0);
    expect(await stdout(run.runId, 'id -u; id -g')).toBe(`${host.uid}\n${host.gid}\n`);

    const all = await file(run.runId, { op: 'read', path: 'src/deep/a.txt' });
    expect(all).toMatchObject({ content: 'one\ntwo\nthree\n', binary: false, truncated: false, totalLines: 3, fromLine: 1, toLine: 3, size: 14, sha256: w.sha256 });
    const mid = await file(run.runId, { op: 'read', path: './src/../src/deep/a.txt', fromLine: 2, toLine: 2 });
    expect(mid).toMatchObject({ content: 'two\n', path: 'src/deep/a.txt', truncated: true, fromLine: 2, toLine: 2, totalLines: 3 });

    const listed = await file(run.runId, { op: 'list', path: '.', depth: 3 });
    expect(listed.entries?.map((e) => [e.path, e.type])).toEqual([
      ['src', 'dir'],
      ['src/deep', 'dir'],
      ['src/deep/a.txt', 'file'],
    ]);
    expect(await file(run.runId, { op: 'stat', path: 'src/deep/a.txt' })).toMatchObject({ exists: true, entry: { type: 'file', size: 14 } });
    expect(await file(run.runId, { op: 'stat', path: 'nope' })).toMatchObject({ exists: false });

    const log = await runEvents(stack.client, run.runId);
    const fileEvents = log.filter((e): e is Extract<LogEvent, { type: 'step.file' }> => e.type === 'step.file');
    expect(fileEvents.map((e) => [e.step, e.file.op, e.file.ok])).toEqual([
      [1, 'write', true],
      [3, 'read', true],
      [4, 'read', true],
      [5, 'list', true],
      [6, 'stat', true],
      [7, 'stat', true],
    ]);
    for (const step of [1, 3, 4, 5, 6, 7]) {
      expect(log.some((e) => e.type === 'step.requested' && e.step === step && e.cmd.startsWith('airlock:file.')), `step ${step} requested`).toBe(true);
      expect(log.some((e) => e.type === 'step.verdict' && e.step === step && e.verdict === 'allow'), `step ${step} verdict`).toBe(true);
      expect(log.some((e) => e.type === 'snapshot.created' && e.step === step), `step ${step} snapshot`).toBe(true);
    }
    // The log holds the summary, never the content.
    expect(JSON.stringify(fileEvents)).not.toContain('three');
    await run.close();
  });

  it('denies paths outside the workspace, lexically and through symlinks, and reads nothing there', async () => {
    await using run = await stack.client.open({});
    const record = run.record!;
    for (const path of ['../etc/passwd', '/etc/passwd', 'a/../../etc/hosts']) {
      const err = await fails(file(run.runId, { op: 'read', path }));
      expect(err, path).toMatchObject({ code: 'validation_denied', data: { rule: 'file.outside_workspace' } });
    }
    await fails(file(run.runId, { op: 'write', path: '/tmp/x', content: 'x' }));
    // A symlink the run made, pointing out: found in the sandbox, refused, nothing returned.
    await run.exec('ln -s /etc escape && ln -s /etc/passwd pw && mkdir real && ln -s real inner');
    const viaDir = await fails(file(run.runId, { op: 'read', path: 'escape/passwd' }));
    expect(viaDir).toMatchObject({ code: 'validation_denied', data: { rule: 'file.outside_workspace' } });
    expect(viaDir.message).not.toContain('root:x:0:0');
    expect(await fails(file(run.runId, { op: 'read', path: 'pw' }))).toMatchObject({ data: { rule: 'file.outside_workspace' } });
    expect(await fails(file(run.runId, { op: 'list', path: 'escape' }))).toMatchObject({ data: { rule: 'file.outside_workspace' } });
    expect(await fails(file(run.runId, { op: 'write', path: 'escape/evil', content: 'x' }))).toMatchObject({ data: { rule: 'file.outside_workspace' } });
    expect(await fails(file(run.runId, { op: 'write', path: 'pw', content: 'x' }))).toMatchObject({ data: { rule: 'file.outside_workspace' } });
    // A symlink inside the workspace is fine to read, but a write goes to the real path only.
    await file(run.runId, { op: 'write', path: 'real/f.txt', content: 'inside\n' });
    expect(await file(run.runId, { op: 'read', path: 'inner/f.txt' })).toMatchObject({ content: 'inside\n', path: 'real/f.txt' });
    const redirected = await fails(file(run.runId, { op: 'write', path: 'inner/g.txt', content: 'x' }));
    expect(redirected).toMatchObject({ code: 'validation_denied', data: { rule: 'file.symlink' } });
    expect(redirected.message).toContain('write under real');
    // Every refusal is in the log as a deny verdict.
    const log = await runEvents(stack.client, run.runId);
    const denies = log.filter((e) => e.type === 'step.verdict' && e.verdict === 'deny').map((e) => e.type === 'step.verdict' && e.rule);
    expect(denies.filter((r) => r === 'file.outside_workspace').length).toBe(9);
    expect(denies).toContain('file.symlink');
    expect(await stdout(run.runId, 'ls /etc/evil 2>&1 || true')).toContain('No such file');
    await run.close();
  });

  it('holds a write to a sensitive path for an operator, and runs that exact write once approved', async () => {
    await using run = await stack.client.open({});
    const record = run.record!;
    const hook = { op: 'write' as const, path: '.git/hooks/pre-commit', content: '#!/bin/sh\necho hooked\n', mode: 0o755 };
    const held = await fails(file(run.runId, hook));
    expect(held).toMatchObject({ code: 'validation_ask', data: { step: 1 } });
    expect(['file.sensitive', 'persistence.tool_config']).toContain((held.data as { rule: string }).rule);
    for (const path of ['.github/workflows/ci.yml', '.claude/settings.json', '.mcp.json', '.codex/config.toml', '.cursor/rules.md']) {
      expect(await fails(file(run.runId, { op: 'write', path, content: 'x' })), path).toMatchObject({ code: 'validation_ask' });
    }
    expect(await stdout(run.runId, 'test -e .git/hooks/pre-commit && echo there || echo absent')).toBe('absent\n');
    await stack.client.decide(run.runId, 1, 'approve', { by: 'alice', note: 'reviewed the hook' });
    // Another content is not what was approved.
    expect(await fails(file(run.runId, { ...hook, content: 'rm -rf ~\n' }))).toMatchObject({ code: 'validation_ask' });
    const ran = await file(run.runId, hook);
    expect(ran).toMatchObject({ op: 'write', created: true });
    expect(await stdout(run.runId, 'stat -c %a .git/hooks/pre-commit; cat .git/hooks/pre-commit')).toBe('755\n#!/bin/sh\necho hooked\n');
    // Once only.
    expect(await fails(file(run.runId, hook))).toMatchObject({ code: 'validation_ask' });
    await run.close();
  });

  it('edits by exact search and replace; a missing search names the nearest text, an ambiguous one is refused', async () => {
    await using run = await stack.client.open({});
    const record = run.record!;
    await file(run.runId, { op: 'write', path: 'app.py', content: 'def add(a, b):\n    return a + b\n\nx = 1\ny = 1\n' });
    const ok = await file(run.runId, { op: 'edit', path: 'app.py', search: '    return a + b\n', replace: '    return a + b + 0\n' });
    expect(ok).toMatchObject({ op: 'edit', replaced: 1, line: 2 });
    const missing = await fails(file(run.runId, { op: 'edit', path: 'app.py', search: 'def add(a,b):\n  return a + b + 0', replace: 'x' }));
    expect(missing).toMatchObject({ code: 'edit_no_match', data: { nearest: { line: 1, endLine: 2 } } });
    expect(missing.message).toContain('line 1-2');
    expect(missing.message).toContain('def add(a, b):');
    const ambiguous = await fails(file(run.runId, { op: 'edit', path: 'app.py', search: ' = 1', replace: ' = 2' }));
    expect(ambiguous).toMatchObject({ code: 'edit_ambiguous', data: { count: 2, lines: [4, 5] } });
    expect(await file(run.runId, { op: 'edit', path: 'app.py', search: ' = 1', replace: ' = 2', occurrence: 'all' })).toMatchObject({ replaced: 2 });
    expect(await stdout(run.runId, 'cat app.py')).toBe('def add(a, b):\n    return a + b + 0\n\nx = 2\ny = 2\n');
    expect(await fails(file(run.runId, { op: 'edit', path: 'nope.py', search: 'a', replace: 'b' }))).toMatchObject({ code: 'file_not_found' });
    // A failed edit is a logged step too, with its error.
    const log = await runEvents(stack.client, run.runId);
    expect(log.find((e) => e.type === 'step.file' && e.file.code === 'edit_no_match')).toBeDefined();
    await run.close();
  });

  it('detects binary files and caps what a read returns', async () => {
    await using run = await stack.client.open({});
    const record = run.record!;
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0xff, 0x0a]);
    await file(run.runId, { op: 'write', path: 'img.png', content: bytes.toString('base64'), encoding: 'base64' });
    expect(await file(run.runId, { op: 'read', path: 'img.png' })).toMatchObject({ binary: true, content: bytes.toString('base64'), size: 8 });
    // Latin-1 (not UTF-8) is binary too.
    await run.exec("printf 'caf\\xe9\\n' > latin1.txt");
    expect(await file(run.runId, { op: 'read', path: 'latin1.txt' })).toMatchObject({ binary: true });
    // 300 KB of text: the default cap returns 256 KiB, a smaller cap that many bytes, never a cut character.
    await run.exec("python3 -c \"import sys; sys.stdout.write(('\\u00e9' * 99 + '\\n') * 1530)\" > big.txt");
    const big = await file(run.runId, { op: 'read', path: 'big.txt' });
    expect(big.truncated).toBe(true);
    expect(Buffer.byteLength(big.content!)).toBeLessThanOrEqual(256 * 1024);
    expect(Buffer.byteLength(big.content!)).toBeGreaterThan(256 * 1024 - 4);
    expect(big.size).toBe(1530 * 199);
    const small = await file(run.runId, { op: 'read', path: 'big.txt', maxBytes: 1000 });
    expect(small).toMatchObject({ truncated: true, binary: false, fromLine: 1, toLine: 6, totalLines: 1530 });
    // Five whole lines (995 bytes), then two characters: the third would be cut in two, so it is left out.
    expect(small.content).toBe(`${'é'.repeat(99)}\n`.repeat(5) + 'éé');
    await run.close();
  });

  it('are methods of the SDK run (run.files)', async () => {
    await using run = await stack.client.open({});
    const w = await run.files.write('notes/todo.md', '- one\n- two\n');
    expect(w).toMatchObject({ op: 'write', created: true, size: 12 });
    expect((await run.files.read('notes/todo.md', { fromLine: 2 })).content).toBe('- two\n');
    expect(await run.files.edit('notes/todo.md', '- two', '- three')).toMatchObject({ replaced: 1, line: 2 });
    await run.files.write('logo.bin', new Uint8Array([0, 1, 2, 255]));
    const bin = await run.files.read('logo.bin');
    expect([bin.binary, Buffer.from(bin.content!, 'base64')]).toEqual([true, Buffer.from([0, 1, 2, 255])]);
    expect((await run.files.list('.', { depth: 2 })).map((e) => e.path)).toEqual(['logo.bin', 'notes', 'notes/todo.md']);
    expect(await run.files.stat('notes/todo.md')).toMatchObject({ type: 'file', size: 14 });
    expect(await run.files.stat('missing')).toBeNull();
    // Typed errors: the SDK's classes for denied and held calls, the table's codes for the rest.
    await expect(run.files.read('/etc/passwd')).rejects.toMatchObject({ name: 'PolicyDeniedError', rule: 'file.outside_workspace' });
    await expect(run.files.write('.mcp.json', '{}')).rejects.toMatchObject({ name: 'ApprovalRequiredError' });
    await expect(run.files.edit('notes/todo.md', '- four', 'x')).rejects.toMatchObject({ code: 'edit_no_match', retryable: false });
    expect((await run.exec('cat notes/todo.md')).stdout).toBe('- one\n- three\n');
  });
});
