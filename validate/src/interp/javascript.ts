import { bareHost, urlHost, type Facts } from './facts.ts';
import { field, named, type CodeTree, type Node } from './tree.ts';

/**
 * JavaScript (node, bun, deno) analysis over the tree-sitter-javascript
 * syntax tree. Module values come from `require('x')`, `import … from 'x'`,
 * `await import('x')`, destructuring (`const { execSync: e } = require(…)`)
 * and aliases; member access by name, `['name']`, optional chaining and
 * `globalThis.` prefixes all resolve to the same qualified name.
 */

type Val = { readonly k: 'q'; readonly q: string } | { readonly k: 's'; readonly s: string } | { readonly k: 'unknown' };
const UNKNOWN_VAL: Val = { k: 'unknown' };

const GLOBALS = new Set([
  'JSON', 'require', 'eval', 'Function', 'fetch', 'WebSocket', 'XMLHttpRequest', 'EventSource', 'process', 'Bun', 'Deno', 'atob', 'Buffer', 'String',
  'setTimeout', 'setInterval', 'setImmediate', 'module', 'unescape', 'decodeURIComponent', 'Reflect', 'navigator',
]);
const GLOBAL_OBJECTS = new Set(['globalThis', 'global', 'window', 'self']);

const SHELL_APIS = new Set(['child_process.exec', 'child_process.execSync']);
const ARGV_APIS = new Set(['child_process.execFile', 'child_process.execFileSync', 'child_process.spawn', 'child_process.spawnSync']);
const CODE_APIS = new Set([
  'eval', 'Function', 'vm.runInThisContext', 'vm.runInNewContext', 'vm.runInContext', 'vm.Script', 'vm.compileFunction', 'vm.SourceTextModule',
  'vm.SyntheticModule', 'Reflect.construct', 'module._compile', 'module.constructor._load',
]);
const TIMERS = new Set(['setTimeout', 'setInterval', 'setImmediate']);
const DECODERS = new Set([
  'atob', 'String.fromCharCode', 'String.fromCodePoint', 'unescape', 'zlib.inflateSync', 'zlib.gunzipSync', 'zlib.brotliDecompressSync', 'zlib.inflateRawSync',
  'zlib.unzipSync', 'zlib.inflate', 'zlib.gunzip', 'Buffer.from().toString', 'Buffer.from',
]);
const NET_MODULES = ['http.', 'https.', 'http2.', 'net.', 'tls.', 'dgram.', 'axios', 'node-fetch', 'undici', 'got', 'request', 'superagent', 'ws', 'socket.io-client', 'dns.'];
const NET_GLOBALS = new Set(['fetch', 'WebSocket', 'XMLHttpRequest', 'EventSource', 'navigator.sendBeacon', 'Bun.connect', 'Bun.udpSocket', 'Deno.connect', 'Deno.connectTls', 'Deno.resolveDns']);
const NET_LOCAL = /\.(createServer|Server|Agent|STATUS_CODES|METHODS|isIP|isIPv4|isIPv6|listen|close|setTimeout)$/;
/** Directory listings: which files the code then opens is decided at run time from what they return. */
const FS_LIST = new Set(['readdirSync', 'readdir', 'opendir', 'opendirSync', 'glob', 'globSync']);
/** File reads whose path may be one a listing returned. */
const FS_RUNTIME_READ = new Set(['readFileSync', 'readFile', 'createReadStream', 'openSync', 'open', 'copyFileSync', 'copyFile', 'cpSync', 'cp']);
const FS_READ = new Set(['readFileSync', 'readFile', 'createReadStream', 'readdirSync', 'readdir', 'readlinkSync', 'readlink', 'statSync', 'stat', 'lstat', 'lstatSync', 'existsSync', 'accessSync', 'access', 'opendir', 'opendirSync', 'watch', 'watchFile']);
const FS_WRITE = new Set(['writeFileSync', 'writeFile', 'appendFileSync', 'appendFile', 'createWriteStream', 'mkdirSync', 'mkdir', 'chmodSync', 'chmod', 'chownSync', 'chown', 'truncateSync', 'truncate', 'utimesSync', 'utimes', 'mkdtemp', 'mkdtempSync', 'lchown', 'lchownSync']);
const FS_COPY = new Set(['copyFileSync', 'copyFile', 'cp', 'cpSync']);
const FS_MOVE = new Set(['renameSync', 'rename']);
const FS_LINK = new Set(['symlinkSync', 'symlink', 'linkSync', 'link']);
const FS_DELETE = new Set(['unlinkSync', 'unlink', 'rmSync', 'rm', 'rmdirSync', 'rmdir']);

/** Every name the analysis keys on: JavaScript naming none of them (outside member position) reaches no modelled API. */
export const JS_ROOTS: ReadonlySet<string> = new Set(
  [
    ...GLOBALS, ...GLOBAL_OBJECTS, ...SHELL_APIS, ...ARGV_APIS, ...CODE_APIS, ...TIMERS, ...DECODERS, ...NET_GLOBALS, 'import',
  ]
    .map((q) => q.split('.')[0]!)
    // Helpers that only matter next to another root (String.fromCharCode before eval, JSON.stringify of a literal).
    .filter((r) => !['String', 'JSON', 'Buffer', 'unescape', 'decodeURIComponent'].includes(r)),
);

/** Analyses JavaScript source; every fact goes into `f`. */
export function analyzeJavaScript(t: CodeTree, f: Facts): void {
  const a = new JsAnalysis(t.src, f);
  a.bindAll(t.root);
  a.visit(t.root);
  // A dangerous module named in the code whose use the analysis never resolved (reached through
  // an object it does not follow: Function('return process')().mainModule.require(…)) is opaque.
  if (a.resolvedDangerous === 0 && a.dangerousNames > 0) f.dynamicExec.push('a process or code module loaded where the analysis cannot follow it');
}

function moduleName(s: string): string {
  let m = s.startsWith('node:') ? s.slice(5) : s;
  if (m === 'fs/promises') m = 'fs';
  if (m === 'timers/promises') m = 'timers';
  return m;
}

function normalise(q: string): string {
  if (q.startsWith('fs.promises.')) return `fs.${q.slice(12)}`;
  if (q.startsWith('process.mainModule.require')) return `require${q.slice(26)}`;
  if (q.startsWith('module.require')) return `require${q.slice(14)}`;
  return q;
}

class JsAnalysis {
  readonly bind = new Map<string, Val>();
  /** Calls resolved into child_process/vm/worker_threads/process.binding, and literal mentions of those names. */
  resolvedDangerous = 0;
  dangerousNames = 0;
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
    else if (!(old.k === v.k && (old.k === 'q' ? old.q === (v as { q: string }).q : old.k === 's' ? old.s === (v as { s: string }).s : false))) this.bind.set(name, UNKNOWN_VAL);
  }

  bindAll(n: Node): void {
    switch (n.type) {
      case 'import_statement': {
        const srcNode = field(n, 'source');
        const m = srcNode ? this.str(srcNode) : null;
        const clause = n.children.find((c) => c.type === 'import_clause');
        if (m !== null && clause) this.bindImport(clause, moduleName(m));
        return;
      }
      case 'variable_declarator': {
        const name = field(n, 'name');
        const value = field(n, 'value');
        if (name && value) this.bindPattern(name, value);
        break;
      }
      case 'assignment_expression': {
        const left = field(n, 'left');
        const right = field(n, 'right');
        if (left && right) this.bindPattern(left, right);
        break;
      }
      case 'call_expression': {
        // import('x').then((m) => …) / require('x').then(…): the callback's first parameter is the module.
        const fn = field(n, 'function');
        const args = field(n, 'arguments');
        if (fn?.type === 'member_expression' && args && this.propName(fn) === 'then') {
          const obj = field(fn, 'object');
          const base = obj ? this.qual(obj) : null;
          const cb = named(args)[0];
          const params = cb && (cb.type === 'arrow_function' || cb.type === 'function_expression') ? (field(cb, 'parameters') ?? field(cb, 'parameter')) : undefined;
          const first = params ? (params.type === 'identifier' ? params : named(params)[0]) : undefined;
          if (base !== null && first) this.bindPattern(first, obj!);
        }
        break;
      }
      case 'function_declaration':
      case 'class_declaration': {
        const nm = field(n, 'name');
        if (nm) this.set(this.text(nm), UNKNOWN_VAL);
        break;
      }
      case 'for_in_statement': {
        const left = field(n, 'left');
        if (left?.type === 'identifier') this.set(this.text(left), UNKNOWN_VAL);
        break;
      }
    }
    for (const c of n.children) this.bindAll(c);
  }

  bindImport(clause: Node, m: string): void {
    for (const c of clause.children) {
      if (c.type === 'identifier') this.set(this.text(c), { k: 'q', q: m });
      else if (c.type === 'namespace_import') {
        const id = named(c)[0];
        if (id) this.set(this.text(id), { k: 'q', q: m });
      } else if (c.type === 'named_imports') {
        for (const s of named(c)) {
          if (s.type !== 'import_specifier') continue;
          const nm = field(s, 'name');
          const al = field(s, 'alias') ?? nm;
          if (nm && al) this.set(this.text(al), { k: 'q', q: `${m}.${this.str(nm) ?? this.text(nm)}` });
        }
      }
    }
  }

  bindPattern(target: Node, value: Node): void {
    if (target.type === 'identifier') {
      this.set(this.text(target), this.valueOf(value));
      return;
    }
    if (target.type === 'object_pattern') {
      const base = this.qual(value);
      for (const p of named(target)) {
        if (p.type === 'shorthand_property_identifier_pattern') {
          this.set(this.text(p), base !== null ? { k: 'q', q: normalise(`${base}.${this.text(p)}`) } : UNKNOWN_VAL);
        } else if (p.type === 'pair_pattern') {
          const key = field(p, 'key');
          const val = field(p, 'value');
          const keyName = key ? (this.str(key) ?? (key.type === 'property_identifier' ? this.text(key) : null)) : null;
          const id = val?.type === 'assignment_pattern' ? field(val, 'left') : val;
          if (id?.type === 'identifier') this.set(this.text(id), base !== null && keyName !== null ? { k: 'q', q: normalise(`${base}.${keyName}`) } : UNKNOWN_VAL);
        } else if (p.type === 'object_assignment_pattern') {
          const left = field(p, 'left');
          if (left) this.set(this.text(left), base !== null ? { k: 'q', q: normalise(`${base}.${this.text(left)}`) } : UNKNOWN_VAL);
        }
      }
      return;
    }
    if (target.type === 'array_pattern') for (const c of named(target)) if (c.type === 'identifier') this.set(this.text(c), UNKNOWN_VAL);
  }

  valueOf(n: Node): Val {
    const s = this.str(n);
    if (s !== null) return { k: 's', s };
    const q = this.qual(n);
    return q !== null ? { k: 'q', q } : UNKNOWN_VAL;
  }

  str(n: Node, depth = 0): string | null {
    if (depth > 20) return null;
    switch (n.type) {
      case 'string': {
        let out = '';
        for (const c of n.children) {
          if (c.type === 'string_fragment') out += this.text(c);
          else if (c.type === 'escape_sequence') out += decodeEscape(this.text(c));
        }
        return out;
      }
      case 'template_string': {
        let out = '';
        for (const c of n.children) {
          if (c.type === 'template_substitution') {
            const expr = named(c)[0];
            const v = expr ? this.str(expr, depth + 1) : null;
            if (v === null) return null;
            out += v;
            continue;
          }
          if (c.type === 'string_fragment') out += this.text(c);
          else if (c.type === 'escape_sequence') out += decodeEscape(this.text(c));
        }
        return out;
      }
      case 'binary_expression': {
        const op = field(n, 'operator');
        const l = field(n, 'left');
        const r = field(n, 'right');
        if (!op || this.text(op) !== '+' || !l || !r) return null;
        const ls = this.str(l, depth + 1);
        const rs = ls === null ? null : this.str(r, depth + 1);
        return ls !== null && rs !== null ? ls + rs : null;
      }
      case 'parenthesized_expression': {
        const inner = named(n)[0];
        return inner ? this.str(inner, depth + 1) : null;
      }
      case 'identifier': {
        const v = this.bind.get(this.text(n));
        return v?.k === 's' ? v.s : null;
      }
      case 'member_expression':
      case 'subscript_expression':
        // process.env.HOME is the home directory, written `~` like the shell chain does.
        return this.qual(n) === 'process.env.HOME' ? '~' : null;
      case 'call_expression': {
        const callee = field(n, 'function');
        const cq = callee ? this.qual(callee) : null;
        if (cq === 'os.homedir') return '~';
        if (cq === 'JSON.stringify' || cq === 'String') {
          const a0 = field(n, 'arguments') ? named(field(n, 'arguments')!)[0] : undefined;
          const v = a0 ? this.str(a0, depth + 1) : null;
          if (v !== null) return cq === 'String' ? v : JSON.stringify(v);
        }
        const cargs = field(n, 'arguments');
        if (callee && cargs && /^(path\.(join|resolve|posix\.join))$/.test(this.qual(callee) ?? '')) {
          const parts = named(cargs).map((c) => this.str(c, depth + 1));
          if (parts.length > 0 && !parts.includes(null)) return (parts as string[]).reduce((a, b) => (b.startsWith('/') ? b : a === '' ? b : `${a.replace(/\/$/, '')}/${b}`), '');
        }
        // [..literals].join(sep)
        const fn = field(n, 'function');
        const args = field(n, 'arguments');
        if (fn?.type === 'member_expression' && args) {
          const obj = field(fn, 'object');
          const prop = field(fn, 'property');
          if (obj?.type === 'array' && prop && this.text(prop) === 'join') {
            const parts = this.strList(obj);
            const a0 = named(args)[0];
            const sep = a0 ? this.str(a0) : ',';
            if (parts && !parts.includes(null) && sep !== null) return parts.join(sep);
          }
        }
        return null;
      }
      default:
        return null;
    }
  }

  strList(n: Node): (string | null)[] | null {
    const out: (string | null)[] = [];
    for (const c of named(n)) {
      if (c.type === 'spread_element') return null;
      out.push(this.str(c));
    }
    return out;
  }

  /** Property name of a member/subscript access, or null when computed at run time. */
  propName(n: Node): string | null {
    if (n.type === 'member_expression') {
      const p = field(n, 'property');
      return p ? this.text(p) : null;
    }
    if (n.type === 'subscript_expression') {
      const i = field(n, 'index');
      return i ? this.str(i) : null;
    }
    return null;
  }

  qual(n: Node, depth = 0): string | null {
    if (depth > 20) return null;
    switch (n.type) {
      case 'identifier': {
        const name = this.text(n);
        const v = this.bind.get(name);
        if (v) return v.k === 'q' ? v.q : null;
        if (GLOBALS.has(name)) return name;
        if (GLOBAL_OBJECTS.has(name)) return '';
        return null;
      }
      case 'member_expression':
      case 'subscript_expression': {
        const obj = field(n, 'object');
        const prop = this.propName(n);
        if (!obj || prop === null) return null;
        // x.constructor.constructor is Function whatever x is.
        if (prop === 'constructor' && (obj.type === 'member_expression' || obj.type === 'subscript_expression') && this.propName(obj) === 'constructor') return 'Function';
        const base = this.qual(obj, depth + 1);
        if (base === null) return null;
        return normalise(base === '' ? prop : `${base}.${prop}`);
      }
      case 'parenthesized_expression': {
        const inner = named(n).at(-1);
        return inner ? this.qual(inner, depth + 1) : null;
      }
      case 'await_expression': {
        const inner = named(n)[0];
        return inner ? this.qual(inner, depth + 1) : null;
      }
      case 'call_expression': {
        const fn = field(n, 'function');
        const args = field(n, 'arguments');
        if (!fn || !args) return null;
        const a0 = named(args)[0];
        if (fn.type === 'import' || this.qual(fn, depth + 1) === 'require') {
          const m = a0 ? this.str(a0) : null;
          return m !== null ? moduleName(m) : null;
        }
        const q = this.qual(fn, depth + 1);
        if (q === 'module.createRequire()' || q === 'module.createRequire') return q === 'module.createRequire' ? 'require' : null;
        return q !== null ? `${q}()` : null;
      }
      case 'new_expression': {
        const ctor = field(n, 'constructor');
        const q = ctor ? this.qual(ctor, depth + 1) : null;
        return q !== null ? `${q}()` : null;
      }
      default:
        return null;
    }
  }

  visit(n: Node): void {
    if (n.type === 'call_expression' || n.type === 'new_expression') this.call(n);
    if (n.type === 'array' || n.type === 'return_statement' || n.type === 'spread_element' || n.type === 'pair' || n.type === 'sequence_expression') {
      for (const c of named(n)) {
        if (n.type === 'pair' && c.field !== 'value') continue;
        this.escapes(c);
      }
    }
    if (n.type === 'for_in_statement') {
      const right = field(n, 'right');
      if (right && this.qual(right) === 'process.env') this.f.envDumps.push('for … in process.env');
    }
    for (const c of n.children) this.visit(c);
  }

  call(n: Node): void {
    this.countDangerous(n);
    const fn = field(n, n.type === 'new_expression' ? 'constructor' : 'function');
    const argsNode = field(n, 'arguments');
    if (!fn) return;
    const f = this.f;
    const args = argsNode && argsNode.type === 'arguments' ? named(argsNode) : [];
    const spread = args.some((c) => c.type === 'spread_element');
    if (fn.type === 'import') {
      if (!args[0] || this.str(args[0]) === null) f.dynamicCode.push('import() of a computed name');
      return;
    }
    let q = this.qual(fn);
    // fn.call(this, …) / fn.apply(this, [...]) / Reflect.apply(fn, this, [...]): the callee is fn.
    let callArgs = args;
    if (q !== null && /\.(call|apply|bind)$/.test(q) && fn.type === 'member_expression') {
      const obj = field(fn, 'object');
      const inner = obj ? this.qual(obj) : null;
      if (inner !== null && isDangerous(inner)) {
        f.dynamicExec.push(`${inner} called indirectly`);
        return;
      }
    }
    if (q === 'Reflect.apply' && args[0]) {
      const inner = this.qual(args[0]);
      if (inner !== null && isDangerous(inner)) f.dynamicExec.push(`${inner} via Reflect.apply`);
      return;
    }
    // Arguments that are dangerous functions or modules passed as values (cmds.forEach(execSync), run(require('child_process'))).
    if (q !== 'util.promisify' && q !== 'Reflect.apply' && !(q !== null && /\.(call|apply|bind)$/.test(q))) for (const a of args) this.escapes(a);
    for (const a of args) {
      if (a.type !== 'identifier' && a.type !== 'member_expression' && a.type !== 'subscript_expression') continue;
      if (this.qual(a) === 'process.env' && !(q === 'Object.assign' || q === 'structuredClone')) f.envDumps.push(`${q ?? 'a call'}(process.env)`);
    }
    if (q === null) return;
    if (q === 'util.promisify' && args[0]) {
      const inner = this.qual(args[0]);
      if (inner !== null && isDangerous(inner)) q = inner;
      else return;
      callArgs = [];
    }
    if (q === 'require') {
      const name = args[0] ? this.str(args[0]) : null;
      if (name === null) f.dynamicCode.push('require() of a computed name');
      // A `.node` file is a native addon: loading it runs machine code, the same as process.dlopen.
      else if (/\.node$/i.test(name) && name.includes('/')) f.dynamicCode.push(`require() of a native addon (${name.slice(0, 60)})`);
      return;
    }
    if (/^Object\.(keys|entries|values|getOwnPropertyNames)$/.test(q) && args[0] && this.qual(args[0]) === 'process.env') return void f.envDumps.push(q);
    if (DECODERS.has(q)) {
      if (q !== 'Buffer.from' || args.some((a) => /^(base64|hex|base64url|latin1|binary)$/.test(this.str(a) ?? ''))) f.decoders.push(q);
    }
    if (q.endsWith('.toString') && args[0] && /^(base64|hex)$/.test(this.str(args[0]) ?? '') === false && /Buffer\.from\(\)/.test(q)) f.decoders.push('Buffer.from(…).toString');
    if (SHELL_APIS.has(q)) {
      const s = callArgs[0] ? this.str(callArgs[0]) : null;
      if (s !== null && !spread) f.shells.push({ text: s, api: q });
      else f.dynamicExec.push(q);
      return;
    }
    if (ARGV_APIS.has(q) || q === 'child_process.fork') {
      this.spawnCall(q, callArgs, spread);
      return;
    }
    if (q.startsWith('child_process.') || q === 'process.binding' || q === 'process._linkedBinding' || q === 'process.dlopen' || q === 'process.execve') {
      if (!/\.(ChildProcess)$/.test(q)) f.dynamicExec.push(q);
      return;
    }
    if (q === 'Bun.spawn' || q === 'Bun.spawnSync') {
      const a0 = callArgs[0];
      const list = a0?.type === 'array' ? a0 : a0?.type === 'object' ? this.objectProp(a0, 'cmd') : undefined;
      const argv = list?.type === 'array' ? this.strList(list) : null;
      if (argv && argv.length > 0 && !argv.includes(null)) f.argvs.push({ argv: argv as string[], api: q });
      else f.dynamicExec.push(q);
      return;
    }
    if (q === 'Bun.$') {
      f.dynamicExec.push(q);
      return;
    }
    if (q === 'Deno.Command' || q === 'Deno.run') {
      const prog = q === 'Deno.Command' && callArgs[0] ? this.str(callArgs[0]) : null;
      const opts = q === 'Deno.Command' ? callArgs[1] : callArgs[0];
      const list = opts?.type === 'object' ? this.objectProp(opts, q === 'Deno.Command' ? 'args' : 'cmd') : undefined;
      const rest = list?.type === 'array' ? this.strList(list) : list === undefined ? [] : null;
      const argv = q === 'Deno.Command' ? (prog !== null && rest !== null ? [prog, ...rest] : null) : rest;
      if (argv && argv.length > 0 && !argv.includes(null)) f.argvs.push({ argv: argv as string[], api: q });
      else f.dynamicExec.push(q);
      return;
    }
    if (CODE_APIS.has(q) || (TIMERS.has(q) && args[0] && (args[0].type === 'string' || args[0].type === 'template_string' || args[0].type === 'identifier' || args[0].type === 'binary_expression'))) {
      if (TIMERS.has(q) && args[0] && (args[0].type === 'identifier' && this.str(args[0]) === null)) return;
      const body = q === 'Function' ? args.at(-1) : args[0];
      const s = body ? this.str(body) : q === 'Function' ? '' : null;
      if (s !== null && !spread) f.literalCode.push({ lang: 'javascript', text: s });
      else f.dynamicCode.push(q);
      return;
    }
    if (q === 'worker_threads.Worker()' || q === 'worker_threads.Worker') {
      f.dynamicCode.push('worker_threads.Worker');
      return;
    }
    // Files
    const fsm = /^(fs|Deno|Bun)\.(\w+)$/.exec(q);
    if (fsm) {
      this.fsCall(fsm[1]!, fsm[2]!, args);
      return;
    }
    // Network
    if (NET_GLOBALS.has(q) || q === 'XMLHttpRequest().open' || NET_MODULES.some((m) => q.startsWith(m) || q === m.replace(/\.$/, ''))) {
      this.net(q, args);
      return;
    }
  }

  countDangerous(n: Node): void {
    const fn = field(n, n.type === 'new_expression' ? 'constructor' : 'function');
    const q = fn ? this.qual(fn) : null;
    if (q !== null && (q.startsWith('child_process.') || q.startsWith('vm.') || q.startsWith('worker_threads.') || q === 'process.binding' || q === 'process._linkedBinding' || q === 'process.dlopen')) this.resolvedDangerous++;
    const args = field(n, 'arguments');
    if (args) for (const a of named(args)) if (DANGEROUS_NAME.test(this.str(a) ?? '')) this.dangerousNames++;
    if (fn && (fn.type === 'member_expression' || fn.type === 'subscript_expression') && /^(mainModule|binding|_linkedBinding|dlopen)$/.test(this.propName(fn) ?? '') && q === null) this.dangerousNames++;
  }

  /** A dangerous function or module flowing somewhere the analysis does not follow is a command it cannot see. */
  escapes(n: Node): void {
    if (n.type !== 'identifier' && n.type !== 'member_expression' && n.type !== 'subscript_expression' && n.type !== 'call_expression' && n.type !== 'await_expression') return;
    const q = this.qual(n);
    if (q !== null && (isDangerous(q) || DANGEROUS_MODULES.has(q))) this.f.dynamicExec.push(`${q} passed as a value`);
  }

  objectProp(obj: Node, name: string): Node | undefined {
    for (const p of named(obj)) {
      if (p.type !== 'pair') continue;
      const k = field(p, 'key');
      if (k && (this.str(k) ?? this.text(k)) === name) return field(p, 'value');
    }
    return undefined;
  }

  spawnCall(q: string, args: Node[], spread: boolean): void {
    const f = this.f;
    const prog = args[0] ? this.str(args[0]) : null;
    const second = args[1];
    const list = second?.type === 'array' ? this.strList(second) : second === undefined || second.type === 'object' ? [] : null;
    const opts = second?.type === 'object' ? second : args[2]?.type === 'object' ? args[2] : undefined;
    const shellOpt = opts ? this.objectProp(opts, 'shell') : undefined;
    const shell = shellOpt !== undefined && this.text(shellOpt) !== 'false';
    if (prog === null || list === null || list.includes(null) || spread || (opts && !shell && args.length > 3)) {
      f.dynamicExec.push(q);
      return;
    }
    if (q === 'child_process.fork') f.argvs.push({ argv: ['node', prog, ...(list as string[])], api: q });
    else if (shell) f.shells.push({ text: [prog, ...(list as string[])].join(' '), api: q });
    else f.argvs.push({ argv: [prog, ...(list as string[])], api: q });
  }

  fsCall(mod: string, m: string, args: Node[]): void {
    const f = this.f;
    const p0 = args[0] ? this.str(args[0]) : null;
    const p1 = args[1] ? this.str(args[1]) : null;
    if (mod === 'Bun') {
      if (m === 'file' && p0 !== null) f.reads.push(p0);
      else if (m === 'write' && p0 !== null) f.writes.push(p0);
      return;
    }
    if (mod === 'Deno') {
      if (/^(readTextFile|readFile|readTextFileSync|readFileSync|open|openSync|readDir|readDirSync|lstat|stat)$/.test(m) && p0 !== null) f.reads.push(p0);
      else if (/^(writeTextFile|writeFile|writeTextFileSync|writeFileSync|mkdir|mkdirSync|chmod|chmodSync|create|createSync|truncate)$/.test(m) && p0 !== null) f.writes.push(p0);
      else if (/^(remove|removeSync)$/.test(m) && p0 !== null) f.deletes.push({ path: p0, recursive: this.recursiveOpt(args[1]) });
      else if (/^(rename|renameSync|copyFile|copyFileSync|symlink|link)$/.test(m)) {
        if (p0 !== null && /^rename/.test(m)) f.writes.push(p0);
        if (p0 !== null && /^copy/.test(m)) f.reads.push(p0);
        if (p1 !== null) f.writes.push(p1);
      }
      return;
    }
    if (p0 === null && args[0] && FS_RUNTIME_READ.has(m)) f.runtimeReads++;
    if (p0 !== null && FS_LIST.has(m)) f.listed.push(p0);
    if (m === 'openSync' || m === 'open') {
      if (p0 === null) return;
      const flags = args[1] ? (this.str(args[1]) ?? '?') : 'r';
      (/[wa+?]/.test(flags) ? f.writes : f.reads).push(p0);
    } else if (FS_READ.has(m)) {
      if (p0 !== null) f.reads.push(p0);
    } else if (FS_WRITE.has(m)) {
      if (p0 !== null) f.writes.push(p0);
    } else if (FS_COPY.has(m)) {
      if (p0 !== null) f.reads.push(p0);
      if (p1 !== null) f.writes.push(p1);
    } else if (FS_MOVE.has(m)) {
      if (p0 !== null) f.writes.push(p0);
      if (p1 !== null) f.writes.push(p1);
    } else if (FS_LINK.has(m)) {
      if (p1 !== null) f.writes.push(p1);
    } else if (FS_DELETE.has(m)) {
      if (p0 !== null) f.deletes.push({ path: p0, recursive: m.startsWith('rmdir') || this.recursiveOpt(args[1]) });
    }
  }

  recursiveOpt(n: Node | undefined): boolean {
    if (!n || n.type !== 'object') return false;
    const r = this.objectProp(n, 'recursive');
    return r !== undefined && this.text(r) !== 'false';
  }

  net(q: string, args: Node[]): void {
    const f = this.f;
    f.netApis.push(q);
    if (NET_LOCAL.test(q)) return;
    let found = false;
    for (const a of args.slice(0, 2)) {
      const s = this.str(a);
      if (s !== null) {
        const h = urlHost(s) ?? bareHost(s);
        if (h !== null) {
          found = true;
          f.hosts.push(h);
        }
        continue;
      }
      if (a.type === 'object') {
        for (const key of ['host', 'hostname', 'url']) {
          const v = this.objectProp(a, key);
          const s2 = v ? this.str(v) : null;
          if (s2 !== null) {
            const h = urlHost(s2) ?? bareHost(s2);
            if (h !== null) {
              found = true;
              f.hosts.push(h);
            }
          }
        }
      }
    }
    // net.connect(port) / net.connect({port}) default to localhost.
    if (!found && /^(net|tls)\.(connect|createConnection)$/.test(q) && args.length > 0 && (args[0]!.type === 'number' || args[0]!.type === 'object' && !this.objectProp(args[0]!, 'host')) && args.length === 1) return;
    if (!found) f.netUnknown = true;
  }
}

const DANGEROUS_NAME = /^(node:)?(child_process|vm|worker_threads)$/;

/** Modules whose object, once out of sight, can run anything. */
const DANGEROUS_MODULES = new Set(['child_process', 'vm', 'worker_threads', 'cluster', 'module', 'process.binding', 'inspector']);

function isDangerous(q: string): boolean {
  return SHELL_APIS.has(q) || ARGV_APIS.has(q) || CODE_APIS.has(q) || q.startsWith('child_process.') || q === 'require' || q === 'Bun.spawn' || q === 'Bun.spawnSync';
}

function decodeEscape(e: string): string {
  const c = e[1] ?? '';
  switch (c) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'x': return String.fromCharCode(parseInt(e.slice(2, 4), 16) || 0);
    case 'u': {
      const hex = e[2] === '{' ? e.slice(3, -1) : e.slice(2, 6);
      const cp = parseInt(hex, 16);
      return Number.isFinite(cp) && cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
    }
    case '\n': return '';
    case '0': return '\0';
    default: return c;
  }
}
