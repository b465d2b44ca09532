// Reads an `strace -f -y` log into what a command really did: programs executed (with the program that
// executed each one, from the process tree), files opened for reading or writing, connect() attempts.
// Pure: the harness (harness.ts) feeds it trace files; the unit-free tests feed it literal logs.
import { posix } from 'node:path';

/** One successful execve, attributed to the process image that called it. */
export interface ExecEvent {
  readonly pid: number;
  readonly path: string;
  /** Basename of the executed path (what the chain predicts names by). */
  readonly name: string;
  readonly argv: readonly string[];
  /** The program image that called execve (after its own exec), or undefined for the traced root. */
  readonly caller: { readonly name: string; readonly argv: readonly string[] } | undefined;
  /** Index of the caller's exec in {@link Observed.execs} (-1 for the root), to walk up the tree. */
  readonly callerExec: number;
}

export interface FileEvent {
  readonly pid: number;
  readonly access: 'read' | 'write';
  /** Absolute path as the kernel resolved it (`-y`), else resolved against the tracked cwd. */
  readonly path: string;
  readonly syscall: string;
  /** Index of the exec whose image did it (-1: the root shell before any exec, not expected). */
  readonly exec: number;
}

export interface ConnectEvent {
  readonly pid: number;
  readonly family: string;
  readonly address: string;
  readonly port: number;
  readonly exec: number;
}

export interface Observed {
  readonly execs: readonly ExecEvent[];
  readonly files: readonly FileEvent[];
  readonly connects: readonly ConnectEvent[];
}

/** Decodes one strace string literal starting at `s[i] === '"'`; returns the text and the index after it. */
export function readCString(s: string, i: number): { text: string; end: number } {
  let out = '';
  let j = i + 1;
  while (j < s.length && s[j] !== '"') {
    const c = s[j]!;
    if (c !== '\\') {
      out += c;
      j++;
      continue;
    }
    const n = s[j + 1] ?? '';
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', v: '\v', f: '\f', '\\': '\\', '"': '"' };
    if (n in simple) {
      out += simple[n];
      j += 2;
    } else if (n === 'x') {
      out += String.fromCharCode(parseInt(s.slice(j + 2, j + 4), 16));
      j += 4;
    } else if (/[0-7]/.test(n)) {
      let k = j + 1;
      while (k < j + 4 && /[0-7]/.test(s[k] ?? '')) k++;
      out += String.fromCharCode(parseInt(s.slice(j + 1, k), 8));
      j = k;
    } else {
      out += n;
      j += 2;
    }
  }
  return { text: out, end: j + 1 };
}

/** Every string literal in `args`, in order (argv arrays flattened). */
function strings(args: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '"') {
      const r = readCString(args, i);
      out.push(r.text);
      i = r.end - 1;
    }
  }
  return out;
}

/** `3</home/agent/x>` → `/home/agent/x` (the -y decoration of a returned or passed fd). */
function fdPath(text: string): string | undefined {
  const m = /^-?\d+<(.*)>$/.exec(text.trim());
  return m ? m[1] : undefined;
}

interface Call {
  readonly name: string;
  readonly args: string;
  readonly ret: string;
}

/** `name(args) = ret` (the ret part may be missing for calls that never returned). */
function splitCall(body: string): Call | undefined {
  const open = body.indexOf('(');
  if (open <= 0) return undefined;
  const name = body.slice(0, open);
  if (!/^[a-z0-9_]+$/.test(name)) return undefined;
  // The result follows the last `) = `; decorations inside args cannot contain it unescaped.
  // (a resumed call pads with blanks: `<... execve resumed>)             = 0`).
  const m = /\) +=( .*)$/.exec(body.slice(body.lastIndexOf(') ')));
  if (!m) return { name, args: body.slice(open + 1), ret: '' };
  const eq = body.lastIndexOf(') ');
  return { name, args: body.slice(open + 1, eq), ret: m[1]!.trim() };
}

const WRITE_FLAGS = /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND/;

/** Parses one trace. Events of a pid are attributed to the image it had at that point. */
export function parseTrace(text: string): Observed {
  const lines = text.split('\n');
  const pending = new Map<number, string>();
  const calls: { pid: number; call: Call }[] = [];
  const parentOf = new Map<number, number>();
  for (const raw of lines) {
    const m = /^(\d+)\s+(.*)$/.exec(raw);
    if (!m) continue;
    const pid = Number(m[1]);
    let body = m[2]!;
    if (body.startsWith('---') || body.startsWith('+++')) continue;
    if (body.endsWith('<unfinished ...>')) {
      pending.set(pid, body.slice(0, -'<unfinished ...>'.length).trimEnd());
      // A clone's child shows up before the call returns: remember the order of the call itself.
      continue;
    }
    const resumed = /^<\.\.\. [a-z0-9_]+ resumed>(.*)$/.exec(body);
    if (resumed) {
      body = (pending.get(pid) ?? '') + resumed[1];
      pending.delete(pid);
    }
    const call = splitCall(body);
    if (!call) continue;
    if (/^(clone3?|fork|vfork)$/.test(call.name)) {
      const child = Number(/^(\d+)/.exec(call.ret)?.[1] ?? '0');
      if (child > 0) parentOf.set(child, pid);
    }
    calls.push({ pid, call });
  }

  const image = new Map<number, number>(); // pid → index of its current exec
  const cwd = new Map<number, string>();
  const seen = new Set<number>();
  const execs: ExecEvent[] = [];
  const files: FileEvent[] = [];
  const connects: ConnectEvent[] = [];
  const inherit = (pid: number): void => {
    if (seen.has(pid)) return;
    seen.add(pid);
    const parent = parentOf.get(pid);
    if (parent !== undefined) {
      inherit(parent);
      if (image.has(parent)) image.set(pid, image.get(parent)!);
      cwd.set(pid, cwd.get(parent) ?? '/workspace');
    } else {
      cwd.set(pid, '/workspace');
    }
  };
  const resolve = (pid: number, p: string): string => posix.resolve(cwd.get(pid) ?? '/workspace', p);

  for (const { pid, call } of calls) {
    inherit(pid);
    const ok = call.ret !== '' && !call.ret.startsWith('-1') && !call.ret.startsWith('?');
    const at = image.get(pid) ?? -1;
    switch (call.name) {
      case 'execve':
      case 'execveat': {
        if (!ok) break;
        const strs = strings(call.args);
        const path = strs[0] ?? '';
        const argv = strs.slice(1);
        const callerExec = image.get(pid) ?? -1;
        const caller = callerExec >= 0 ? { name: execs[callerExec]!.name, argv: execs[callerExec]!.argv } : undefined;
        execs.push({ pid, path, name: posix.basename(path), argv, caller, callerExec });
        image.set(pid, execs.length - 1);
        break;
      }
      case 'open':
      case 'openat':
      case 'openat2':
      case 'creat': {
        if (!ok) break;
        const path = fdPath(call.ret) ?? resolve(pid, strings(call.args)[0] ?? '');
        const write = call.name === 'creat' || WRITE_FLAGS.test(call.args);
        const read = call.name !== 'creat' && (!/O_WRONLY/.test(call.args));
        if (read) files.push({ pid, access: 'read', path, syscall: call.name, exec: at });
        if (write) files.push({ pid, access: 'write', path, syscall: call.name, exec: at });
        break;
      }
      case 'unlink':
      case 'unlinkat':
      case 'rename':
      case 'renameat':
      case 'renameat2':
      case 'link':
      case 'linkat':
      case 'symlink':
      case 'symlinkat':
      case 'truncate': {
        if (!ok) break;
        for (const p of writtenPaths(call)) files.push({ pid, access: 'write', path: resolveAt(pid, p, resolve), syscall: call.name, exec: at });
        break;
      }
      case 'chdir': {
        if (ok) cwd.set(pid, resolve(pid, strings(call.args)[0] ?? '.'));
        break;
      }
      case 'fchdir': {
        const p = fdPath(call.args.split(',')[0] ?? '');
        if (ok && p) cwd.set(pid, p);
        break;
      }
      case 'connect': {
        const c = parseSockaddr(call.args);
        if (c) connects.push({ pid, ...c, exec: at });
        break;
      }
      default:
        break;
    }
  }
  return { execs, files, connects };
}

/** The paths a name-changing call writes, each with its directory-fd decoration when it has one. */
function writtenPaths(call: Call): { dir: string | undefined; path: string }[] {
  // Split top-level args: `AT_FDCWD</workspace>, "a", 3</x>, "b", 0`.
  const parts = splitArgs(call.args);
  const str = (k: number): string => (parts[k] && parts[k]!.startsWith('"') ? readCString(parts[k]!, 0).text : '');
  const dir = (k: number): string | undefined => fdPath((parts[k] ?? '').replace(/^AT_FDCWD/, '0'));
  switch (call.name) {
    case 'unlink':
    case 'truncate':
      return [{ dir: undefined, path: str(0) }];
    case 'unlinkat':
      return [{ dir: dir(0), path: str(1) }];
    case 'rename':
    case 'link':
      return call.name === 'rename' ? [{ dir: undefined, path: str(0) }, { dir: undefined, path: str(1) }] : [{ dir: undefined, path: str(1) }];
    case 'renameat':
    case 'renameat2':
      return [{ dir: dir(0), path: str(1) }, { dir: dir(2), path: str(3) }];
    case 'linkat':
      return [{ dir: dir(2), path: str(3) }];
    case 'symlink':
      return [{ dir: undefined, path: str(1) }];
    case 'symlinkat':
      return [{ dir: dir(1), path: str(2) }];
    default:
      return [];
  }
}

function resolveAt(pid: number, p: { dir: string | undefined; path: string }, resolve: (pid: number, p: string) => string): string {
  if (p.path.startsWith('/')) return posix.normalize(p.path);
  return p.dir ? posix.resolve(p.dir, p.path) : resolve(pid, p.path);
}

/** Top-level comma-separated arguments, strings and braces kept whole. */
function splitArgs(args: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < args.length; i++) {
    const c = args[i]!;
    if (c === '"') {
      const r = readCString(args, i);
      cur += args.slice(i, r.end);
      i = r.end - 1;
      continue;
    }
    if (c === '{' || c === '[' || c === '(') depth++;
    if (c === '}' || c === ']' || c === ')') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else {
      cur += c;
    }
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** The socket address of a connect() unless it is local IPC (AF_UNIX, AF_NETLINK) or a disconnect (AF_UNSPEC). */
export function parseSockaddr(args: string): { family: string; address: string; port: number } | undefined {
  const fam = /sa_family=(AF_[A-Z0-9]+)/.exec(args)?.[1];
  if (!fam || fam === 'AF_UNIX' || fam === 'AF_LOCAL' || fam === 'AF_NETLINK' || fam === 'AF_UNSPEC') return undefined;
  const port = Number(/sin6?_port=htons\((\d+)\)/.exec(args)?.[1] ?? '0');
  const v4 = /inet_addr\("([^"]*)"\)/.exec(args)?.[1];
  const v6 = /inet_pton\(AF_INET6, "([^"]*)"/.exec(args)?.[1];
  return { family: fam, address: v4 ?? v6 ?? '?', port };
}
