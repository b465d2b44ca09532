import {
  add,
  analyzeScript,
  checkCommandWord,
  checkNetwork,
  checkPaths,
  describeStdin,
  isDecoder,
  isNetworkFetch,
  opaque as markUnknown,
  recordExec,
  spanOf,
  stdinFromElsewhere,
  stdinScript,
  unwrap,
  type Ctx,
  type Scope,
} from '../analyze.ts';
import type { Cmd } from '../walk.ts';
import { WordFlag, type Word } from '../words.ts';
import { extract } from './lang.ts';
import { scanArgv, toolFor, type Action, type Items, type OpaqueKind } from './scan.ts';
import { UNKNOWN } from '../words.ts';

/**
 * Applies the capability table to one command: what its options and positionals run is analysed recursively,
 * what it reads and writes goes to the path checks, hosts to the network checks, and whatever the chain cannot
 * know becomes an `opaque.*` finding (never allow).
 */

/** Records an `opaque.<kind>` finding and effect (ask unless the policy says deny; never allow). */
function opaque(ctx: Ctx, sc: Scope, kind: OpaqueKind, reason: string, start: number, end: number): void {
  markUnknown(ctx, sc, kind, reason, start, end);
}

const TEMP_DIR = /^(\/tmp|\/var\/tmp|\/dev\/shm)(\/|$)/;
const STDIN_PATH = /^(-|\/dev\/stdin|\/dev\/fd\/\d+|\/proc\/self\/fd\/\d+)$/;

/** A value only known at run time: deny what is fetched or decoded, opaque otherwise. */
function dynamic(ctx: Ctx, sc: Scope, w: Word, label: string): void {
  const inner = (w.flags & WordFlag.substitution) !== 0 ? sc.walked.cmds.filter((c) => c.start >= w.start && c.end <= w.end) : [];
  if (inner.some((c) => isNetworkFetch(ctx, c))) add(ctx, sc, 'deny', 'exec.remote_code', `${label} runs code downloaded at run time`, w.start, w.end);
  else if (inner.some((c) => isDecoder(c))) add(ctx, sc, 'deny', 'obfuscation.decode_exec', `${label} runs decoded data`, w.start, w.end);
  else opaque(ctx, sc, 'dynamic_exec', `${label} runs something only known at run time (${w.raw.slice(0, 40)})`, w.start, w.end);
}

function shellText(ctx: Ctx, sc: Scope, cmd: Cmd, w: Word, text: string, label: string): void {
  analyzeScript(ctx, text, sc.depth + 1, spanOf(sc, w), label, cmd.cwd);
}

/**
 * Tools whose purpose is to run the command they are given (`su -c`, `flock -c`, `script -c`): a
 * shell there is the point, not an escape.
 */
const LAUNCHERS = new Set(['su', 'runuser', 'sudo', 'doas', 'script', 'flock', 'sg', 'watch', 'tmux', 'screen', 'xargs', 'parallel', 'find', 'fd', 'fdfind', 'env', 'nohup', 'setsid', 'timeout', 'nice', 'ionice', 'chrt', 'taskset', 'stdbuf', 'time', 'unbuffer', 'chronic', 'entr', 'watchexec', 'nodemon', 'make', 'just', 'task', 'expect', 'ssh', 'docker', 'podman', 'kubectl', 'systemd-run', 'dbus-run-session', 'xvfb-run', 'firejail', 'bwrap', 'proot', 'unshare', 'setarch', 'prlimit', 'setpriv', 'strace', 'ltrace', 'valgrind', 'gdb', 'catchsegv', 'eatmydata', 'fakeroot', 'torsocks', 'proxychains', 'proxychains4', 'rlwrap', 'busybox', 'vagrant', 'git']);
/** General-purpose interpreters: from inside another tool, starting one is the shape of an escape. */
const INTERPRETER_HEAD = /^\s*(?:exec\s+)?(?:\S*\/)?(sh|bash|dash|zsh|ksh|mksh|ash|fish|csh|tcsh|busybox|python[0-9.]*|perl[0-9.]*|ruby[0-9.]*|node|nodejs|php[0-9.]*|lua[0-9.]*|tclsh|wish|expect|awk|gawk|mawk|nawk|socat|nc|ncat|netcat)(?=\s|$|;|&|\|)/;

/**
 * A hook of a tool that is not a launcher (`man -P`, `less`'s `!`, `tar --checkpoint-action`,
 * `zip -TT`, `rsync -e`, `rg --pre`, `git -c core.pager`, `gdb -ex '!…'`) that starts a shell or an
 * interpreter is an escape whatever it then runs (`sh -c id` is the probe that precedes the payload):
 * deny, like a command-valued environment variable that starts a shell.
 */
function hookStartsInterpreter(ctx: Ctx, sc: Scope, name: string, w: Word, text: string, label: string): void {
  if (LAUNCHERS.has(name)) return;
  const m = INTERPRETER_HEAD.exec(text);
  if (m) add(ctx, sc, 'deny', 'exec.tool_hook', `${label} starts ${m[1]}: an escape from ${name} to an interpreter`, w.start, w.end);
}

/** How an item from a launcher's input is written into the command it runs: a variable with an unknown value. */
const ITEM_REF = '"$ITEM"';

function itemWord(at: Word): Word {
  return { start: at.start, end: at.end, raw: ITEM_REF, value: null, pattern: UNKNOWN, flags: WordFlag.expansion | WordFlag.quoted, vars: ['ITEM'] };
}

function hasMarker(v: string, m: string | RegExp): boolean {
  return typeof m === 'string' ? m !== '' && v.includes(m) : m.test(v);
}

/**
 * Puts the items a launcher reads from its input (file names, lines) into the command it runs: a word that is
 * only the placeholder becomes a value only known at run time; a placeholder inside a word (`sh -c 'echo {}'`)
 * becomes `"$ITEM"` in its text, so a nested script sees an unknown variable there. Items are appended when
 * the tool appends them.
 */
function withItems(words: readonly Word[], items: Items | undefined): Word[] {
  if (!items) return [...words];
  const m = items.marker;
  let found = false;
  const out = words.map((w) => {
    if (m === null || w.value === null || !hasMarker(w.value, m)) return w;
    found = true;
    const whole = typeof m === 'string' ? w.value === m : new RegExp(`^(?:${m.source})$`).test(w.value);
    if (whole) return itemWord(w);
    const text = typeof m === 'string' ? w.value.split(m).join(ITEM_REF) : w.value.replace(new RegExp(m.source, 'g'), ITEM_REF);
    const pattern = typeof m === 'string' ? w.pattern.split(m).join(UNKNOWN) : w.pattern.replace(new RegExp(m.source, 'g'), UNKNOWN);
    return { ...w, value: text, raw: text, pattern };
  });
  if (!found && items.appendIfAbsent && words.length > 0) out.push(itemWord(words[words.length - 1]!));
  return out;
}

/** `@scope/pkg@1.2` → `pkg`: the program a package runner starts. */
function packageName(v: string): string {
  const noScope = v.startsWith('@') ? v.slice(v.indexOf('/') + 1) : v;
  const at = noScope.indexOf('@');
  return (at > 0 ? noScope.slice(0, at) : noScope).replace(/[^\w.-]/g, '') || v;
}

function applyAction(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, act: Action, writes: Word[], chain: string[]): void {
  switch (act.kind) {
    case 'opaque':
      opaque(ctx, sc, act.what, act.reason, act.word.start, act.word.end);
      return;
    case 'argv': {
      const words = withItems(act.words, act.items);
      // xargs given no command runs echo.
      if (act.words.length === 0 && name === 'xargs') recordExec(ctx, 'echo');
      if (words.length === 0) return;
      // Appended items may be none at all: xargs without -r runs the command once with no item
      // (`xargs -0 cp payload /usr/local/bin/git < /dev/null` copies to the last word as written).
      if (act.items && act.items.marker === null && words.length > act.words.length && act.words[0]?.value != null) {
        unwrap(ctx, sc, cmd, [...act.words], 0, writes, chain, act.label, act.assigns);
      }
      let head = words[0]!;
      if (head.value === null) {
        // A program only known at run time: the same judgement as a dynamic command name.
        checkCommandWord(ctx, sc, cmd, head);
        return;
      }
      if (act.label.endsWith(' package') && head.value !== null) head = { ...head, value: packageName(head.value) };
      unwrap(ctx, sc, cmd, [head, ...words.slice(1)], 0, writes, chain, act.label, act.assigns);
      return;
    }
    case 'words': {
      const words = withItems(act.words, act.items);
      if (words.length === 0) return;
      // Items and other unknown words stand in the command line as an unknown variable.
      const text = words.map((w) => (w.value === null && w.raw === ITEM_REF ? ITEM_REF : w.value)).join(' ');
      const dyn = words.filter((w) => w.value === null && w.raw !== ITEM_REF);
      if (dyn.length > 0) {
        for (const w of dyn) dynamic(ctx, sc, w, act.label);
        return;
      }
      analyzeScript(ctx, text, sc.depth + 1, spanOf(sc, words[0]!, words[words.length - 1]), act.label, cmd.cwd);
      return;
    }
    case 'stdin':
      if (act.lang === 'shell') {
        stdinScript(ctx, sc, cmd, name, true);
        return;
      }
      if (cmd.stdin === null) return;
      stdinLang(ctx, sc, cmd, name, act.lang);
      return;
    case 'shell':
    case 'program':
      if (act.text === null) dynamic(ctx, sc, act.word, act.label);
      else {
        hookStartsInterpreter(ctx, sc, name, act.word, act.text, act.label);
        shellText(ctx, sc, cmd, act.word, act.text, act.label);
      }
      return;
    case 'bang': {
      if (act.text === null || act.lang === null) {
        dynamic(ctx, sc, act.word, act.label);
        return;
      }
      const ex = extract(act.lang, act.text);
      for (const c of ex.cmds) {
        hookStartsInterpreter(ctx, sc, name, act.word, c, act.label);
        shellText(ctx, sc, cmd, act.word, c, act.label);
      }
      if (ex.opaque) opaque(ctx, sc, 'tool_code', `${act.label}: ${ex.opaque}`, act.word.start, act.word.end);
      return;
    }
    case 'code':
      if (act.text === null) {
        dynamic(ctx, sc, act.word, act.label);
        return;
      }
      if (act.lang !== null) for (const c of extract(act.lang, act.text).cmds) shellText(ctx, sc, cmd, act.word, c, act.label);
      opaque(ctx, sc, 'tool_code', `${act.label} runs ${name} code the chain does not parse`, act.word.start, act.word.end);
      return;
    case 'script':
      script(ctx, sc, cmd, name, act.word, act.text, act.label);
      return;
    case 'library':
      checkPaths(ctx, sc, cmd, act.word, 'read', name);
      opaque(ctx, sc, 'library', `${act.label} loads native code (${(act.text ?? act.word.raw).slice(0, 40)})`, act.word.start, act.word.end);
      return;
    case 'read':
    case 'write':
      checkPaths(ctx, sc, cmd, act.word, act.kind, name);
      return;
    case 'net':
      if (!ctx.p.networkTools.has(name)) checkNetwork(ctx, sc, cmd, name, [act.word], []);
      return;
  }
}

/** A file the tool executes: its contents are as trusted as the workspace, unless they come from elsewhere. */
function script(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, w: Word, text: string | null, label: string): void {
  if (text === null) {
    dynamic(ctx, sc, w, label);
    return;
  }
  if (STDIN_PATH.test(text)) {
    opaque(ctx, sc, 'dynamic_exec', `${label} is read from standard input`, w.start, w.end);
    return;
  }
  checkPaths(ctx, sc, cmd, w, 'read', name);
  if (TEMP_DIR.test(text)) add(ctx, sc, 'ask', 'exec.untrusted_source', `${label} runs a file from a temporary directory (${text.slice(0, 60)})`, w.start, w.end);
}

/** Commands in a tool's language read from standard input (`sqlite3 db <<< '.shell id'`). */
function stdinLang(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, lang: Parameters<typeof extract>[0]): void {
  if (cmd.stdin?.kind === 'dynamic') {
    dynamic(ctx, sc, cmd.stdin.word, `${name} <<<`);
    return;
  }
  const s = describeStdin(ctx, cmd.stdin);
  if (stdinFromElsewhere(ctx, sc, cmd, name, s)) return;
  switch (s.kind) {
    case 'text': {
      const ex = extract(lang, s.text);
      const at = sc.outer ?? { start: cmd.start, end: cmd.end };
      for (const c of ex.cmds) analyzeScript(ctx, c, sc.depth + 1, at, `command fed to ${name}`, cmd.cwd);
      if (ex.opaque) opaque(ctx, sc, 'tool_code', `${name} input: ${ex.opaque}`, cmd.start, cmd.end);
      return;
    }
    case 'unknown':
      opaque(ctx, sc, 'dynamic_exec', `${name} executes commands read from ${s.what}`, cmd.start, cmd.end);
      return;
    case 'none':
      return;
  }
}

/**
 * Hook called by analyzeArgv for every command: when the table knows the tool, scans its argv and applies what
 * it finds. Returns true when the tool is in the table.
 */
export function applyCapabilities(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[], writes: Word[], chain: string[]): boolean {
  const tool = toolFor(name);
  if (!tool) return false;
  for (const act of scanArgv(tool, name, args)) applyAction(ctx, sc, cmd, name, act, writes, chain);
  return true;
}
