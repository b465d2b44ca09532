import { bareHost, urlHost, type Facts } from './facts.ts';
import { field, named, type CodeTree, type Node } from './tree.ts';

/**
 * Python code analysis over the tree-sitter-python syntax tree.
 *
 * Names are resolved to qualified names (`sp.run` → `subprocess.run`) through
 * imports (`import x as y`, `from x import y as z`, `from x import *`),
 * `__import__('x')`, `importlib.import_module('x')`, `getattr(x, 'y')` and
 * simple assignments; string constants are propagated through assignments and
 * `+`. Flow-insensitive: a name assigned two different values is unknown.
 */

type Val =
  | { readonly k: 'q'; readonly q: string }
  | { readonly k: 's'; readonly s: string }
  | { readonly k: 'path'; readonly p: string | null }
  | { readonly k: 'unknown' };

const UNKNOWN_VAL: Val = { k: 'unknown' };

/** Builtins that matter; other unbound names are ordinary values. */
const BUILTINS = new Set(['open', 'repr', 'str', 'exec', 'eval', 'compile', '__import__', 'getattr', 'execfile', 'globals', 'locals', 'vars', 'chr', 'breakpoint', 'input']);

/** Shell string as first argument. */
const SHELL_APIS = new Set([
  'os.system', 'os.popen', 'os.popen2', 'os.popen3', 'os.popen4', 'subprocess.getoutput', 'subprocess.getstatusoutput', 'commands.getoutput',
  'commands.getstatusoutput', 'asyncio.create_subprocess_shell', 'platform.popen', 'popen2.popen2', 'popen2.popen3', 'popen2.popen4',
]);
/** argv list, or a string that is a shell command with shell=True and a program name without. */
const PROC_APIS = new Set(['subprocess.run', 'subprocess.call', 'subprocess.check_call', 'subprocess.check_output', 'subprocess.Popen']);
/** The os.exec and os.spawn families: index of the program argument, and whether the rest are list (v) or varargs (l). */
const EXEC_APIS: ReadonlyMap<string, { prog: number; list: boolean }> = new Map([
  ...['execv', 'execve', 'execvp', 'execvpe'].map((n) => [`os.${n}`, { prog: 0, list: true }] as const),
  ...['execl', 'execle', 'execlp', 'execlpe'].map((n) => [`os.${n}`, { prog: 0, list: false }] as const),
  ...['spawnv', 'spawnve', 'spawnvp', 'spawnvpe'].map((n) => [`os.${n}`, { prog: 1, list: true }] as const),
  ...['spawnl', 'spawnle', 'spawnlp', 'spawnlpe'].map((n) => [`os.${n}`, { prog: 1, list: false }] as const),
  ['os.posix_spawn', { prog: 0, list: true }],
  ['os.posix_spawnp', { prog: 0, list: true }],
  ['asyncio.create_subprocess_exec', { prog: 0, list: false }],
  ['pty.spawn', { prog: 0, list: true }],
]);
/** Module prefixes whose every other callable runs programs (not modelled individually: dynamic). */
const EXEC_PREFIXES = ['subprocess.', 'os.exec', 'os.spawn', 'os.posix_spawn', 'pty.', 'commands.', 'popen2.', 'pexpect.', 'sh.', 'plumbum.'];
/** Code evaluated at run time. */
const CODE_APIS = new Set(['exec', 'eval', 'compile', 'execfile', 'code.interact', 'code.InteractiveInterpreter', 'code.InteractiveConsole', 'runpy.run_module']);
const UNPICKLE = new Set(['pickle.loads', 'pickle.load', 'marshal.loads', 'marshal.load', 'dill.loads', 'cloudpickle.loads', 'shelve.open', 'types.FunctionType', 'types.CodeType']);
const DECODERS = new Set([
  'base64.b64decode', 'base64.b32decode', 'base64.b16decode', 'base64.a85decode', 'base64.b85decode', 'base64.decodebytes', 'base64.standard_b64decode',
  'base64.urlsafe_b64decode', 'base64.decodestring', 'codecs.decode', 'codecs.encode', 'binascii.unhexlify', 'binascii.a2b_base64', 'binascii.a2b_hex',
  'zlib.decompress', 'gzip.decompress', 'bz2.decompress', 'lzma.decompress', 'bytes.fromhex', 'bytearray.fromhex', 'chr', 'str.maketrans', 'marshal.loads',
]);
/** Calls that are network use; hosts come from their literal arguments. */
const NET_PREFIXES = [
  'socket.', 'urllib.request.', 'urllib2.', 'urllib.urlopen', 'urllib3.', 'http.client.', 'httplib.', 'requests.', 'httpx.', 'aiohttp.', 'ftplib.',
  'smtplib.', 'telnetlib.', 'poplib.', 'imaplib.', 'nntplib.', 'xmlrpc.client.', 'xmlrpclib.', 'websocket.', 'websockets.', 'paramiko.', 'pycurl.',
  'asyncio.open_connection', 'asyncio.open_unix_connection', 'ssl.wrap_socket', 'ssl.create_connection', 'dns.resolver.', 'webbrowser.open', 'tornado.httpclient.',
];
/** Net calls that only build a local object (no traffic by themselves). */

/** Introspection attributes that reach modules and builtins without naming them (`().__class__.__bases__[0].__subclasses__()`). */
const GADGET_ATTRS = new Set(['__subclasses__', '__globals__', '__getattribute__', '__reduce__', '__reduce_ex__', '__loader__', '__builtins__', 'f_globals', 'f_builtins', 'gi_frame', 'tb_frame']);

/** Modules that, handed to code the analysis does not follow, can run anything. */
const PASSED_MODULES = new Set(['os', 'posix', 'subprocess', 'pty', 'builtins', 'importlib', 'ctypes', 'commands', '__import__', 'exec', 'eval']);
/** Modules where an attribute chosen at run time can run programs or code. */
const POWERFUL_MODULES = new Set(['os', 'posix', 'subprocess', 'builtins', '__builtins__', 'importlib', 'ctypes', 'pty', 'shutil', 'socket', 'sys', 'commands', 'io', 'pathlib', 'codecs', 'runpy', 'code', 'pickle', 'marshal', 'asyncio', 'multiprocessing', 'exec', 'eval', '__import__', 'getattr', 'globals', 'locals', 'vars']);
const FILE_READ = new Set(['open', 'io.open', 'codecs.open', 'os.open', 'builtins.open', 'io.FileIO', 'linecache.getlines', 'tarfile.open', 'zipfile.ZipFile', 'fileinput.input']);
const FILE_DELETE: ReadonlyMap<string, boolean> = new Map([
  ['os.remove', false], ['os.unlink', false], ['os.rmdir', false], ['os.removedirs', true], ['shutil.rmtree', true], ['os.truncate', false],
]);
const FILE_COPY = new Set(['shutil.copy', 'shutil.copy2', 'shutil.copyfile', 'shutil.copytree', 'shutil.copymode', 'shutil.copystat', 'shutil.copyfileobj']);
const FILE_MOVE = new Set(['shutil.move', 'os.rename', 'os.replace', 'os.renames']);
const FILE_WRITE_DST = new Set(['os.symlink', 'os.link']);
const FILE_WRITE = new Set(['os.chmod', 'os.chown', 'os.lchown', 'os.utime', 'os.mkdir', 'os.makedirs', 'os.mkfifo', 'os.mknod', 'shutil.chown']);
const PATH_CTORS = new Set(['pathlib.Path', 'pathlib.PosixPath', 'pathlib.PurePath', 'pathlib.PurePosixPath']);
const PATH_READ = new Set(['read_text', 'read_bytes', 'open', 'iterdir', 'glob', 'rglob', 'walk', 'stat', 'exists', 'is_file', 'is_dir']);
/**
 * Standard-library calls that run fixed programs themselves (CPython's sources: `platform` asks `uname -p` for the
 * processor and `file` for the architecture, `ctypes.util.find_library` tries ldconfig, the C compiler and objdump).
 */
const STDLIB_HELPERS: ReadonlyMap<string, readonly string[]> = new Map([
  ['platform.platform', ['uname']], ['platform.processor', ['uname']], ['platform.uname', ['uname']], ['platform.system_alias', ['uname']],
  ['platform.architecture', ['file']],
  ['ctypes.util.find_library', ['ldconfig', 'gcc', 'cc', 'objdump', 'ld']],
]);
/** Directory listings and walks: which files the code then opens is decided at run time from what they find. */
const TREE_LISTING = new Set(['os.walk', 'os.fwalk', 'os.listdir', 'os.scandir', 'glob.glob', 'glob.iglob']);
const PATH_WRITE = new Set(['write_text', 'write_bytes', 'touch', 'mkdir', 'chmod', 'symlink_to', 'hardlink_to', 'link_to']);

/**
 * Every name the analysis keys on (first segment of each table entry, the builtins it follows):
 * Python code naming none of them, outside attribute position, can reach none of the APIs it models.
 */
export const PYTHON_ROOTS: ReadonlySet<string> = new Set(
  [
    ...BUILTINS, ...SHELL_APIS, ...PROC_APIS, ...EXEC_APIS.keys(), ...EXEC_PREFIXES, ...CODE_APIS, ...UNPICKLE, ...DECODERS, ...NET_PREFIXES, ...PASSED_MODULES,
    ...POWERFUL_MODULES, ...FILE_READ, ...FILE_DELETE.keys(), ...FILE_COPY, ...FILE_MOVE, ...FILE_WRITE_DST, ...FILE_WRITE, ...PATH_CTORS,
    'builtins', '__builtins__', 'importlib', 'sys', 'os', 'posixpath', 'ctypes', 'cffi',
  ]
    .map((q) => q.split('.')[0]!)
    // Helpers that only matter next to another root (str/repr of a literal, chr before exec, input before eval).
    .filter((r) => r !== '' && !['str', 'repr', 'chr', 'input'].includes(r)),
);

/** Analyses Python source; every fact goes into `f`. */
export function analyzePython(t: CodeTree, f: Facts): void {
  const a = new PyAnalysis(t.src, f);
  a.bindAll(t.root);
  a.visit(t.root);
}

class PyAnalysis {
  readonly bind = new Map<string, Val>();
  readonly stars: string[] = [];
  /** Names bound to a copy of the whole environment (`e = dict(os.environ)`): showing them shows every variable. */
  readonly envCopies = new Set<string>();
  readonly src: string;
  readonly f: Facts;
  constructor(src: string, f: Facts) {
    this.src = src;
    this.f = f;
  }

  text(n: Node): string {
    return this.src.slice(n.start, n.end);
  }

  set(name: string, v: Val): void {
    const old = this.bind.get(name);
    if (old === undefined) this.bind.set(name, v);
    else if (!sameVal(old, v)) this.bind.set(name, UNKNOWN_VAL);
  }

  /** Pass 1: imports and assignments (every scope, flow-insensitive). */
  bindAll(n: Node): void {
    switch (n.type) {
      case 'import_statement':
        for (const c of named(n)) {
          if (c.type === 'dotted_name') {
            const q = this.text(c);
            const top = q.split('.')[0]!;
            this.set(top, { k: 'q', q: top });
          } else if (c.type === 'aliased_import') {
            const nm = field(c, 'name');
            const al = field(c, 'alias');
            if (nm && al) this.set(this.text(al), { k: 'q', q: this.text(nm) });
          }
        }
        return;
      case 'import_from_statement': {
        const mod = field(n, 'module_name');
        const m = mod ? this.text(mod) : '';
        for (const c of n.children) {
          if (c.field === 'module_name') continue;
          if (c.type === 'wildcard_import') this.stars.push(m);
          else if (c.type === 'dotted_name') this.set(this.text(c), { k: 'q', q: `${m}.${this.text(c)}` });
          else if (c.type === 'aliased_import') {
            const nm = field(c, 'name');
            const al = field(c, 'alias');
            if (nm && al) this.set(this.text(al), { k: 'q', q: `${m}.${this.text(nm)}` });
          }
        }
        return;
      }
      case 'assignment': {
        const left = field(n, 'left');
        const right = field(n, 'right');
        if (left?.type === 'identifier' && right) this.set(this.text(left), this.valueOf(right));
        else if (left && (left.type === 'pattern_list' || left.type === 'tuple_pattern')) {
          for (const c of named(left)) if (c.type === 'identifier') this.set(this.text(c), UNKNOWN_VAL);
        }
        break;
      }
      case 'as_pattern': {
        // with X as y / except E as y
        const alias = n.children.find((c) => c.type === 'as_pattern_target');
        const target = alias ? named(alias)[0] : undefined;
        const value = named(n)[0];
        if (target?.type === 'identifier' && value) this.set(this.text(target), this.valueOf(value));
        break;
      }
      case 'for_statement': {
        const left = field(n, 'left');
        if (left?.type === 'identifier') this.set(this.text(left), UNKNOWN_VAL);
        break;
      }
      case 'named_expression': {
        const nm = field(n, 'name');
        const v = field(n, 'value');
        if (nm && v) this.set(this.text(nm), this.valueOf(v));
        break;
      }
      case 'function_definition':
      case 'class_definition': {
        const nm = field(n, 'name');
        if (nm) this.set(this.text(nm), UNKNOWN_VAL);
        break;
      }
    }
    for (const c of n.children) this.bindAll(c);
  }

  /** What an expression evaluates to, statically. */
  valueOf(n: Node): Val {
    const s = this.str(n);
    if (s !== null) return { k: 's', s };
    const p = this.pathOf(n);
    if (p !== undefined) return { k: 'path', p };
    const q = this.qual(n);
    if (q !== null) return { k: 'q', q };
    return UNKNOWN_VAL;
  }

  /** Literal string value (quotes removed, escapes decoded), or null. */
  str(n: Node, depth = 0): string | null {
    if (depth > 20) return null;
    switch (n.type) {
      case 'string':
        return this.stringLiteral(n);
      case 'concatenated_string': {
        let out = '';
        for (const c of named(n)) {
          const s = this.str(c, depth + 1);
          if (s === null) return null;
          out += s;
        }
        return out;
      }
      case 'binary_operator': {
        const op = n.children.find((c) => c.field === 'operator');
        if (!op || this.text(op) !== '+') return null;
        const l = field(n, 'left');
        const r = field(n, 'right');
        const ls = l ? this.str(l, depth + 1) : null;
        const rs = r ? this.str(r, depth + 1) : null;
        return ls !== null && rs !== null ? ls + rs : null;
      }
      case 'parenthesized_expression': {
        const inner = named(n)[0];
        return inner ? this.str(inner, depth + 1) : null;
      }
      case 'identifier': {
        const v = this.bind.get(this.text(n));
        return v?.k === 's' ? v.s : v?.k === 'path' && v.p !== null ? v.p : null;
      }
      case 'subscript': {
        // os.environ['HOME'] is the home directory, written `~` like the shell chain does.
        const v = field(n, 'value');
        const sub = field(n, 'subscript');
        return v && sub && this.qual(v) === 'os.environ' && this.str(sub) === 'HOME' ? '~' : null;
      }
      case 'call': {
        const callee = field(n, 'function');
        const cargs = field(n, 'arguments');
        const cq = callee ? this.qual(callee) : null;
        if ((cq === 'repr' || cq === 'str') && cargs && named(cargs).length === 1) {
          const inner = this.str(named(cargs)[0]!, depth + 1);
          if (inner !== null && cq === 'str') return inner;
          if (inner !== null && !/['\\\n]/.test(inner)) return `'${inner}'`;
        }
        if ((cq === 'os.getenv' || cq === 'os.environ.get') && cargs && named(cargs)[0] && this.str(named(cargs)[0]!) === 'HOME') return '~';
        if (cq === 'pathlib.Path.home' || cq === 'os.path.expanduser' && cargs && named(cargs)[0] && this.str(named(cargs)[0]!) === '~') return '~';
        // ' '.join([...literals]) and 'x'.format() without arguments are literal; everything else is not.
        const fn = field(n, 'function');
        const args = field(n, 'arguments');
        if (fn?.type === 'attribute' && args) {
          const obj = field(fn, 'object');
          const attr = field(fn, 'attribute');
          const sep = obj ? this.str(obj, depth + 1) : null;
          const list = named(args);
          if (sep !== null && attr && this.text(attr) === 'join' && list.length === 1 && (list[0]!.type === 'list' || list[0]!.type === 'tuple')) {
            const parts = this.strList(list[0]!);
            if (parts && !parts.includes(null)) return parts.join(sep);
          }
          if (sep !== null && attr && /^(strip|lstrip|rstrip|lower|upper)$/.test(this.text(attr)) && list.length === 0) return sep;
        }
        return null;
      }
      default:
        return null;
    }
  }

  stringLiteral(n: Node): string | null {
    const startTok = n.children[0];
    const prefix = startTok ? this.text(startTok).replace(/['"]+$/, '').toLowerCase() : '';
    let out = '';
    for (const c of n.children) {
      if (c.type === 'interpolation') {
        // f'{"x"}' is literal; any name, call, conversion or format spec is not.
        const parts = named(c);
        const v = parts.length === 1 ? this.str(parts[0]!) : null;
        if (v === null) return null;
        out += v;
        continue;
      }
      if (c.type === 'string_content') out += prefix.includes('r') ? this.text(c) : decodeEscapes(this.text(c));
    }
    return out;
  }

  /** Elements of a list/tuple literal: strings or null for non-literal ones; null when splatted. */
  strList(n: Node): (string | null)[] | null {
    const out: (string | null)[] = [];
    for (const c of named(n)) {
      if (c.type === 'list_splat') return null;
      out.push(this.str(c));
    }
    return out;
  }

  /** Qualified name of a module attribute the expression denotes (`os.system`), or null. */
  qual(n: Node, depth = 0): string | null {
    if (depth > 20) return null;
    switch (n.type) {
      case 'identifier': {
        const name = this.text(n);
        const v = this.bind.get(name);
        if (v) return v.k === 'q' ? v.q : null;
        if (BUILTINS.has(name)) return name;
        if (name === '__builtins__' || name === 'builtins') return 'builtins';
        for (const m of this.stars) {
          const q = `${m}.${name}`;
          if (isInteresting(q)) return q;
        }
        return null;
      }
      case 'attribute': {
        const obj = field(n, 'object');
        const attr = field(n, 'attribute');
        if (!obj || !attr) return null;
        const base = this.qual(obj, depth + 1);
        if (base === null) return null;
        return normalise(`${base}.${this.text(attr)}`);
      }
      case 'call': {
        const fn = field(n, 'function');
        const args = field(n, 'arguments');
        const q = fn ? this.qual(fn, depth + 1) : null;
        if (q === null || !args) return null;
        const list = named(args);
        if (q === '__import__' || q === 'importlib.import_module' || q === 'importlib.__import__') {
          const m = list[0] ? this.str(list[0]) : null;
          return m;
        }
        if (q === 'vars' && list.length === 1) {
          const owner = this.qual(list[0]!, depth + 1);
          return owner === null ? null : `${owner}.__dict__`;
        }
        if (q === 'getattr' && list.length >= 2) {
          const base = this.qual(list[0]!, depth + 1);
          const attr = this.str(list[1]!);
          return base !== null && attr !== null ? normalise(`${base}.${attr}`) : null;
        }
        return `${q}()`;
      }
      case 'subscript': {
        // sys.modules['os'], __builtins__.__dict__['exec'], globals()['__builtins__']
        const v = field(n, 'value');
        const sub = field(n, 'subscript');
        const base = v ? this.qual(v, depth + 1) : null;
        const key = sub ? this.str(sub) : null;
        if (base === 'sys.modules' && key !== null) return key;
        // `os.__dict__['system']` / `vars(os)['system']` is os.system; a bare `globals()[…]` / `vars()[…]` a global name.
        const owner = base === null ? null : /^(.*)\.__dict__$/s.exec(base)?.[1];
        if (owner && key !== null) return normalise(`${owner}.${key}`);
        if (base !== null && key !== null && /(__dict__|globals\(\)|vars\(\)|locals\(\))$/.test(base)) return normalise(key);
        return null;
      }
      case 'parenthesized_expression': {
        const inner = named(n)[0];
        return inner ? this.qual(inner, depth + 1) : null;
      }
      default:
        return null;
    }
  }

  /** A path value: `Path('x') / 'y'`, `os.path.join(...)`, `os.path.expanduser('~/x')`; undefined when not a path expression. */
  pathOf(n: Node, depth = 0): string | null | undefined {
    if (depth > 20) return undefined;
    if (n.type === 'identifier') {
      const v = this.bind.get(this.text(n));
      return v?.k === 'path' ? v.p : undefined;
    }
    if (n.type === 'parenthesized_expression') {
      const inner = named(n)[0];
      return inner ? this.pathOf(inner, depth + 1) : undefined;
    }
    if (n.type === 'binary_operator') {
      const op = n.children.find((c) => c.field === 'operator');
      const l = field(n, 'left');
      const r = field(n, 'right');
      if (!op || this.text(op) !== '/' || !l || !r) return undefined;
      const lp = this.pathOf(l, depth + 1);
      if (lp === undefined) return undefined;
      const rs = this.str(r) ?? this.pathOf(r, depth + 1) ?? null;
      return lp === null || rs === null ? null : joinPath(lp, rs);
    }
    if (n.type !== 'call') return undefined;
    const fn = field(n, 'function');
    const args = field(n, 'arguments');
    if (!fn || !args) return undefined;
    const list = named(args);
    const q = this.qual(fn);
    if (q !== null && (PATH_CTORS.has(q) || q === 'os.path.join' || q === 'posixpath.join')) {
      if (list.length === 0) return '.';
      let out: string | null = '';
      for (const c of list) {
        const s = this.str(c) ?? this.pathOf(c, depth + 1) ?? null;
        out = out === null || s === null ? null : out === '' ? s : joinPath(out, s);
      }
      return out;
    }
    if (q === 'pathlib.Path.home' || q === 'os.path.expanduser' && list[0] && this.str(list[0]) === '~') return '~';
    if (q === 'pathlib.Path.cwd' || q === 'os.getcwd') return '.';
    if (q !== null && /^os\.path\.(expanduser|abspath|realpath|normpath|expandvars)$/.test(q) && list[0]) {
      return this.str(list[0]) ?? this.pathOf(list[0], depth + 1) ?? null;
    }
    // Path methods returning paths: .expanduser(), .resolve(), .absolute(), .joinpath(x), .with_suffix(), .parent
    if (fn.type === 'attribute') {
      const obj = field(fn, 'object');
      const attr = field(fn, 'attribute');
      const base = obj ? this.pathOf(obj, depth + 1) : undefined;
      if (base === undefined || !attr) return undefined;
      const m = this.text(attr);
      if (m === 'expanduser' || m === 'resolve' || m === 'absolute') return base;
      if (m === 'joinpath') {
        let out: string | null = base;
        for (const c of list) {
          const s = this.str(c);
          out = out === null || s === null ? null : joinPath(out, s);
        }
        return out;
      }
      if (m === 'with_suffix' || m === 'with_name' || m === 'with_stem') return null;
    }
    return undefined;
  }

  /** Pass 2: every call, and dangerous names passed around as values. */
  visit(n: Node): void {
    if (n.type === 'assignment') {
      const left = field(n, 'left');
      const right = field(n, 'right');
      if (left?.type === 'identifier' && right && this.isEnvCopy(right)) this.envCopies.add(this.text(left));
    }
    if (n.type === 'call') {
      this.call(n);
      this.envCopyShown(n);
      const fn = field(n, 'function');
      const args = field(n, 'arguments');
      // dict(os.environ) / len(os.environ) copy or count it (env for a child process), they do not show it.
      const envOk = fn !== undefined && /^(dict|len|copy\.copy|copy\.deepcopy)$/.test(this.text(fn));
      // Builtins that only inspect a value return data, never something callable: `hasattr(os, 'x')`,
      // `isinstance(x, subprocess.Popen)`, `print(os)` do not hand the module to code that could call it.
      const inspects = fn !== undefined && /^(hasattr|isinstance|issubclass|callable|print|repr|str|type|id|len|bool|hash)$/.test(this.text(fn));
      if (args && !inspects) for (const c of named(args)) this.reference(c, envOk);
      else if (args && envOk === false) for (const c of named(args)) if (this.qual(c) === 'os.environ' || this.qual(c) === 'os.environb') this.f.envDumps.push('os.environ');
    } else if (n.type === 'list' || n.type === 'tuple' || n.type === 'for_statement' || n.type === 'for_in_clause' || n.type === 'return_statement' || n.type === 'pair' || n.type === 'set') {
      for (const c of named(n)) this.reference(c, false);
    }
    if (n.type === 'attribute') {
      const attr = field(n, 'attribute');
      if (attr && GADGET_ATTRS.has(this.text(attr))) this.f.dynamicCode.push(`.${this.text(attr)} (reaches objects the analysis cannot follow)`);
      // Only the object side can hold further calls; the attribute name is a plain identifier.
      const obj = field(n, 'object');
      if (obj) this.visit(obj);
      return;
    }
    for (const c of n.children) this.visit(c);
  }

  /** `dict(os.environ)`, `os.environ.copy()`, `copy.copy(os.environ)`, `{**os.environ}`, or a name bound to one. */
  isEnvCopy(n: Node): boolean {
    if (n.type === 'identifier') return this.envCopies.has(this.text(n));
    if (n.type === 'dictionary') return named(n).some((c) => c.type === 'dictionary_splat' && named(c).some((x) => /^os\.environb?$/.test(this.qual(x) ?? '')));
    if (n.type !== 'call') return false;
    const fn = field(n, 'function');
    const args = field(n, 'arguments');
    if (!fn) return false;
    const q = this.qual(fn) ?? this.text(fn);
    if (/^os\.environb?\.copy$/.test(q)) return true;
    return /^(dict|copy\.copy|copy\.deepcopy)$/.test(this.text(fn)) && args !== undefined && named(args).some((c) => /^os\.environb?$/.test(this.qual(c) ?? '') || this.isEnvCopy(c));
  }

  /**
   * A copy of the whole environment handed to anything but a program it starts (`print(dict(os.environ))`,
   * `json.dumps(os.environ.copy())`, `requests.post(u, json=e)`): the same as printing `os.environ`. A copy given as
   * `env=` to a child process, or to an exec API, is not shown.
   */
  envCopyShown(n: Node): void {
    const fn = field(n, 'function');
    const argsNode = field(n, 'arguments');
    if (!fn || !argsNode) return;
    const q = this.qual(fn) ?? this.text(fn);
    if (SHELL_APIS.has(q) || PROC_APIS.has(q) || EXEC_APIS.has(q) || /^(dict|copy\.copy|copy\.deepcopy|len)$/.test(q) || /\.(update|setdefault)$/.test(q)) return;
    for (const c of named(argsNode)) {
      const v = c.type === 'keyword_argument' ? (this.text(field(c, 'name') ?? c) === 'env' ? undefined : field(c, 'value')) : c;
      if (v && this.isEnvCopy(v)) {
        this.f.envDumps.push(`${q}(copy of os.environ)`);
        return;
      }
    }
  }

  /** A dangerous API used as a value (`map(os.system, cmds)`), or the whole environment iterated or printed. */
  reference(n: Node, envOk: boolean): void {
    if (n.type !== 'identifier' && n.type !== 'attribute') return;
    const q = this.qual(n);
    if (q === null) return;
    if (SHELL_APIS.has(q) || PROC_APIS.has(q) || EXEC_APIS.has(q) || CODE_APIS.has(q) || PASSED_MODULES.has(q)) this.f.dynamicExec.push(`${q} passed as a value`);
    else if (!envOk && (q === 'os.environ' || q === 'os.environb')) this.f.envDumps.push('os.environ');
  }

  call(n: Node): void {
    const fn = field(n, 'function');
    const argsNode = field(n, 'arguments');
    if (!fn) return;
    const args = argsNode ? named(argsNode) : [];
    const pos = args.filter((c) => c.type !== 'keyword_argument' && c.type !== 'list_splat' && c.type !== 'dictionary_splat');
    const kw = (name: string): Node | undefined => {
      for (const c of args) if (c.type === 'keyword_argument' && field(c, 'name') && this.text(field(c, 'name')!) === name) return field(c, 'value');
      return undefined;
    };
    const splat = args.some((c) => c.type === 'list_splat' || c.type === 'dictionary_splat');
    const pathObj = fn.type === 'attribute' ? field(fn, 'object') : undefined;
    if (pathObj && this.pathOf(pathObj) !== undefined) {
      this.methodCall(fn, pos, kw);
      return;
    }
    const q = this.qual(fn);
    if (q === null) {
      this.methodCall(fn, pos, kw);
      return;
    }
    const f = this.f;
    if (DECODERS.has(q) || (q.endsWith('.decode') && pos[0] && /rot|hex|base64|zip|bz2/i.test(this.str(pos[0]) ?? ''))) f.decoders.push(q);
    if (q === 'os.dup2' || q === 'os.dup') f.dup2 = true;
    if (SHELL_APIS.has(q)) {
      const s = pos[0] ? this.str(pos[0]) : null;
      if (s !== null) f.shells.push({ text: s, api: q });
      else f.dynamicExec.push(q);
      return;
    }
    if (PROC_APIS.has(q)) {
      const first = pos[0] ?? kw('args');
      const shellKw = kw('shell');
      const shell = shellKw !== undefined && this.text(shellKw) !== 'False';
      const exe = kw('executable');
      if (!first || splat || exe) {
        f.dynamicExec.push(q);
        return;
      }
      if (first.type === 'list' || first.type === 'tuple') {
        const list = this.strList(first);
        if (list === null || list.includes(null) || list.length === 0) f.dynamicExec.push(q);
        else if (shell) f.argvs.push({ argv: ['/bin/sh', '-c', ...(list as string[])], api: q });
        else f.argvs.push({ argv: list as string[], api: q });
        return;
      }
      const s = this.str(first);
      if (s === null) f.dynamicExec.push(q);
      else if (shell) f.shells.push({ text: s, api: q });
      else f.argvs.push({ argv: [s], api: q });
      return;
    }
    const ex = EXEC_APIS.get(q);
    if (ex) {
      const prog = pos[ex.prog] ? this.str(pos[ex.prog]!) : null;
      let rest: (string | null)[] | null;
      if (ex.list) {
        const l = pos[ex.prog + 1];
        rest = l === undefined ? [] : l.type === 'list' || l.type === 'tuple' ? this.strList(l) : l && this.str(l) !== null ? [this.str(l)] : null;
        if (rest !== null) rest = rest.slice(1);
      } else rest = pos.slice(ex.prog + 2).map((c) => this.str(c));
      if (q === 'pty.spawn' && pos[0] && (pos[0].type === 'list' || pos[0].type === 'tuple')) {
        const l = this.strList(pos[0]);
        if (l && !l.includes(null) && l.length > 0) f.argvs.push({ argv: l as string[], api: q });
        else f.dynamicExec.push(q);
        return;
      }
      if (prog === null || splat || rest === null || rest.includes(null)) f.dynamicExec.push(q);
      else f.argvs.push({ argv: [prog, ...(rest as string[])], api: q });
      return;
    }
    if (EXEC_PREFIXES.some((p) => q.startsWith(p)) && !/\.(PIPE|STDOUT|DEVNULL|CalledProcessError|TimeoutExpired|CompletedProcess|list2cmdline)$/.test(q)) {
      if (!q.startsWith('os.') || /^os\.(exec|spawn|posix_spawn)/.test(q)) f.dynamicExec.push(q);
      return;
    }
    if (CODE_APIS.has(q)) {
      const s = pos[0] ? this.str(pos[0]) : null;
      if (s === null && pos[0] && this.readsFile(pos[0])) return; // exec(open('x.py').read()) runs a file, like `python x.py`
      if (s !== null && q !== 'code.interact') f.literalCode.push({ lang: 'python', text: s });
      else f.dynamicCode.push(q);
      return;
    }
    if (UNPICKLE.has(q)) {
      f.dynamicCode.push(q);
      return;
    }
    if (q === '__import__' || q === 'importlib.import_module' || q === 'importlib.__import__') {
      if (!pos[0] || this.str(pos[0]) === null) f.dynamicCode.push(`${q} of a computed name`);
      return;
    }
    if (q === 'getattr' && pos.length >= 2 && this.str(pos[1]!) === null) {
      const base = this.qual(pos[0]!);
      if (base !== null && POWERFUL_MODULES.has(base.split('.')[0]!)) f.dynamicCode.push(`getattr(${base}, <computed>)`);
      return;
    }
    if (q === 'ctypes.CDLL' || q === 'ctypes.cdll.LoadLibrary' || q === 'ctypes.PyDLL' || q.startsWith('cffi.') || q === 'ctypes.CFUNCTYPE' || q === 'ctypes.cdll' || q.startsWith('ctypes.') && /system|exec|popen|dlopen/.test(q)) {
      f.dynamicExec.push(`${q} (native code)`);
      return;
    }
    if (q.startsWith('ctypes.') && q.endsWith('()')) return;
    if (q === 'breakpoint' || q === 'pdb.set_trace' || q === 'input') return;
    const helpers = STDLIB_HELPERS.get(q);
    if (helpers) f.helperExecs.push(...helpers);
    // Files
    if (FILE_READ.has(q)) {
      const p = pos[0] ? this.pathArg(pos[0]) : null;
      if (p === null) {
        if (pos[0]) f.runtimeReads++;
        return;
      }
      const modeNode = pos[1] ?? kw('mode') ?? kw('flags');
      const mode = modeNode ? (this.str(modeNode) ?? this.text(modeNode)) : 'r';
      if (q === 'os.open' ? /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND/.test(mode) : /[wax+]/.test(mode)) f.writes.push(p);
      else f.reads.push(p);
      return;
    }
    if (TREE_LISTING.has(q)) {
      const p = pos[0] ? this.pathArg(pos[0]) : q === 'os.listdir' || q === 'os.scandir' ? '.' : null;
      if (p !== null) f.listed.push(p);
      return;
    }
    const del = FILE_DELETE.get(q);
    if (del !== undefined) {
      const p = pos[0] ? this.pathArg(pos[0]) : null;
      if (p !== null) f.deletes.push({ path: p, recursive: del });
      return;
    }
    if (FILE_COPY.has(q) || FILE_MOVE.has(q) || FILE_WRITE_DST.has(q)) {
      const src = pos[0] ? this.pathArg(pos[0]) : null;
      const dst = pos[1] ? this.pathArg(pos[1]) : null;
      if (src !== null && !FILE_WRITE_DST.has(q)) (FILE_MOVE.has(q) ? f.writes : f.reads).push(src);
      if (src !== null && FILE_MOVE.has(q)) f.reads.push(src);
      if (dst !== null) f.writes.push(dst);
      return;
    }
    if (FILE_WRITE.has(q)) {
      const p = pos[0] ? this.pathArg(pos[0]) : null;
      if (p !== null) f.writes.push(p);
      return;
    }
    // Network
    if (NET_PREFIXES.some((p) => q.startsWith(p))) {
      this.net(q, pos, kw);
      return;
    }
    if (q === 'os.environ.items' || q === 'os.environ.keys' || q === 'os.environ.values' || q === 'os.environ.__repr__' || q === 'os.environ.__str__') {
      f.envDumps.push(q);
      return;
    }
    if (q === 'os.environ.copy()' || q === 'os.environ.get') return;
  }

  /** `open('x').read()` / `Path('x').read_text()` of a literal path: the code of a file, not generated code. */
  readsFile(n: Node): boolean {
    if (n.type !== 'call') return false;
    const fn = field(n, 'function');
    if (fn?.type !== 'attribute') return false;
    const obj = field(fn, 'object');
    const attr = field(fn, 'attribute');
    if (!obj || !attr) return false;
    const m = this.text(attr);
    if (m === 'read_text' || m === 'read_bytes') return this.pathOf(obj) != null;
    if (m !== 'read' || obj.type !== 'call') return false;
    const ofn = field(obj, 'function');
    const oargs = field(obj, 'arguments');
    const first = oargs ? named(oargs)[0] : undefined;
    return ofn !== undefined && FILE_READ.has(this.qual(ofn) ?? '') && first !== undefined && this.pathArg(first) !== null;
  }

  /** A literal path argument (str, Path, os.path.join of literals); null when only known at run time. */
  pathArg(n: Node): string | null {
    const s = this.str(n);
    if (s !== null) return s;
    const p = this.pathOf(n);
    return p === undefined ? null : p;
  }

  /** Method calls on values that are not module names: Path objects, sockets, file handles. */
  methodCall(fn: Node, pos: Node[], kw: (n: string) => Node | undefined): void {
    if (fn.type !== 'attribute') return;
    const obj = field(fn, 'object');
    const attr = field(fn, 'attribute');
    if (!obj || !attr) return;
    const m = this.text(attr);
    const p = this.pathOf(obj);
    if (p !== undefined) {
      if (p === null) return;
      if (m === 'open') {
        const mode = pos[0] ? (this.str(pos[0]) ?? '?') : kw('mode') ? (this.str(kw('mode')!) ?? '?') : 'r';
        (/[wax+?]/.test(mode) ? this.f.writes : this.f.reads).push(p);
      } else if (PATH_READ.has(m)) {
        if (m === 'iterdir' || m === 'glob' || m === 'rglob' || m === 'walk') this.f.listed.push(p);
        else this.f.reads.push(p);
      }
      else if (PATH_WRITE.has(m)) this.f.writes.push(p);
      else if (m === 'unlink' || m === 'rmdir') this.f.deletes.push({ path: p, recursive: false });
      else if (m === 'rename' || m === 'replace') {
        this.f.writes.push(p);
        const dst = pos[0] ? this.pathArg(pos[0]) : null;
        if (dst !== null) this.f.writes.push(dst);
      }
      return;
    }
    // Decoding methods on any value: b'..'.decode('rot13'), codecs via str methods, bytes.fromhex
    if ((m === 'decode' || m === 'encode') && pos[0] && /rot.?13|hex|base64|zip|bz2|uu/i.test(this.str(pos[0]) ?? '')) this.f.decoders.push(`.${m}(${this.str(pos[0])})`);
    if (m === 'fromhex' || m === 'translate') this.f.decoders.push(`.${m}`);
  }

  net(q: string, pos: Node[], kw: (n: string) => Node | undefined): void {
    const f = this.f;
    f.netApis.push(q);
    // Only calls that open a connection name its peer; methods of an open connection (send, recv) do not.
    const method = q.slice(q.lastIndexOf('.') + 1);
    const onObject = q.slice(0, q.lastIndexOf('.')).includes('()');
    if (!(onObject ? NET_CONNECT_ON_OBJECT : NET_CONNECT).has(method)) return;
    let found = false;
    for (const c of [...pos.slice(0, 2), kw('url'), kw('host'), kw('address'), kw('uri')]) {
      if (!c) continue;
      if (c.type === 'tuple' || c.type === 'list') {
        const first = named(c)[0];
        const h = first ? this.str(first) : null;
        if (h !== null) {
          found = true;
          if (h !== '' && h !== '0.0.0.0') f.hosts.push(bareHost(h) ?? h);
        }
        continue;
      }
      const s = this.str(c);
      if (s === null) continue;
      const h = urlHost(s) ?? bareHost(s);
      if (h !== null) {
        found = true;
        f.hosts.push(h);
      }
    }
    if (!found) f.netUnknown = true;
  }
}

/** Net API names that open a connection to the host in their arguments. */
const NET_CONNECT = new Set([
  'urlopen', 'urlretrieve', 'get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'request', 'stream', 'connect', 'create_connection',
  'HTTPConnection', 'HTTPSConnection', 'FTP', 'FTP_TLS', 'SMTP', 'SMTP_SSL', 'LMTP', 'Telnet', 'POP3', 'POP3_SSL', 'IMAP4', 'IMAP4_SSL', 'NNTP',
  'ServerProxy', 'open_connection', 'create_connection', 'WebSocketApp', 'getaddrinfo', 'gethostbyname', 'urlopen', 'fetch', 'open', 'resolve',
]);
/** On an object made by a net API (a socket, a session, an opener). */
const NET_CONNECT_ON_OBJECT = new Set(['connect', 'connect_ex', 'sendto', 'request', 'get', 'post', 'put', 'patch', 'delete', 'head', 'urlopen', 'open', 'stream']);

function sameVal(a: Val, b: Val): boolean {
  if (a.k !== b.k) return false;
  if (a.k === 'q' && b.k === 'q') return a.q === b.q;
  if (a.k === 's' && b.k === 's') return a.s === b.s;
  if (a.k === 'path' && b.k === 'path') return a.p === b.p;
  return false;
}

/** `builtins.exec` → `exec`, `posix.system` → `os.system`, `os.path.os.system` → `os.system`. */
function normalise(q: string): string {
  if (q.startsWith('builtins.')) return q.slice(9);
  if (q.startsWith('__builtins__.')) return q.slice(13);
  if (q.startsWith('posix.')) return `os.${q.slice(6)}`;
  if (q.startsWith('os.path.os.')) return q.slice(8);
  return q;
}

function isInteresting(q: string): boolean {
  return SHELL_APIS.has(q) || PROC_APIS.has(q) || EXEC_APIS.has(q) || FILE_DELETE.has(q) || FILE_COPY.has(q) || FILE_MOVE.has(q) || DECODERS.has(q) || NET_PREFIXES.some((p) => q.startsWith(p)) || q === 'os.environ';
}

function joinPath(a: string, b: string): string {
  if (b.startsWith('/')) return b;
  if (a === '' || a === '.') return b;
  return a.endsWith('/') ? a + b : `${a}/${b}`;
}

/** Python string escapes (non-raw literals). */
function decodeEscapes(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const d = s[++i]!;
    switch (d) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
        let j = i;
        while (j < s.length && j < i + 3 && s[j]! >= '0' && s[j]! <= '7') j++;
        out += String.fromCharCode(parseInt(s.slice(i, j), 8));
        i = j - 1;
        break;
      }
      case 'x': out += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16) || 0); i += 2; break;
      case 'u': out += String.fromCharCode(parseInt(s.slice(i + 1, i + 5), 16) || 0); i += 4; break;
      case '\n': break;
      case '\\': case '\'': case '"': out += d; break;
      default: out += '\\' + d;
    }
  }
  return out;
}
