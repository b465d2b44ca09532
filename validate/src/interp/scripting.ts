import { bareHost, urlHost, type Facts } from './facts.ts';

/**
 * Perl, Ruby, PHP, Lua and awk: a tokenizer per language (strings with and
 * without interpolation, comments, heredocs, quote-like operators) and
 * table-driven detection of execution, file, network, environment and
 * dynamic-code APIs over the token stream. Not a full parser: it finds the
 * calls and judges their first arguments; anything it cannot read is dynamic.
 */

export const SCRIPT_LANGS = ['perl', 'ruby', 'php', 'lua', 'awk'] as const;
export type ScriptLang = (typeof SCRIPT_LANGS)[number];

interface Tok {
  readonly t: 'word' | 'str' | 'cmd' | 'p' | 'nl';
  /** Word text, punctuation, or string value (escapes of non-interpolating strings decoded). */
  readonly v: string;
  /** String with interpolation (value only known at run time). */
  readonly interp: boolean;
}

type ExecKind = 'shell' | 'list' | 'code' | 'popen' | 'pipeopen';

interface LangTable {
  readonly exec: ReadonlyMap<string, ExecKind>;
  readonly net: readonly string[];
  readonly decoders: ReadonlySet<string>;
  readonly read: ReadonlySet<string>;
  readonly write: ReadonlySet<string>;
  readonly del: ReadonlyMap<string, boolean>;
  /** Whole-environment reads (matched on a word). */
  readonly env: ReadonlySet<string>;
}

const m = <V>(entries: [string, V][]): ReadonlyMap<string, V> => new Map(entries);

const TABLES: Record<ScriptLang, LangTable> = {
  perl: {
    exec: m<ExecKind>([['system', 'list'], ['exec', 'list'], ['readpipe', 'shell'], ['open', 'pipeopen'], ['open2', 'list'], ['open3', 'list'], ['IPC::Open2::open2', 'list'], ['IPC::Open3::open3', 'list'], ['eval', 'code'], ['evalbytes', 'code'], ['do', 'code'], ['require', 'code']]),
    net: ['IO::Socket', 'Socket', 'socket', 'connect', 'LWP', 'HTTP::Tiny', 'Net::', 'getstore', 'getprint', 'get', 'head', 'Mojo::UserAgent', 'WWW::Mechanize', 'URI::Fetch'],
    decoders: new Set(['decode_base64', 'MIME::Base64::decode_base64', 'pack', 'unpack', 'chr', 'decode_hex', 'uncompress', 'Compress::Zlib::uncompress', 'reverse', 'tr', 'y']),
    read: new Set(['slurp', 'read_file', 'File::Slurp::read_file']),
    write: new Set(['write_file', 'File::Slurp::write_file', 'chmod', 'chown', 'mkdir', 'symlink', 'link', 'rename', 'truncate']),
    del: m([['unlink', false], ['rmdir', false], ['rmtree', true], ['remove_tree', true], ['File::Path::rmtree', true], ['File::Path::remove_tree', true]]),
    env: new Set(['%ENV']),
  },
  ruby: {
    exec: m<ExecKind>([['system', 'list'], ['exec', 'list'], ['spawn', 'list'], ['Kernel.system', 'list'], ['Kernel.exec', 'list'], ['Kernel.spawn', 'list'], ['Process.spawn', 'list'], ['Process.exec', 'list'], ['IO.popen', 'popen'], ['Open3.popen3', 'list'], ['Open3.popen2', 'list'], ['Open3.popen2e', 'list'], ['Open3.capture2', 'list'], ['Open3.capture2e', 'list'], ['Open3.capture3', 'list'], ['Open3.pipeline', 'list'], ['PTY.spawn', 'list'], ['open', 'pipeopen'], ['Kernel.open', 'pipeopen'], ['eval', 'code'], ['instance_eval', 'code'], ['class_eval', 'code'], ['module_eval', 'code'], ['Kernel.eval', 'code'], ['binding.eval', 'code'], ['send', 'code'], ['__send__', 'code'], ['public_send', 'code'], ['const_get', 'code'], ['method', 'code'], ['load', 'code']]),
    net: ['TCPSocket', 'UDPSocket', 'Socket', 'Net::', 'URI.open', 'open-uri', 'HTTParty', 'Faraday', 'RestClient', 'Excon', 'WebSocket', 'URI.parse'],
    decoders: new Set(['Base64.decode64', 'Base64.strict_decode64', 'Base64.urlsafe_decode64', 'unpack', 'unpack1', 'pack', 'Zlib::Inflate.inflate', 'Zlib.inflate', 'chr', 'tr', 'reverse', 'hex']),
    read: new Set(['File.read', 'File.readlines', 'IO.read', 'IO.readlines', 'File.foreach', 'File.binread']),
    write: new Set(['File.write', 'IO.write', 'File.binwrite', 'FileUtils.touch', 'FileUtils.mkdir_p', 'FileUtils.cp', 'FileUtils.mv', 'File.rename', 'File.chmod', 'File.symlink', 'FileUtils.ln_s']),
    del: m([['File.delete', false], ['File.unlink', false], ['FileUtils.rm', false], ['FileUtils.rm_f', false], ['FileUtils.rm_r', true], ['FileUtils.rm_rf', true], ['FileUtils.remove_dir', true], ['FileUtils.rmtree', true], ['FileUtils.remove_entry', true], ['Dir.rmdir', false], ['Dir.delete', false]]),
    env: new Set(['ENV.to_h', 'ENV.to_a', 'ENV.each', 'ENV.inspect', 'ENV.keys', 'ENV.values', 'ENV.map', 'ENV.to_s', 'ENV.each_pair', 'ENV.select', 'ENV.filter']),
  },
  php: {
    exec: m<ExecKind>([['system', 'shell'], ['exec', 'shell'], ['shell_exec', 'shell'], ['passthru', 'shell'], ['proc_open', 'shell'], ['popen', 'shell'], ['pcntl_exec', 'list'], ['eval', 'code'], ['assert', 'code'], ['create_function', 'code'], ['call_user_func', 'code'], ['call_user_func_array', 'code'], ['include', 'code'], ['require', 'code'], ['include_once', 'code'], ['require_once', 'code']]),
    net: ['fsockopen', 'pfsockopen', 'stream_socket_client', 'socket_create', 'socket_connect', 'curl_init', 'curl_exec', 'get_headers', 'dns_get_record', 'gethostbyname', 'mail'],
    decoders: new Set(['base64_decode', 'str_rot13', 'gzinflate', 'gzuncompress', 'gzdecode', 'hex2bin', 'convert_uudecode', 'chr', 'strrev', 'pack', 'urldecode', 'rawurldecode']),
    read: new Set(['file_get_contents', 'file', 'readfile', 'fopen', 'parse_ini_file', 'highlight_file', 'show_source']),
    write: new Set(['file_put_contents', 'mkdir', 'chmod', 'chown', 'rename', 'copy', 'symlink', 'link', 'touch']),
    del: m([['unlink', false], ['rmdir', false]]),
    env: new Set(['$_ENV', '$_SERVER', 'getenv()', 'phpinfo']),
  },
  lua: {
    exec: m<ExecKind>([['os.execute', 'shell'], ['io.popen', 'shell'], ['load', 'code'], ['loadstring', 'code'], ['dofile', 'code'], ['loadfile', 'code'], ['require', 'code']]),
    net: ['socket', 'http.request', 'ssl.wrap', 'require("socket")'],
    decoders: new Set(['string.char', 'string.reverse', 'mime.unb64', 'string.byte']),
    read: new Set(['io.lines']),
    write: new Set(['os.rename']),
    del: m([['os.remove', false]]),
    env: new Set(),
  },
  awk: {
    exec: m<ExecKind>([['system', 'shell']]),
    net: ['/inet/', '/inet4/', '/inet6/'],
    decoders: new Set(),
    read: new Set(),
    write: new Set(),
    del: m([]),
    env: new Set(['ENVIRON']),
  },
};

/**
 * Directory listings and globs by language: which files the code then opens is decided at run time from what
 * they return (a home-directory hunt when the root is the home, `/`, `/home` or `/root`: see `homeHunt`).
 */
const LISTERS: Record<ScriptLang, ReadonlySet<string>> = {
  perl: new Set(['opendir', 'glob', 'bsd_glob', 'File::Glob::bsd_glob', 'find', 'File::Find::find', 'finddepth', 'File::Find::finddepth', 'read_dir', 'File::Slurp::read_dir']),
  ruby: new Set(['Dir.glob', 'Dir', 'Dir.entries', 'Dir.children', 'Dir.each_child', 'Dir.foreach', 'Dir.new', 'Dir.open', 'Find.find', 'Pathname.glob', 'Pathname.new', 'Pathname']),
  php: new Set(['scandir', 'glob', 'opendir', 'dir', 'RecursiveDirectoryIterator', 'DirectoryIterator', 'FilesystemIterator', 'GlobIterator']),
  lua: new Set(['lfs.dir', 'lfs.attributes']),
  awk: new Set(),
};

/** File-reading calls whose path argument is not literal (`File.read(f)`): the file is chosen at run time. */
const RUNTIME_READERS: Record<ScriptLang, ReadonlySet<string>> = {
  perl: new Set(['open', 'sysopen', 'slurp', 'read_file', 'File::Slurp::read_file', 'path', 'copy', 'File::Copy::copy']),
  ruby: new Set(['File.read', 'File.readlines', 'IO.read', 'IO.readlines', 'File.foreach', 'File.binread', 'File.open', 'File.new', 'IO.binread', 'FileUtils.cp', 'FileUtils.copy', 'File.copy_stream', 'IO.copy_stream']),
  php: new Set(['file_get_contents', 'file', 'readfile', 'fopen', 'copy', 'parse_ini_file', 'highlight_file', 'show_source']),
  lua: new Set(['io.open', 'io.lines']),
  awk: new Set(),
};

/** The literal root a listing call names: leading string pieces joined by `+`, `.`, or `,` (File.join), up to the first unknown. */
function listingRoot(args: readonly Tok[]): string | null {
  let out = '';
  let any = false;
  for (const a of args) {
    // File.join(Dir.home, "**"), Pathname.new(x), File.expand_path(x): the path is built from the same pieces.
    if (!any && ((a.t === 'word' && /^(File\.join|File\.expand_path|Pathname\.new|Pathname|File::Spec->catfile|catfile|catdir|realpath)$/.test(a.v)) || (a.t === 'p' && (a.v === '(' || a.v === '->')))) continue;
    if (a.t === 'p' && (a.v === '+' || a.v === '.')) continue;
    if (a.t === 'p' && a.v === ',') {
      if (!any) break;
      out += '/';
      continue;
    }
    if (a.t !== 'str' || a.interp) break;
    out += a.v;
    any = true;
  }
  return any ? out.replace(/\/+/g, '/') : null;
}

/** A listing's root (`Dir.glob(Dir.home + "/**")`) and reads of paths only known at run time (`File.read(f)`). */
function listingsAndReads(lang: ScriptLang, toks: readonly Tok[], i: number, w: string, f: Facts): void {
  const next = toks[i + 1];
  if (LISTERS[lang].has(w) && (next?.v === '(' || next?.v === '[' || next?.t === 'str' || next?.t === 'word')) {
    let args = next?.v === '[' ? bracketArgs(toks, i + 1) : argTokens(toks, i);
    // perl opendir(DH, $dir): the directory is the second argument.
    if (lang === 'perl' && w === 'opendir') args = topLevelArgs(args)[1] ?? [];
    // perl find(\&wanted, @dirs) / find(sub { … }, $dir): the directories follow the callback.
    if (lang === 'perl' && /find(depth)?$/.test(w)) args = topLevelArgs(args).slice(1).flat();
    const root = listingRoot(args);
    if (root !== null) f.listed.push(root);
  }
  if (RUNTIME_READERS[lang].has(w)) {
    const args = topLevelArgs(argTokens(toks, i));
    // perl open(F, '<', $path): the path is the last argument.
    const path = lang === 'perl' && (w === 'open' || w === 'sysopen') ? args.at(-1) : args[0];
    if (path && path.length > 0 && !path.every((a) => (a.t === 'str' && !a.interp) || (a.t === 'p' && (a.v === '+' || a.v === '.')))) f.runtimeReads++;
  }
}

/** Argument tokens split at top-level commas. */
function topLevelArgs(args: readonly Tok[]): Tok[][] {
  const out: Tok[][] = [[]];
  let depth = 0;
  for (const a of args) {
    if (a.t === 'nl') continue;
    if (a.t === 'p' && (a.v === '(' || a.v === '[' || a.v === '{')) depth++;
    if (a.t === 'p' && (a.v === ')' || a.v === ']' || a.v === '}')) depth--;
    if (a.t === 'p' && a.v === ',' && depth === 0) out.push([]);
    else out.at(-1)!.push(a);
  }
  return out;
}

/** Tokens between `[` at `at` and its matching `]`. */
function bracketArgs(toks: readonly Tok[], at: number): Tok[] {
  const out: Tok[] = [];
  let depth = 0;
  for (let j = at; j < toks.length; j++) {
    const t = toks[j]!;
    if (t.t === 'p' && t.v === '[') depth++;
    else if (t.t === 'p' && t.v === ']' && --depth === 0) break;
    if (j > at) out.push(t);
  }
  return out;
}

const PERL_QUOTE = new Set(['q', 'qq', 'qw', 'qx', 'm', 'qr', 's', 'tr', 'y']);
const CLOSE: Record<string, string> = { '(': ')', '[': ']', '{': '}', '<': '>' };

/** Tokenizes `src` for `lang`. Linear: every step consumes at least one character. */
export function tokenize(lang: ScriptLang, src: string): Tok[] {
  return homeRefs(lang, rawTokens(lang, src));
}

/** `$ENV{HOME}`, `ENV['HOME']`, `getenv('HOME')`, `Dir.home`: the home directory, as a `~` string token. */
function homeRefs(lang: ScriptLang, toks: Tok[]): Tok[] {
  const out: Tok[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    const a = toks[i + 1];
    const b = toks[i + 2];
    const c = toks[i + 3];
    const isHome = (x: Tok | undefined): boolean => x !== undefined && (x.t === 'word' || x.t === 'str') && x.v === 'HOME' && !x.interp;
    if (t.t === 'word' && (t.v === '$ENV' || t.v === 'ENV' || t.v === '$_ENV' || t.v === '$_SERVER') && (a?.v === '{' || a?.v === '[') && isHome(b) && (c?.v === '}' || c?.v === ']')) {
      out.push({ t: 'str', v: '~', interp: false });
      i += 3;
      continue;
    }
    if (t.t === 'word' && (t.v === 'getenv' || t.v === 'ENV.fetch' || t.v === 'os.getenv') && a?.v === '(' && isHome(b) && c?.v === ')') {
      out.push({ t: 'str', v: '~', interp: false });
      i += 3;
      continue;
    }
    if (t.t === 'word' && (t.v === 'Dir.home' || t.v === 'File.expand_path' && a?.v === '(' && b?.v === '~' && c?.v === ')')) {
      out.push({ t: 'str', v: '~', interp: false });
      if (t.v !== 'Dir.home') i += 3;
      continue;
    }
    out.push(t);
  }
  return out;
}

function rawTokens(lang: ScriptLang, src: string): Tok[] {
  const out: Tok[] = [];
  const pendingHeredocs: { term: string; interp: boolean; indent: boolean; cmd: boolean }[] = [];
  const n = src.length;
  let i = 0;
  const push = (t: Tok['t'], v: string, interp = false): void => void out.push({ t, v, interp });
  // Reads a delimited string from i (at the opening delimiter); returns [raw body, index after close].
  const delimited = (open: string, from: number): [string, number] => {
    const close = CLOSE[open] ?? open;
    let depth = 1;
    let j = from + 1;
    let body = '';
    while (j < n) {
      const c = src[j]!;
      if (c === '\\' && j + 1 < n) {
        body += c + src[j + 1];
        j += 2;
        continue;
      }
      if (c === close && close !== open) {
        if (--depth === 0) return [body, j + 1];
      } else if (c === open && close !== open) depth++;
      else if (c === close) return [body, j + 1];
      body += c;
      j++;
    }
    return [body, n];
  };
  while (i < n) {
    const c = src[i]!;
    if (c === '\n') {
      push('nl', '\n');
      i++;
      // Heredoc bodies start on the next line.
      while (pendingHeredocs.length > 0) {
        const h = pendingHeredocs.shift()!;
        let body = '';
        while (i < n) {
          let e = src.indexOf('\n', i);
          if (e < 0) e = n;
          const line = src.slice(i, e);
          i = Math.min(n, e + 1);
          if ((h.indent ? line.trim() : line) === h.term || (lang === 'php' && line.trim().replace(/;$/, '') === h.term)) break;
          body += line + '\n';
        }
        push(h.cmd ? 'cmd' : 'str', body, h.interp && hasInterp(lang, body));
      }
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    // Comments
    if ((c === '#' && lang !== 'lua') || (lang === 'php' && c === '/' && src[i + 1] === '/') || (lang === 'lua' && c === '-' && src[i + 1] === '-')) {
      if (lang === 'lua' && src.startsWith('--[[', i)) {
        const e = src.indexOf(']]', i + 4);
        i = e < 0 ? n : e + 2;
        continue;
      }
      if (lang === 'ruby' && c === '#' && src[i + 1] === '{') {
        push('p', '#');
        i++;
        continue;
      }
      const e = src.indexOf('\n', i);
      i = e < 0 ? n : e;
      continue;
    }
    if (lang === 'php' && c === '/' && src[i + 1] === '*') {
      const e = src.indexOf('*/', i + 2);
      i = e < 0 ? n : e + 2;
      continue;
    }
    if (lang === 'php' && c === '<' && src.startsWith('<?php', i)) {
      i += 5;
      continue;
    }
    // Heredoc operators
    if (c === '<' && src[i + 1] === '<' && lang !== 'awk' && lang !== 'lua') {
      const hm = /^<<<?([~-]?)\s*(["'`]?)([A-Za-z_]\w*)\2/.exec(src.slice(i, i + 80));
      if (hm && (lang !== 'php' || src[i + 2] === '<') && (lang === 'php' || src[i + 2] !== '<')) {
        pendingHeredocs.push({ term: hm[3]!, interp: hm[2] !== "'", indent: hm[1] !== '' || lang === 'php', cmd: hm[2] === '`' });
        i += hm[0].length;
        continue;
      }
    }
    // Lua long strings
    if (lang === 'lua' && c === '[' && (src[i + 1] === '[' || src[i + 1] === '=')) {
      const lm = /^\[(=*)\[/.exec(src.slice(i, i + 20));
      if (lm) {
        const term = `]${lm[1]}]`;
        const e = src.indexOf(term, i + lm[0].length);
        push('str', src.slice(i + lm[0].length, e < 0 ? n : e));
        i = e < 0 ? n : e + term.length;
        continue;
      }
    }
    // Regex literals (/a|b/) where an operand cannot be: their text is neither code nor a pipe.
    if (c === '/' && (lang === 'awk' || lang === 'perl' || lang === 'ruby') && !afterOperand(out)) {
      const e = regexEnd(src, i + 1);
      if (e > 0) {
        push('p', 're');
        i = e;
        continue;
      }
    }
    if (c === '"' || c === "'" || c === '`') {
      let [body, next] = delimited(c, i);
      i = next;
      // "$ENV{HOME}/x" and "#{ENV['HOME']}/x" name the home directory, not unknown text.
      if (c === '"' && (lang === 'perl' || lang === 'ruby')) body = body.replace(lang === 'perl' ? /\$ENV\{['"]?HOME['"]?\}/g : /#\{ENV\[['"]HOME['"]\]\}|#\{Dir\.home\}/g, '~');
      const interp = c !== "'" && lang !== 'awk' && lang !== 'lua' && hasInterp(lang, body);
      if (c === '`' && lang !== 'awk' && lang !== 'lua') push('cmd', unescape(body, c), hasInterp(lang, body));
      else push('str', c === "'" || !interp ? unescape(body, c) : body, interp);
      continue;
    }
    // Words: identifiers with :: . and sigils
    if (/[A-Za-z_$@%]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w:]/.test(src[j]!) || (j < n && src[j] === '.' && lang !== 'perl' && lang !== 'php' && /[A-Za-z_]/.test(src[j + 1] ?? ''))) j++;
      const w = src.slice(i, j);
      // Perl quote-like operators: q(...), qq{...}, qx/.../, s/a/b/, tr/a/b/
      if (lang === 'perl' && PERL_QUOTE.has(w)) {
        let k = j;
        while (k < n && (src[k] === ' ' || src[k] === '\t')) k++;
        const d = src[k];
        if (d !== undefined && /[^\w\s,;=)>]/.test(d) && !(d === '=' || (d === '>' && w === 'q'))) {
          let [body, next] = delimited(d, k);
          if (w === 's' || w === 'tr' || w === 'y') {
            let k2 = next;
            if (CLOSE[d]) while (k2 < n && /\s/.test(src[k2]!)) k2++;
            const [repl, next2] = CLOSE[d] ? delimited(src[k2] ?? d, k2) : delimited(d, next - 1);
            next = next2;
            const flags = /^[a-z]*/.exec(src.slice(next, next + 10))![0];
            next += flags.length;
            if (w === 's' && flags.includes('e')) push('word', 'eval'), push('str', repl, true);
            else push('word', w);
            body = repl;
            i = next;
            continue;
          }
          i = next;
          if (w === 'qx') push('cmd', body, d !== "'" && hasInterp(lang, body));
          else if (w === 'qw') for (const part of body.split(/\s+/)) part && push('str', part);
          else if (w === 'm' || w === 'qr') push('p', '/');
          else push('str', body, w === 'qq' && hasInterp(lang, body));
          continue;
        }
      }
      // Ruby %x(...), %w(...), %q(...), %Q(...), %(...)
      if (lang === 'ruby' && c === '%' && j === i + 1 || lang === 'ruby' && /^%[xwqQiI]$/.test(w)) {
        const kind = w.length > 1 ? w[1]! : '';
        const d = src[i + w.length];
        if (d !== undefined && /[([{<|!/^]/.test(d)) {
          const [body, next] = delimited(d, i + w.length);
          i = next;
          if (kind === 'x') push('cmd', body, hasInterp(lang, body));
          else if (kind === 'w' || kind === 'i') for (const part of body.split(/\s+/)) part && push('str', part);
          else push('str', body, kind !== 'q' && hasInterp(lang, body));
          continue;
        }
      }
      push('word', w);
      i = j;
      continue;
    }
    if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w.]/.test(src[j]!)) j++;
      push('p', '0');
      i = j;
      continue;
    }
    if (c === '|' && src[i + 1] === '&') {
      push('p', '|&');
      i += 2;
      continue;
    }
    if (c === '-' && src[i + 1] === '>') {
      push('p', '->');
      i += 2;
      continue;
    }
    push('p', c);
    i++;
  }
  return out;
}

const NOT_OPERANDS = new Set(['print', 'printf', 'if', 'unless', 'return', 'split', 'grep', 'and', 'or', 'not', 'when', 'while', 'until', 'x', 'match', 'sub', 'gsub', 'gensub', 'in', 'case']);

/** Whether the previous token ends an operand (then `/` divides). */
function afterOperand(out: readonly Tok[]): boolean {
  const t = out[out.length - 1];
  if (t === undefined || t.t === 'nl') return false;
  if (t.t === 'str' || t.t === 'cmd') return true;
  if (t.t === 'word') return !NOT_OPERANDS.has(t.v);
  return t.v === ')' || t.v === ']' || t.v === '0';
}

/** Index after the closing `/` of a regex starting at `from` (inside it), or -1 when the line ends first. */
function regexEnd(src: string, from: number): number {
  let inClass = false;
  for (let j = from; j < src.length; j++) {
    const ch = src[j]!;
    if (ch === '\\') {
      j++;
      continue;
    }
    if (ch === '\n') return -1;
    if (ch === '[') inClass = true;
    else if (ch === ']') inClass = false;
    else if (ch === '/' && !inClass) {
      let k = j + 1;
      while (k < src.length && /[a-z]/.test(src[k]!)) k++; // flags
      return k;
    }
  }
  return -1;
}

function hasInterp(lang: ScriptLang, body: string): boolean {
  if (lang === 'ruby') return body.includes('#{') || body.includes('#$') || body.includes('#@');
  if (lang === 'perl') return /[$@][\w{:]/.test(body);
  if (lang === 'php') return /\$[\w{]|\{\$/.test(body);
  return false;
}

function unescape(body: string, q: string): string {
  if (!body.includes('\\')) return body;
  if (q === "'") return body.replace(/\\([\\'])/g, '$1');
  return body.replace(/\\(.)/g, (_, ch: string) => (ch === 'n' ? '\n' : ch === 't' ? '\t' : ch));
}

/** Analyses code in one of the token-scanned languages. */
export function analyzeScripting(lang: ScriptLang, src: string, f: Facts): void {
  const toks = tokenize(lang, src);
  const tab = TABLES[lang];
  let net = false;
  const netArgs: Tok[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.t === 'cmd') {
      if (t.interp) f.dynamicExec.push(lang === 'perl' ? 'qx/backticks with interpolation' : 'backticks with interpolation');
      else f.shells.push({ text: t.v, api: 'backticks' });
      continue;
    }
    if (t.t === 'str') {
      if (lang === 'awk' && /^\/inet[46]?\//.test(t.v)) {
        net = true;
        const host = t.v.split('/')[4];
        if (host && host !== '0') f.hosts.push(host);
        else f.netUnknown = true;
        f.netApis.push('/inet/ special file');
      }
      continue;
    }
    if (t.t === 'p') {
      if (lang === 'awk') {
        awkPipes(toks, i, f);
        awkFiles(toks, i, f);
      }
      continue;
    }
    if (t.t !== 'word') continue;
    // PHP's `@` silences errors: `@system('id')` is the call `system('id')`.
    const w = lang === 'php' ? t.v.replace(/^@+/, '') : t.v;
    if (tab.env.has(w) || (lang === 'perl' && w === '%ENV') || (lang === 'php' && w === 'getenv' && toks[i + 1]?.v === '(' && toks[i + 2]?.v === ')')) {
      if (!(lang === 'perl' && toks[i + 1]?.v === '{') && !(lang === 'php' && toks[i + 1]?.v === '[') && !(lang === 'awk' && toks[i + 1]?.v === '[')) f.envDumps.push(w);
      continue;
    }
    if (lang === 'perl' && (w === '$ENV' || w === '@ENV') ) continue;
    // A method/property name after -> or . is not a function call of its own (except Ruby receivers handled in the word).
    const prev = toks[i - 1];
    const isMethod = prev?.t === 'p' && (prev.v === '->' || (prev.v === '.' && lang !== 'perl' && lang !== 'php'));
    const key = isMethod ? null : w;
    if (key !== null) listingsAndReads(lang, toks, i, key, f);
    if (tab.net.some((p) => w === p || w.startsWith(p) && /[:.]/.test(p.at(-1) ?? '') || w.startsWith(`${p}::`) || w.startsWith(`${p}.`))) {
      net = true;
      f.netApis.push(w);
      netArgs.push(...argTokens(toks, i));
      continue;
    }
    if (tab.decoders.has(w)) f.decoders.push(w);
    if (key === null) {
      if ((lang === 'ruby' || lang === 'perl' || lang === 'php') && /^(system|exec|spawn|popen|eval|send|public_send|instance_eval|class_eval)$/.test(w)) f.dynamicExec.push(`.${w}`);
      continue;
    }
    const kind = tab.exec.get(key);
    if (kind) {
      execCall(lang, kind, key, argTokens(toks, i), f);
      continue;
    }
    const del = tab.del.get(key);
    if (del !== undefined) {
      for (const a of literalArgs(argTokens(toks, i))) f.deletes.push({ path: a, recursive: del });
      continue;
    }
    if (tab.read.has(key) || tab.write.has(key)) {
      const lits = literalArgs(argTokens(toks, i));
      // file_get_contents('https://…'), File.read is local; URL wrappers are network use.
      const url = lits[0] !== undefined ? urlHost(lits[0]) : null;
      if (url !== null) {
        net = true;
        f.netApis.push(key);
        f.hosts.push(url);
        continue;
      }
      if (lits[0] !== undefined) (tab.write.has(key) ? f.writes : f.reads).push(...(tab.write.has(key) && lits.length > 1 ? lits.slice(-1) : lits.slice(0, 1)));
      continue;
    }
    if (lang === 'lua' && key === 'io.open' || lang === 'ruby' && key === 'File.open' || lang === 'php' && key === 'fopen') {
      const lits = literalArgs(argTokens(toks, i));
      if (lits[0] !== undefined) (/[wa+]/.test(lits[1] ?? 'r') ? f.writes : f.reads).push(lits[0]);
    }
    // PHP variable functions: $f('ls')
    if (lang === 'php' && w.startsWith('$') && toks[i + 1]?.v === '(' && prev?.v !== '->' && !/^\$(this)$/.test(w)) f.dynamicCode.push(`${w}(…) variable function`);
  }
  if (net) {
    let found = false;
    for (const a of netArgs) {
      if (a.t !== 'str' || a.interp) continue;
      const h = urlHost(a.v) ?? bareHost(a.v);
      if (h !== null) {
        f.hosts.push(h);
        found = true;
      }
    }
    if (!found) f.netUnknown = true;
  }
}

/** Tokens of the call's arguments: up to the matching `)`, or to the end of the statement without parentheses. */
function argTokens(toks: readonly Tok[], i: number): Tok[] {
  let j = i + 1;
  const out: Tok[] = [];
  if (toks[j]?.v === '->' || toks[j]?.v === '.') j += 2;
  if (toks[j]?.v === '(') {
    let depth = 0;
    for (; j < toks.length; j++) {
      const t = toks[j]!;
      if (t.t === 'p' && (t.v === '(' || t.v === '[' || t.v === '{')) depth++;
      else if (t.t === 'p' && (t.v === ')' || t.v === ']' || t.v === '}')) {
        if (--depth === 0) break;
      }
      if (depth >= 1 && !(depth === 1 && t.v === '(' && out.length === 0)) out.push(t);
    }
    return out;
  }
  for (; j < toks.length; j++) {
    const t = toks[j]!;
    if (t.t === 'nl' || (t.t === 'p' && (t.v === ';' || t.v === '}' || t.v === ')'))) break;
    if (t.t === 'word' && /^(if|unless|or|and|do|then)$/.test(t.v)) break;
    out.push(t);
  }
  return out;
}

/** Literal string arguments (non-interpolated), in order; stops at the first non-literal. */
function literalArgs(args: readonly Tok[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    if (a.t === 'p' && a.v === ',') continue;
    if (a.t === 'nl') continue;
    if (a.t !== 'str' || a.interp) break;
    out.push(a.v);
  }
  return out;
}

/** Splits argument tokens at top-level commas; each argument is literal (string) or null. */
function splitArgs(args: readonly Tok[]): (string | null)[] {
  const out: (string | null)[] = [];
  let cur: Tok[] = [];
  let depth = 0;
  const flush = (): void => {
    const real = cur.filter((t) => t.t !== 'nl');
    const joined = concatenation(real);
    if (joined !== null) out.push(joined);
    else if (real.length === 1 && real[0]!.t === 'str' && !real[0]!.interp) out.push(real[0]!.v);
    else if (real.length > 0) {
      // Ruby/Perl list literals (%w[], qw()) became several str tokens inside brackets.
      const inner = real[0]!.v === '[' && real.at(-1)!.v === ']' ? real.slice(1, -1).filter((t) => t.v !== ',') : null;
      if (inner && inner.every((t) => t.t === 'str' && !t.interp)) out.push(...inner.map((t) => t.v));
      else if (real.every((t) => t.t === 'str' && !t.interp)) out.push(...real.map((t) => t.v));
      else out.push(null);
    }
    cur = [];
  };
  for (const t of args) {
    if (t.t === 'p' && (t.v === '(' || t.v === '[' || t.v === '{')) depth++;
    if (t.t === 'p' && (t.v === ')' || t.v === ']' || t.v === '}')) depth--;
    if (depth === 0 && t.t === 'p' && (t.v === ',' || t.v === '=>')) flush();
    else cur.push(t);
  }
  flush();
  return out;
}

/** `'a' . 'b'` (Perl, PHP), `'a' + 'b'` (Ruby), `'a' .. 'b'` (Lua): literal strings joined; null otherwise. */
function concatenation(toks: readonly Tok[]): string | null {
  if (toks.length < 3 || toks.length % 2 === 0) return null;
  let out = '';
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (i % 2 === 0) {
      if (t.t !== 'str' || t.interp) return null;
      out += t.v;
    } else if (!(t.t === 'p' && (t.v === '.' || t.v === '+'))) return null;
  }
  return out;
}

/** Calls that load code from a file or module by name (dynamic only when the name is). */
const LOADERS: Record<ScriptLang, ReadonlySet<string>> = {
  perl: new Set(['require', 'do']),
  ruby: new Set(['require', 'load', 'method', 'const_get']),
  php: new Set(['include', 'include_once', 'require', 'require_once']),
  lua: new Set(['require', 'dofile', 'loadfile']),
  awk: new Set(),
};

function execCall(lang: ScriptLang, kind: ExecKind, api: string, args: Tok[], f: Facts): void {
  let parts = splitArgs(args);
  // Perl `system { $prog } @args` and Ruby env hashes as first argument: unknown program.
  if (lang === 'ruby' && args[0]?.v === '{') parts = parts.slice(1);
  if (kind === 'code') {
    if (LOADERS[lang].has(api)) {
      if (parts.length === 0 || parts[0] === null) {
        // Perl/Ruby `require Foo::Bar`, `do { … }` and Ruby `method(:x)` name code statically; a variable does not.
        const first = args.find((t) => t.t !== 'nl');
        if ((lang === 'perl' || lang === 'ruby') && first && ((first.t === 'word' && !/^[$@%]/.test(first.v)) || first.v === '{' || first.v === ':')) return;
        if (api === 'method' && first === undefined) return;
        f.dynamicCode.push(`${api} of a computed name`);
      }
      return;
    }
    if (api === 'eval' && lang === 'perl' && args[0]?.v === '{') return; // eval { … } is a try block
    if (api === 'send' || api === 'public_send' || api === '__send__' || api === 'call_user_func' || api === 'call_user_func_array') {
      const p0 = parts[0];
      if (p0 === null || p0 === undefined) f.dynamicCode.push(`${api} of a computed name`);
      else if (/^(system|exec|spawn|eval|popen|`|instance_eval|passthru|shell_exec)$/.test(p0)) {
        if (parts.slice(1).every((x) => x !== null) && parts.length > 1) f.shells.push({ text: (parts.slice(1) as string[]).join(' '), api: `${api}(${p0})` });
        else f.dynamicExec.push(`${api}(${p0})`);
      }
      return;
    }
    const p0 = parts[0];
    if (p0 === undefined && (api === 'instance_eval' || api === 'class_eval' || api === 'module_eval')) return; // block form
    if (p0 === null || p0 === undefined) f.dynamicCode.push(api);
    else f.literalCode.push({ lang, text: p0 });
    return;
  }
  if (kind === 'pipeopen') {
    // open(FH, "cmd |"), open(FH, "|-", "cmd"), open(my $fh, '-|', @cmd), Ruby open("|cmd")
    const mode = lang === 'perl' ? parts[1] : parts[0];
    if (mode === undefined) return;
    if (mode === null) {
      if (lang === 'perl' && parts.length === 2) f.dynamicExec.push('open with a computed mode or path');
      else if (lang === 'ruby') f.dynamicExec.push('open with a computed path');
      return;
    }
    const m1 = mode.trim();
    if (m1 === '-|' || m1 === '|-') {
      const rest = parts.slice(lang === 'perl' ? 2 : 1);
      if (rest.length > 0 && !rest.includes(null)) {
        if (rest.length === 1) f.shells.push({ text: rest[0]!, api: 'open pipe' });
        else f.argvs.push({ argv: rest as string[], api: 'open pipe' });
      } else f.dynamicExec.push('open pipe');
      return;
    }
    if (m1.startsWith('|') || m1.endsWith('|')) {
      f.shells.push({ text: m1.replace(/^\|\s*|\s*\|$/g, ''), api: 'open pipe' });
      return;
    }
    // File modes
    const path = lang === 'perl' ? (parts.length >= 3 ? parts[2] : m1.replace(/^[+<>]+\s*/, '')) : m1;
    const wmode = lang === 'perl' ? (parts.length >= 3 ? m1 : m1) : (parts[1] ?? 'r');
    if (path !== null && path !== undefined && /^(?!https?:)/.test(path)) (/[>+wa]/.test(wmode ?? '') ? f.writes : f.reads).push(path);
    else if (path && /^https?:/.test(path)) {
      f.netApis.push('open(url)');
      const h = urlHost(path);
      if (h) f.hosts.push(h);
    }
    return;
  }
  const p0 = parts[0];
  if (p0 === undefined) {
    if (args.length > 0) f.dynamicExec.push(api);
    return;
  }
  if (kind === 'shell' || kind === 'popen') {
    if (p0 === null) f.dynamicExec.push(api);
    else if (kind === 'popen' && parts.length === 1 && args[0]?.v === '[') f.argvs.push({ argv: [p0], api });
    else f.shells.push({ text: p0, api });
    return;
  }
  // list: one string → shell command; several → argv
  if (parts.includes(null)) f.dynamicExec.push(api);
  else if (parts.length === 1) f.shells.push({ text: p0!, api });
  else f.argvs.push({ argv: parts as string[], api });
}

/**
 * awk file redirections: `getline [var] < "file"` reads the file; `print … > "file"` and `>> "file"`
 * write it (a `>` is output redirection only inside a print/printf statement, a comparison elsewhere).
 */
function awkFiles(toks: readonly Tok[], i: number, f: Facts): void {
  const t = toks[i]!;
  const target = toks[i + 1];
  if (target?.t !== 'str') return;
  if (t.v === '<') {
    const before = toks[i - 1]?.v === 'getline' ? toks[i - 1] : toks[i - 2]?.v === 'getline' ? toks[i - 2] : null;
    if (before) f.reads.push(target.v);
    return;
  }
  if (t.v !== '>' && t.v !== '>>') return;
  for (let k = i - 1; k >= 0; k--) {
    const v = toks[k]!.v;
    if (toks[k]!.t === 'p' && (v === ';' || v === '{' || v === '}' || v === '(')) return;
    if (toks[k]!.t === 'word' && (v === 'print' || v === 'printf')) {
      f.writes.push(target.v);
      return;
    }
  }
}

/** awk `print | "cmd"`, `"cmd" | getline`, `|&` coprocesses. */
function awkPipes(toks: readonly Tok[], i: number, f: Facts): void {
  const t = toks[i]!;
  if (t.v === '|&') {
    const s = toks[i + 1]?.t === 'str' ? toks[i + 1]! : toks[i - 1]?.t === 'str' ? toks[i - 1]! : null;
    if (s && /^\/inet/.test(s.v)) return;
    if (s) f.shells.push({ text: s.v, api: 'awk |&' });
    else f.dynamicExec.push('awk |& coprocess');
    return;
  }
  if (t.v !== '|' || toks[i - 1]?.v === '|' || toks[i + 1]?.v === '|') return; // `||` is logical or
  const next = toks[i + 1];
  if (next?.t === 'word' && next.v === 'getline') {
    const s = toks[i - 1];
    if (s?.t === 'str') f.shells.push({ text: s.v, api: 'awk getline' });
    else f.dynamicExec.push('awk command | getline');
    return;
  }
  if (next?.t === 'str') f.shells.push({ text: next.v, api: 'awk print |' });
  else f.dynamicExec.push('awk print | command');
}
