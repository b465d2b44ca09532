import { UNKNOWN, WordFlag, type Word } from '../words.ts';
import { EXEC_CAPS, type Cap, type KeyedCap, type Lang, type OptCap, type PosSpec, type SubEntry, type ToolEntry } from './spec.ts';
import { TOOLS } from './table.ts';

/**
 * Compiles the capability table once at load and scans an argv against it.
 * Scanning is pure: it returns {@link Action}s that `apply.ts` turns into
 * findings, so the parser can be tested on its own.
 */

/** An option as compiled: what it does and whether it takes a value. */
interface Opt {
  readonly cap: OptCap;
  /** `required`: value attached or the next word; `optional`: only attached (`--opt=v`, `-ov`); `none`: a flag. */
  readonly arg: 'required' | 'optional' | 'none';
  readonly spelling: string;
}

interface Level {
  readonly opts: ReadonlyMap<string, Opt>;
  /** Long options (`--x`) sorted, for GNU unambiguous-prefix matching. */
  readonly longs: readonly string[];
  readonly pos: PosSpec;
  readonly strict: boolean;
}

export interface CompiledTool {
  readonly entry: ToolEntry;
  readonly style: 'gnu' | 'single' | 'plain';
  readonly top: Level;
  readonly subs: ReadonlyMap<string, Level>;
  /** Some option runs something from a single word (`--opt=value`, `-Xvalue`): a dynamic or glob word may be one. */
  readonly attachedExec: boolean;
  readonly legacy: ReadonlySet<string>;
}

export type Action =
  | { readonly kind: 'shell' | 'program' | 'script' | 'bang' | 'code' | 'library' | 'read' | 'write' | 'net'; readonly word: Word; readonly text: string | null; readonly label: string; readonly lang: Lang | null }
  | { readonly kind: 'argv'; readonly words: readonly Word[]; readonly label: string; readonly assigns: boolean; readonly items?: Items }
  | { readonly kind: 'words'; readonly words: readonly Word[]; readonly label: string; readonly items?: Items }
  | { readonly kind: 'stdin'; readonly lang: Lang | 'shell'; readonly label: string }
  | { readonly kind: 'opaque'; readonly what: OpaqueKind; readonly word: Word; readonly reason: string };

/** Where the items a launcher reads from its input go in the command it runs. */
export interface Items {
  /** Text that stands for an item, or null: items are appended. */
  readonly marker: string | RegExp | null;
  /** Items are appended when the marker does not occur. */
  readonly appendIfAbsent: boolean;
}

const BRACES = /\{(?:\/\/?|\.|\/\.|\d+|#|%)?\}/;

/** The `opaque.<kind>` ids the capability table emits. */
export const OPAQUE_KINDS = ['unknown_option', 'dynamic_option', 'dynamic_exec', 'tool_code', 'library'] as const;
export type OpaqueKind = (typeof OPAQUE_KINDS)[number];

function optArg(cap: OptCap, spelling: string): Opt['arg'] {
  if (spelling.endsWith('?')) return 'optional';
  if (spelling.endsWith('=')) return 'required';
  if (typeof cap !== 'string') return 'required';
  return cap === 'flag' || cap === 'noexec' || cap === 'unsafe' || cap === 'argvmode' || cap === 'bangrest' ? 'none' : 'required';
}

function compileOpts(opts: Readonly<Record<string, OptCap>> | undefined, into: Map<string, Opt>): void {
  if (!opts) return;
  for (const [spellings, cap] of Object.entries(opts)) {
    for (const s of spellings.split(' ')) {
      if (!s) continue;
      const name = s.replace(/[?=]$/, '');
      into.set(name, { cap, arg: optArg(cap, s), spelling: name });
    }
  }
}

function level(opts: Map<string, Opt>, pos: PosSpec | undefined, strict: boolean): Level {
  const longs = [...opts.keys()].filter((k) => k.startsWith('--')).sort();
  return { opts, longs, pos: pos ?? {}, strict };
}

function isExecCap(c: OptCap): boolean {
  return typeof c === 'string' ? EXEC_CAPS.has(c) : c.keys.some(([, k]) => EXEC_CAPS.has(k));
}

/** Compiles one entry (exported for tests). */
export function compileTool(entry: ToolEntry): CompiledTool {
  const style = entry.style ?? 'gnu';
  const top = new Map<string, Opt>();
  compileOpts(entry.opts, top);
  const strict = entry.strict ?? entry.exec;
  const subs = new Map<string, Level>();
  for (const [names, sub] of Object.entries(entry.subs ?? {}) as [string, SubEntry][]) {
    const m = new Map(top);
    compileOpts(sub.opts, m);
    const l = level(m, sub.pos, sub.strict ?? strict);
    for (const n of names.split(' ')) if (n) subs.set(n, l);
  }
  let attachedExec = false;
  const all = [top, ...[...subs.values()].map((l) => l.opts as Map<string, Opt>)];
  for (const m of all) for (const o of m.values()) if (o.arg !== 'none' && o.cap !== 'argv' && isExecCap(o.cap)) attachedExec = true;
  return { entry, style, top: level(top, entry.pos, strict), subs, attachedExec, legacy: new Set(entry.legacy ?? []) };
}

const BY_NAME = new Map<string, CompiledTool>();
for (const e of TOOLS) {
  const c = compileTool(e);
  for (const n of e.names) {
    if (BY_NAME.has(n)) throw new Error(`capability table: ${n} listed twice`);
    BY_NAME.set(n, c);
  }
}

/** The compiled entry for a command name (basename), if the table has one. */
export function toolFor(name: string): CompiledTool | undefined {
  return BY_NAME.get(name);
}

/** A word for the value part of `--opt=value` / `-ovalue` (from character `at`): same span, value sliced. */
function valueWord(w: Word, text: string | null, at: number): Word {
  if (text !== null) return { ...w, value: text, raw: text, pattern: w.pattern.startsWith(w.value!.slice(0, at)) ? w.pattern.slice(at) : text };
  // Dynamic: the option name is literal in the pattern, so the value's pattern follows it.
  return { ...w, value: null, pattern: w.pattern.slice(at) };
}

/** Value of an option word after `at` characters, or null when that part is only known at run time. */
function sliceValue(w: Word, at: number): string | null {
  if (w.value !== null) return w.value.slice(at);
  return null;
}

/** A glob whose first character is a wildcard can match a name beginning with `-`. */
const GLOB_START = /^(?:\*|\?|\[(?!\^?-))/;

/** Unquoted `$x` / `$(…)` words can split into several words, any of which may be an option. */
function splittable(w: Word): boolean {
  if (w.value !== null) return false;
  let q: string | null = null;
  const r = w.raw;
  for (let i = 0; i < r.length; i++) {
    const c = r[i]!;
    if (q) {
      if (c === q) q = null;
      else if (c === '\\' && q === '"') i++;
    } else if (c === '\\') i++;
    else if (c === '"' || c === "'") q = c;
    else if (c === '$' || c === '`') return true;
  }
  return false;
}

function lookup(l: Level, name: string, style: CompiledTool['style']): Opt | undefined {
  const o = l.opts.get(name);
  if (o || style !== 'gnu' || !name.startsWith('--')) return o;
  // GNU getopt_long accepts any unambiguous prefix (`--checkpoint-act=exec=…`); an ambiguous one that could be
  // an executing option counts as that option (fail closed).
  let found: Opt | undefined;
  for (const l2 of l.longs) {
    if (!l2.startsWith(name)) continue;
    const o2 = l.opts.get(l2)!;
    if (!found || (isExecCap(o2.cap) && !isExecCap(found.cap))) found = o2;
  }
  return found;
}

interface Scan {
  readonly tool: CompiledTool;
  readonly name: string;
  readonly out: Action[];
}

function unquote(t: string): string {
  const m = /^\s*(["'])([\s\S]*)\1\s*$/.exec(t);
  return m ? m[2]! : t;
}

function keyed(s: Scan, k: KeyedCap, opt: string, w: Word, text: string | null): void {
  if (text === null) {
    // Partly known setting: opaque when its known part could select a capability, or its start is unknown.
    const pat = w.pattern;
    const any = k.keys.some(([, c]) => EXEC_CAPS.has(c));
    const exec = any && (pat.startsWith(UNKNOWN) || k.keys.some(([re, c]) => EXEC_CAPS.has(c) && re.test(pat)));
    if (exec) s.out.push({ kind: 'opaque', what: 'dynamic_exec', word: w, reason: `${s.name} ${opt} setting only known at run time (${w.raw.slice(0, 40)})` });
    return;
  }
  for (const [re, cap] of k.keys) {
    const m = re.exec(text);
    if (!m) continue;
    const val = unquote(m[1] ?? '');
    if (EXEC_CAPS.has(cap) && /^\s*\[/.test(val)) {
      s.out.push({ kind: 'opaque', what: 'dynamic_exec', word: w, reason: `${s.name} ${opt} gives a command as a list the chain does not parse` });
      return;
    }
    emit(s, cap, opt, w, val);
    return;
  }
}

function emit(s: Scan, cap: OptCap, label: string, w: Word, text: string | null): void {
  if (typeof cap !== 'string') {
    keyed(s, cap, label, w, text);
    return;
  }
  if (s.tool.legacy.has(label.split(' ')[0]!)) return;
  switch (cap) {
    case 'value':
    case 'flag':
    case 'noexec':
    case 'pid':
    case 'argvmode':
    case 'argv':
      return;
    case 'unsafe':
      s.out.push({ kind: 'opaque', what: 'tool_code', word: w, reason: `${s.name} ${label} runs code the chain cannot see` });
      return;
    case 'value2':
    case 'bangrest':
      return;
    default:
      s.out.push({ kind: cap, word: w, text, label: `${s.name} ${label}`, lang: (cap === 'code' ? s.tool.entry.codeLang : s.tool.entry.lang) ?? null });
  }
}

/** Mode flags collected while scanning one tool invocation. */
interface Modes {
  noexec: boolean;
  argvmode: boolean;
  /** A script/bang value was given, so standard input is data, not commands. */
  scripted: boolean;
  ran: boolean;
  /** `xargs -I STR`: the replace string. */
  marker: string | null;
}

function itemsOf(tool: CompiledTool, md: Modes, isParallel: boolean): Items | undefined {
  switch (tool.entry.items) {
    case 'braces':
      return { marker: BRACES, appendIfAbsent: isParallel };
    case 'xargs':
      return { marker: md.marker, appendIfAbsent: md.marker === null };
    default:
      return undefined;
  }
}

/**
 * Scans `args` (the words after the command name) of a tool in the table and returns what they do.
 * Unknown options of a strict (execution-capable) tool, and dynamic words that could be options, come back as
 * `opaque` actions.
 */
export function scanArgv(tool: CompiledTool, name: string, args: readonly Word[]): Action[] {
  const s: Scan = { tool, name, out: [] };
  const style = tool.style;
  const md: Modes = { noexec: false, argvmode: false, scripted: false, ran: false, marker: null };
  let lv = tool.top;
  let subChosen = tool.subs.size === 0;
  let strict = lv.strict;
  let pos = 0;
  let dd = false;
  const finish = (): Action[] => {
    const e = tool.entry;
    if (!md.scripted && !md.ran && !md.noexec) {
      if (e.stdin === 'lang' && e.lang) s.out.push({ kind: 'stdin', lang: e.lang, label: name });
      else if (e.stdin === 'shell' || (lv.pos.defaultShell ?? false)) s.out.push({ kind: 'stdin', lang: 'shell', label: name });
    }
    return s.out;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = a.value;
    const pspec = lv.pos;
    const argvStarted = pspec.argvAt !== undefined && pos > pspec.argvAt;  // (modeArgvAt stops at the argv anyway)
    if (!dd && v === '--' && !argvStarted) {
      dd = true;
      continue;
    }
    if (!dd && v === null && (a.pattern.startsWith(UNKNOWN) || splittable(a))) {
      if (strict && tool.entry.exec && (splittable(a) || tool.attachedExec)) {
        s.out.push({ kind: 'opaque', what: 'dynamic_option', word: a, reason: `${name} gets an argument only known at run time that may be an option (${a.raw.slice(0, 40)})` });
      }
    } else if (!dd && (a.flags & WordFlag.glob) !== 0 && GLOB_START.test(a.pattern) && strict && tool.entry.exec && tool.attachedExec) {
      // `tar cf x.tar *` with a file named `--checkpoint-action=exec=sh x.sh` in the directory.
      s.out.push({ kind: 'opaque', what: 'dynamic_option', word: a, reason: `${name} gets a glob (${a.raw.slice(0, 40)}) that can expand to a file name read as an option` });
    } else if (!dd && v === null && a.pattern.startsWith('-')) {
      // `--opt="$x"`: the option is known, its value is not.
      const opt = optionOf(lv, style, a.pattern);
      if (opt) {
        if (opt.cap === 'argv') {
          s.out.push({ kind: 'opaque', what: 'dynamic_exec', word: a, reason: `${name} runs a command only known at run time` });
          return s.out;
        }
        const eq = a.pattern.indexOf('=');
        emit(s, opt.cap, opt.spelling, valueWord(a, null, a.pattern.startsWith('--') || style === 'single' ? eq + 1 : 2), null);
      } else if (strict) {
        s.out.push({ kind: 'opaque', what: 'unknown_option', word: a, reason: `${name} option ${a.pattern.split('=')[0]!.slice(0, 30)} is not in the capability table` });
      }
      continue;
    } else if (!dd && v !== null && (pspec.plusBang ?? false) && v.startsWith('+') && v.length > 1) {
      s.out.push({ kind: 'bang', word: a, text: v.slice(1), label: `${name} +`, lang: tool.entry.lang ?? null });
      md.scripted = true;
      continue;
    } else if (!dd && v !== null && v.length > 1 && v.startsWith('-') && !argvStarted) {
      const next = option(s, lv, strict, args, i, md);
      if (next < 0) return s.out;
      i = next;
      continue;
    }
    // Positional.
    if (!subChosen && pos === 0 && v !== null) {
      const sub = tool.subs.get(v);
      subChosen = true;
      if (sub) {
        lv = sub;
        strict = sub.strict;
      } else {
        // Subcommands not in the table run nothing we model; their options are not ours to judge.
        strict = false;
        lv = { ...lv, pos: {} };
      }
      continue;
    }
    if (tool.entry.chainSep && (v === tool.entry.chainSep || v === '\\' + tool.entry.chainSep)) {
      lv = tool.top;
      subChosen = tool.subs.size === 0;
      strict = lv.strict;
      pos = 0;
      dd = false;
      continue;
    }
    const next = positional(s, pspec, args, i, pos++, md);
    if (next < 0) return s.out;
    i = next;
  }
  return finish();
}

/**
 * Handles the positional at `i` (number `idx`); returns the index of the last word it consumed, or -1 when it
 * consumed the rest of the words.
 */
function positional(s: Scan, p: PosSpec, args: readonly Word[], i: number, idx: number, md: Modes): number {
  const a = args[i]!;
  const v = a.value;
  const name = s.name;
  const lang = s.tool.entry.lang ?? null;
  if (p.parallel) return parallelArgs(s, args, i, md) ? -1 : i;
  if (p.keyed) emit(s, p.keyed, 'argument', a, v);
  if (md.noexec) return i;
  const argvAt = md.argvmode && p.modeArgvAt !== undefined ? p.modeArgvAt : p.argvAt;
  if (argvAt === idx) {
    md.ran = true;
    if (v !== null && p.shellFlagAtArgv?.includes(v)) {
      const sw = args[i + 1];
      if (sw) s.out.push({ kind: 'shell', word: sw, text: sw.value, label: `${name} ${v}`, lang: null });
      return -1;
    }
    s.out.push({ kind: 'argv', words: args.slice(i), label: p.packageHead ? `${name} package` : name, assigns: p.assigns ?? false, items: itemsOf(s.tool, md, false) });
    return -1;
  }
  if (p.shellAt === idx) {
    md.ran = true;
    s.out.push({ kind: 'shell', word: a, text: v, label: `${name} command`, lang: null });
  }
  if (p.wordsAt === idx) {
    md.ran = true;
    // The words run up to the end, or up to the tool's command separator (`tmux new 'a' \; split 'b'`).
    const sep = s.tool.entry.chainSep;
    let j = i;
    while (j < args.length && !(sep && (args[j]!.value === sep || args[j]!.value === '\\' + sep))) j++;
    const rest = args.slice(i, j);
    if (md.argvmode) s.out.push({ kind: 'argv', words: rest, label: name, assigns: false });
    else s.out.push({ kind: 'words', words: rest, label: `${name} command` });
    return j < args.length ? j - 1 : -1;
  }
  if (p.bangAt !== undefined && idx >= p.bangAt) {
    md.scripted = true;
    s.out.push({ kind: 'bang', word: a, text: v, label: `${name} command`, lang });
  }
  if (p.keysAt !== undefined && idx >= p.keysAt) {
    md.scripted = true;
    s.out.push({ kind: 'bang', word: a, text: v, label: `${name} keys`, lang: 'keys' });
  }
  if (p.scriptAt === idx) {
    md.scripted = true;
    s.out.push({ kind: 'script', word: a, text: v, label: `${name} script`, lang: null });
  }
  if (p.libraryAt === idx) s.out.push({ kind: 'library', word: a, text: v, label: `${name} module`, lang: null });
  if (p.netAt === idx) s.out.push({ kind: 'net', word: a, text: v, label: `${name} host`, lang: null });
  return i;
}

const PARALLEL_SEP = new Set([':::', '::::', ':::+', '::::+']);

function parallelArgs(s: Scan, args: readonly Word[], i: number, md: Modes): boolean {
  md.ran = true;
  let j = i;
  while (j < args.length && !PARALLEL_SEP.has(args[j]!.value ?? '')) j++;
  if (j > i) {
    s.out.push({ kind: 'words', words: args.slice(i, j), label: `${s.name} command`, items: itemsOf(s.tool, md, true) });
    return true;
  }
  // No command: every argument after `:::` is a command line; after `::::`, files of command lines.
  let sep = '';
  for (let k = i; k < args.length; k++) {
    const w = args[k]!;
    if (PARALLEL_SEP.has(w.value ?? '')) {
      sep = w.value!;
      continue;
    }
    if (sep.startsWith('::::')) s.out.push({ kind: 'script', word: w, text: w.value, label: `${s.name} command file`, lang: null });
    else s.out.push({ kind: 'shell', word: w, text: w.value, label: `${s.name} argument as command`, lang: null });
  }
  return true;
}

function optionOf(lv: Level, style: CompiledTool['style'], pattern: string): Opt | undefined {
  const eq = pattern.indexOf('=');
  const head = eq > 0 ? pattern.slice(0, eq) : pattern;
  if (head.includes(UNKNOWN)) return undefined;
  const exact = lv.opts.get(head);
  if (exact) return exact;
  if (style === 'gnu' && head.startsWith('--')) return lookup(lv, head, style);
  if (style === 'single') return singleLookup(lv, head)?.opt;
  if (!head.startsWith('--') && head.length >= 2) return lv.opts.get(head.slice(0, 2));
  return undefined;
}

/** Single-dash tools: `-opt`, `--opt` (sqlite3, openssl accept both), `-opt:value` (java). */
function singleLookup(lv: Level, head: string): { opt: Opt; at: number } | undefined {
  const o = lv.opts.get(head) ?? (head.startsWith('--') ? lv.opts.get(head.slice(1)) : undefined);
  if (o) return { opt: o, at: -1 };
  const c = head.indexOf(':');
  if (c > 1) {
    const o2 = lv.opts.get(head.slice(0, c));
    if (o2) return { opt: o2, at: c + 1 };
  }
  return undefined;
}

/**
 * Parses the option word at `i`; returns the index of the last word it consumed, or -1 when the rest of the
 * words were consumed (an argv option).
 */
function option(s: Scan, lv: Level, strict: boolean, args: readonly Word[], i: number, md: Modes): number {
  const a = args[i]!;
  const v = a.value!;
  const style = s.tool.style;
  const unknown = (what: string): number => {
    if (strict) s.out.push({ kind: 'opaque', what: 'unknown_option', word: a, reason: `${s.name} option ${what.slice(0, 30)} is not in the capability table` });
    return i;
  };
  const flag = (o: Opt, value?: Word): void => {
    if (o.cap === 'noexec') md.noexec = true;
    else if (o.cap === 'argvmode') md.argvmode = true;
    else if (o.cap === 'unsafe') emit(s, 'unsafe', o.spelling, value ?? a, (value ?? a).value);
  };
  const takeValue = (o: Opt, attached: string | null, hasAttached: boolean, at = 0): number => {
    if (o.cap === 'argv') {
      const words: Word[] = [];
      let j = i + (hasAttached ? 0 : 1);
      if (hasAttached) words.push(valueWord(a, attached, at));
      for (; j < args.length; j++) {
        const t = args[j]!.value;
        if (j > i && (t === ';' || t === '+' || t === '\\;')) break;
        if (j > i) words.push(args[j]!);
      }
      md.ran = true;
      if (!s.tool.legacy.has(o.spelling)) s.out.push({ kind: 'argv', words, label: `${s.name} ${o.spelling}`, assigns: false, items: itemsOf(s.tool, md, false) });
      return j;
    }
    if (o.cap === 'bangrest') {
      md.scripted = true;
      for (let j = i + 1; j < args.length; j++) s.out.push({ kind: 'bang', word: args[j]!, text: args[j]!.value, label: `${s.name} ${o.spelling}`, lang: s.tool.entry.lang ?? null });
      return args.length;
    }
    if (o.arg === 'none') {
      flag(o);
      return i;
    }
    if (o.cap === 'pid') md.noexec = true;
    if (s.tool.entry.items === 'xargs' && (o.spelling === '-I' || o.spelling === '--replace' || o.spelling === '-i')) {
      md.marker = (hasAttached ? attached : o.arg === 'optional' ? null : args[i + 1]?.value) ?? '{}';
    }
    if (o.cap === 'script' || o.cap === 'bang') md.scripted = true;
    if (typeof o.cap === 'string' && EXEC_CAPS.has(o.cap)) md.ran = true;
    if (o.cap === 'noexec' || o.cap === 'argvmode' || o.cap === 'unsafe') {
      const val = hasAttached ? valueWord(a, attached, at) : args[i + 1];
      flag(o, val);
      return hasAttached || !val ? i : i + 1;
    }
    if (o.cap === 'value2') return Math.min(args.length - 1, i + (hasAttached ? 1 : 2));
    if (hasAttached) {
      emit(s, o.cap, o.spelling, valueWord(a, attached, at), attached);
      return i;
    }
    if (o.arg === 'optional') return i;
    const nx = args[i + 1];
    if (!nx) return i;
    emit(s, o.cap, o.spelling, nx, nx.value);
    return i + 1;
  };
  // Whole-word options first (`-exec`, `-TT`, `-ex`, `--long`).
  const exact = lv.opts.get(v);
  if (exact) return takeValue(exact, null, false);
  const eq = v.indexOf('=');
  if (style === 'single') {
    const head = eq > 0 ? v.slice(0, eq) : v;
    const f = singleLookup(lv, head);
    if (!f) return unknown(head);
    if (f.at > 0) return takeValue(f.opt, v.slice(f.at), true, f.at);
    return takeValue(f.opt, eq > 0 ? v.slice(eq + 1) : null, eq > 0, eq + 1);
  }
  if (v.startsWith('--')) {
    if (style === 'plain') return unknown(v);
    const head = eq > 0 ? v.slice(0, eq) : v;
    const o = lookup(lv, head, style);
    if (!o) return unknown(head);
    return takeValue(o, eq > 0 ? v.slice(eq + 1) : null, eq > 0, eq + 1);
  }
  // Bundled short options: `-xzvf file`, `-I'cmd'`, `-oProxyCommand=…`.
  for (let j = 1; j < v.length; j++) {
    const o = lv.opts.get('-' + v[j]);
    if (!o) return unknown(j === 1 ? v : `-${v[j]} in ${v}`);
    if (o.arg === 'none') {
      flag(o);
      continue;
    }
    const rest = v.slice(j + 1);
    if (o.arg === 'optional' && !rest) return i;
    return rest ? takeValue(o, sliceValue(a, j + 1), true, j + 1) : takeValue(o, null, false);
  }
  return i;
}

/** Every compiled tool (for tests and documentation). */
export function allTools(): ReadonlyMap<string, CompiledTool> {
  return BY_NAME;
}
