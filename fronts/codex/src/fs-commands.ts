// Codex's fs/* requests as bash command lines run as ordinary Airlock steps: each is validated by the
// run's policy (reading `.env` is held like `cat .env` would be), snapshotted and logged. Until Airlock
// has file tools of its own this is the only way to touch the sandbox's files that the policy sees.
// Paths are sandbox paths (see paths.ts), always passed single-quoted after `--`.
import { posix } from 'node:path';
import { MAX_COMMAND_BYTES } from '@airlock/proto';
import { RpcError, rpcErrorCodes } from './jsonrpc.ts';

/** Exit status the commands use for "no such file", so it is told apart from other failures by code, not text. */
export const NOT_FOUND_EXIT = 44;

/** Quotes a string for bash: the only special character inside single quotes is the quote itself. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Quotes an argv as one bash command line. */
export function quoteArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : shellQuote(a))).join(' ');
}

function mustExist(q: string): string {
  return `{ [ -e ${q} ] || [ -L ${q} ] || exit ${NOT_FOUND_EXIT}; }`;
}

/**
 * Type of the entry itself (lstat), then type, size, birth and modification time of what it points to
 * (or of the link itself when it dangles).
 */
export function getMetadataCommand(path: string): string {
  const q = shellQuote(path);
  const fmt = `'%F\\n%s\\n%W\\n%Y\\n'`;
  return `${mustExist(q)}; stat --printf '%F\\n' -- ${q} && { stat -L --printf ${fmt} -- ${q} 2>/dev/null || stat --printf ${fmt} -- ${q}; }`;
}

export interface Metadata {
  isDirectory: boolean;
  isFile: boolean;
  isSymlink: boolean;
  size: number;
  createdAtMs: number;
  modifiedAtMs: number;
}

export function parseMetadata(stdout: string): Metadata {
  const [own, type, size, birth, mtime] = stdout.split('\n');
  if (own === undefined || type === undefined || size === undefined || birth === undefined || mtime === undefined) {
    throw new RpcError(rpcErrorCodes.internal, `unexpected stat output: ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  const seconds = (s: string) => (/^\d+$/.test(s) ? Number(s) * 1000 : 0);
  return {
    isDirectory: type === 'directory',
    isFile: type.startsWith('regular'),
    isSymlink: own === 'symbolic link',
    size: Number(size) || 0,
    createdAtMs: seconds(birth),
    modifiedAtMs: seconds(mtime),
  };
}

/** The file's bytes on stdout; a directory is an error (as reading one is). */
export function readFileCommand(path: string): string {
  const q = shellQuote(path);
  return `${mustExist(q)}; cat -- ${q}`;
}

/** Most a `fs/writeFile` may carry: its base64 must fit in one command line with room to spare. */
export const MAX_WRITE_BYTES = Math.floor(((MAX_COMMAND_BYTES - 4096) / 4) * 3 * (76 / 77));

/**
 * Writes `data` (raw bytes) to `path`, replacing it, and creates missing parent directories: Codex's
 * apply_patch adds a file in a new directory with one `fs/writeFile` and no `fs/createDirectory`
 * (seen with 0.171.0). The bytes travel base64 in a quoted heredoc.
 */
export function writeFileCommand(path: string, data: Buffer): string {
  if (data.length > MAX_WRITE_BYTES) {
    throw new RpcError(
      rpcErrorCodes.invalidRequest,
      `Airlock writes files through a step, whose command is limited to ${MAX_COMMAND_BYTES} bytes: ${data.length} bytes is over the ${MAX_WRITE_BYTES}-byte limit for one fs/writeFile`,
    );
  }
  const b64 = data.toString('base64').replace(/(.{76})/g, '$1\n').replace(/\n$/, '');
  return `mkdir -p -- ${shellQuote(posix.dirname(path))} && base64 -d > ${shellQuote(path)} <<'AIRLOCK_DATA'\n${b64}\nAIRLOCK_DATA`;
}

export function createDirectoryCommand(path: string, recursive: boolean): string {
  return `mkdir ${recursive ? '-p ' : ''}-- ${shellQuote(path)}`;
}

/** One entry per NUL-terminated record: type of what it points to (find's %Y), a tab, the name. */
export function readDirectoryCommand(path: string): string {
  const q = shellQuote(path);
  return `${mustExist(q)}; find ${q} -mindepth 1 -maxdepth 1 -printf '%Y\\t%f\\0'`;
}

export function parseDirectory(stdout: Buffer): Array<{ fileName: string; isDirectory: boolean; isFile: boolean }> {
  return stdout
    .toString('utf8')
    .split('\0')
    .filter((r) => r.length > 0)
    .map((r) => {
      const tab = r.indexOf('\t');
      const type = r.slice(0, tab);
      return { fileName: r.slice(tab + 1), isDirectory: type === 'd', isFile: type === 'f' };
    });
}

/** A directory needs `recursive` unless it is empty; `force` makes a missing path a success. */
export function removeCommand(path: string, opts: { recursive: boolean; force: boolean }): string {
  const q = shellQuote(path);
  const missing = `{ [ -e ${q} ] || [ -L ${q} ] || exit ${opts.force ? 0 : NOT_FOUND_EXIT}; }`;
  const dir = opts.recursive ? `rm -r -f -- ${q}` : `rmdir -- ${q}`;
  return `${missing}; if [ -d ${q} ] && [ ! -L ${q} ]; then ${dir}; else rm -f -- ${q}; fi`;
}

export function copyCommand(source: string, destination: string, recursive: boolean): string {
  const s = shellQuote(source);
  return `${mustExist(s)}; cp ${recursive ? '-R ' : ''}-- ${s} ${shellQuote(destination)}`;
}

export function canonicalizeCommand(path: string): string {
  const q = shellQuote(path);
  return `${mustExist(q)}; realpath -e -- ${q}`;
}
