// The command lines are checked by running them in a real bash on a temporary directory: quoting,
// exit codes and the parsers must agree with what bash and coreutils really do.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MAX_WRITE_BYTES,
  NOT_FOUND_EXIT,
  canonicalizeCommand,
  copyCommand,
  createDirectoryCommand,
  getMetadataCommand,
  parseDirectory,
  parseMetadata,
  quoteArgv,
  readDirectoryCommand,
  readFileCommand,
  removeCommand,
  shellQuote,
  writeFileCommand,
} from './fs-commands.ts';

const root = mkdtempSync(join(tmpdir(), 'codex-env-fs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function bash(cmd: string) {
  const r = spawnSync('bash', ['-c', cmd], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

const odd = join(root, "it's a $(name) `x` \"q\"\nline");

// Each case starts several bash processes: on a loaded machine that takes seconds.
describe('fs commands in bash', { timeout: 60_000 }, () => {
  it('quote any name, including quotes, substitutions and newlines', () => {
    expect(bash(`printf %s ${shellQuote(odd)}`).stdout.toString()).toBe(odd);
    expect(quoteArgv(['python3', '-c', "print('x')", 'a b'])).toBe(`python3 -c 'print('\\''x'\\'')' 'a b'`);
  });

  it('write, read back and describe a file (binary-safe), creating missing parents', () => {
    const data = Buffer.from([0, 1, 2, 255, 10, 13, 0x41]);
    const file = join(odd, 'deep', 'f.bin');
    expect(bash(writeFileCommand(file, data)).code).toBe(0);
    expect(readFileSync(file)).toEqual(data);
    const read = bash(readFileCommand(file));
    expect(read.code).toBe(0);
    expect(read.stdout).toEqual(data);
    const meta = parseMetadata(bash(getMetadataCommand(file)).stdout.toString());
    expect(meta).toMatchObject({ isFile: true, isDirectory: false, isSymlink: false, size: data.length });
    expect(meta.modifiedAtMs).toBeGreaterThan(Date.now() - 3_600_000);
  });

  it('report a missing path with their own exit code', () => {
    const missing = join(root, 'nope');
    for (const cmd of [getMetadataCommand(missing), readFileCommand(missing), readDirectoryCommand(missing), canonicalizeCommand(missing), copyCommand(missing, join(root, 'x'), false), removeCommand(missing, { recursive: false, force: false })]) {
      expect(bash(cmd).code, cmd).toBe(NOT_FOUND_EXIT);
    }
    expect(bash(removeCommand(missing, { recursive: false, force: true })).code).toBe(0);
  });

  it('describe symlinks, dangling ones too', () => {
    const dir = join(root, 'links');
    mkdirSync(dir);
    symlinkSync('/', join(dir, 'to-root'));
    symlinkSync(join(dir, 'gone'), join(dir, 'dangling'));
    expect(parseMetadata(bash(getMetadataCommand(join(dir, 'to-root'))).stdout.toString())).toMatchObject({ isSymlink: true, isDirectory: true, isFile: false });
    expect(parseMetadata(bash(getMetadataCommand(join(dir, 'dangling'))).stdout.toString())).toMatchObject({ isSymlink: true, isDirectory: false, isFile: false });
  });

  it('list a directory with types, names with newlines included', () => {
    const dir = join(root, 'list');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'a\nb.txt'), 'x');
    const r = bash(readDirectoryCommand(dir));
    expect(r.code).toBe(0);
    expect(parseDirectory(r.stdout).sort((x, y) => x.fileName.localeCompare(y.fileName))).toEqual([
      { fileName: 'a\nb.txt', isDirectory: false, isFile: true },
      { fileName: 'sub', isDirectory: true, isFile: false },
    ]);
  });

  it('create, copy, canonicalize and remove', () => {
    const dir = join(root, 'ops', 'a', 'b');
    expect(bash(createDirectoryCommand(dir, false)).code).not.toBe(0);
    expect(bash(createDirectoryCommand(dir, true)).code).toBe(0);
    writeFileSync(join(dir, 'f'), 'hello');
    expect(bash(copyCommand(join(root, 'ops', 'a'), join(root, 'ops', 'copy'), true)).code).toBe(0);
    expect(readFileSync(join(root, 'ops', 'copy', 'b', 'f'), 'utf8')).toBe('hello');
    expect(bash(canonicalizeCommand(join(root, 'ops', 'copy', 'b', '..', 'b'))).stdout.toString()).toBe(`${join(root, 'ops', 'copy', 'b')}\n`);
    // A non-empty directory needs `recursive`.
    expect(bash(removeCommand(join(root, 'ops', 'copy'), { recursive: false, force: false })).code).not.toBe(0);
    expect(bash(removeCommand(join(root, 'ops', 'copy'), { recursive: true, force: false })).code).toBe(0);
    expect(existsSync(join(root, 'ops', 'copy'))).toBe(false);
  });

  it('refuse a write too large for one step, with the limit in the message', () => {
    expect(() => writeFileCommand('/x', Buffer.alloc(MAX_WRITE_BYTES + 1))).toThrow(/over the \d+-byte limit/);
    expect(Buffer.byteLength(writeFileCommand('/x', Buffer.alloc(MAX_WRITE_BYTES)))).toBeLessThan(64 * 1024);
  });
});
