import type { Lang } from './spec.ts';

/**
 * Extractors for the small command languages of tools (`bang` capabilities): the shell commands a text runs,
 * and whether it contains anything else that could run code the chain cannot see (then the caller reports it
 * opaque). Each works line by line over statically known text; every regex here is anchored and linear.
 */
export interface Extracted {
  /** Shell command lines the text runs. */
  readonly cmds: string[];
  /** Why part of the text cannot be judged (null when everything was understood). */
  readonly opaque: string | null;
}

/** vi/vim/ex commands that only edit, move, save or quit (anything else is opaque). */
const EX_SAFE = /^(?:\d*|w|wq|wq!|x|x!|q|q!|qa|qa!|wqa|wqall|xa|update|noh(?:lsearch)?|retab!?|se(?:t)?\s+[\w=,.:+-]+(?:\s+[\w=,.:+-]+)*|syn(?:tax)?\s+(?:on|off|enable)|%?s([/#|@])(?:(?!\1).)*\1(?:(?!\1).)*(?:\1[gcinI&]*)?|%?d|normal!?\s+[\w\s$^.<>]*|g\/[^/!]*\/d|e(?:dit)?!?\s+[\w./~-]+|e(?:dit)?!?|\$|gg|G|h(?:elp)?\s+[\w-]+|filetype\s+\w+(?:\s+\w+)*|colo(?:rscheme)?\s+\w+|echo\s+"[^"]*")$/;
const EX_BANG = /^(?:sil(?:ent)?!?\s+)?(?:(?:\d+|%|'<,'>|\.|\$)?(?:,(?:\d+|\$|\.))?\s*)?(?:r(?:ead)?\s*|w(?:rite)?\s*|e(?:dit)?\s*)?!(.*)$/;

const GDB_SAFE = /^(?:bt(?:\s+(?:full|-?\d+))?|backtrace(?:\s+full)?|where|info\s+[\w\s-]*|i\s+\w+|q(?:uit)?|k(?:ill)?|run|r|start|starti|c(?:ontinue)?|n(?:ext)?|s(?:tep)?|finish|set\s+(?:pagination|confirm|print|logging|width|height|listsize|breakpoint|disassembly-flavor|style)\b[\w\s.-]*|thread\s+apply\s+all\s+bt(?:\s+full)?|thread\s+\d+|frame\s+\d+|f\s+\d+|up(?:\s+\d+)?|down(?:\s+\d+)?|p(?:rint)?(?:\/\w)?\s+[\w.[\]*&>()+-]+|x\/\w+\s+[\w$&*+-]+|l(?:ist)?(?:\s+[\w:.-]+)?|b(?:reak)?\s+[\w:.-]+|tbreak\s+[\w:.-]+|disas(?:semble)?(?:\s+[\w:.-]+)?|display\s+[\w.]+|watch\s+[\w.]+|delete|detach|generate-core-file(?:\s+[\w./-]+)?|core(?:-file)?\s+[\w./-]+|file\s+[\w./-]+|symbol-file\s+[\w./-]+)$/;

/** `!cmd`, `shell cmd`, `pipe … | cmd`, `| … | cmd` in gdb. */
const GDB_SHELL = /^(?:!|shell\s+)(.*)$/;
const GDB_PIPE = /^(?:pipe|\|)\s*[^|]*\|(.*)$/;

/** sqlite3 dot-commands that run programs or load code. */
const SQLITE_SHELL = /^\.(?:shell|system)\s+(.*)$/;
const SQLITE_PIPE = /^\.(?:once|output|read|import)\s+(?:-\w+\s+)*['"]?\|(.*?)['"]?$/;
const SQLITE_OPAQUE = /^\.(?:load|read|open\s+--?hexdb|excel|edit|cd|import|output|once|save|backup|restore)\b/;

const PSQL_SHELL = /^\\!\s*(.*)$/;
const PSQL_PIPE = /^\\(?:o|g|gx|out|copy\s.*?\bto)\s*\|\s*(.*)$/;
const PSQL_PROGRAM = /\bprogram\s+'((?:[^']|'')*)'/gi;
const PSQL_OPAQUE = /^\\(?:i|ir|include|include_relative|setenv|o|out|w|write|copy|s)\b/;

const MYSQL_SHELL = /^(?:\\!|system)\s+(.*)$/i;
const MYSQL_OPAQUE = /^(?:\\\.|source\b|\\P|pager\b|\\T|tee\b|\\e|edit\b)/i;

/** Generic `!cmd` lines (ed, ftp, lftp, dc, mail, minicom, runscript). */
const BANG_LINE = /^~?!(.*)$/;

/** less commands: `!cmd`, `|mcmd` (pipe to a shell command), `v` (editor), `s file`/`o file` (write). */
const LESS_SHELL = /^(?:!|\|.)(.*)$/;

function lines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
}

function ex(text: string): Extracted {
  const cmds: string[] = [];
  let opaque: string | null = null;
  for (const raw of lines(text)) {
    const l = raw.replace(/^:+\s*/, '');
    const m = EX_BANG.exec(l);
    if (m) {
      cmds.push(m[1]!);
      continue;
    }
    // `:a | b` chains editor commands; each part must be understood.
    for (const part of l.split('|').map((p) => p.trim())) {
      if (!EX_SAFE.test(part)) opaque ??= `editor command "${part.slice(0, 40)}"`;
    }
  }
  return { cmds, opaque };
}

function gdb(text: string): Extracted {
  const cmds: string[] = [];
  let opaque: string | null = null;
  for (const l of lines(text)) {
    const m = GDB_SHELL.exec(l) ?? GDB_PIPE.exec(l);
    if (m) cmds.push(m[1]!);
    else if (!GDB_SAFE.test(l)) opaque ??= `debugger command "${l.slice(0, 40)}"`;
  }
  return { cmds, opaque };
}

function sqlite(text: string): Extracted {
  const cmds: string[] = [];
  let opaque: string | null = null;
  for (const l of lines(text)) {
    const m = SQLITE_SHELL.exec(l) ?? SQLITE_PIPE.exec(l);
    if (m) cmds.push(m[1]!);
    else if (SQLITE_OPAQUE.test(l)) opaque ??= `sqlite3 command "${l.slice(0, 40)}"`;
    else if (/\bload_extension\s*\(/i.test(l)) opaque ??= 'SQL loads a native extension';
  }
  return { cmds, opaque };
}

function psql(text: string): Extracted {
  const cmds: string[] = [];
  let opaque: string | null = null;
  for (const l of lines(text)) {
    const m = PSQL_SHELL.exec(l) ?? PSQL_PIPE.exec(l);
    if (m) cmds.push(m[1]!);
    else if (PSQL_OPAQUE.test(l)) opaque ??= `psql command "${l.slice(0, 40)}"`;
    PSQL_PROGRAM.lastIndex = 0;
    for (const p of l.matchAll(PSQL_PROGRAM)) cmds.push(p[1]!.replace(/''/g, "'"));
  }
  return { cmds, opaque };
}

function mysql(text: string): Extracted {
  const cmds: string[] = [];
  let opaque: string | null = null;
  for (const l of lines(text).flatMap((x) => x.split(';').map((y) => y.trim()).filter(Boolean))) {
    const m = MYSQL_SHELL.exec(l);
    if (m) cmds.push(m[1]!);
    else if (MYSQL_OPAQUE.test(l)) opaque ??= `mysql command "${l.slice(0, 40)}"`;
  }
  return { cmds, opaque };
}

function bangline(text: string): Extracted {
  const cmds: string[] = [];
  for (const l of lines(text).flatMap((x) => x.split(';').map((y) => y.trim()))) {
    const m = BANG_LINE.exec(l);
    if (m) cmds.push(m[1]!);
  }
  // dc's `!` may follow other dc commands on a line (`1p!cmd`); anything with `!` we did not extract is opaque.
  const rest = lines(text).filter((l) => !BANG_LINE.test(l) && l.includes('!'));
  return { cmds, opaque: rest.length ? `"${rest[0]!.slice(0, 40)}" may run a shell command` : null };
}

function less(text: string): Extracted {
  const cmds: string[] = [];
  let opaque: string | null = null;
  for (const l of lines(text)) {
    const m = LESS_SHELL.exec(l);
    if (m) cmds.push(m[1]!);
    else if (/^[vsoE]|!|\|/.test(l)) opaque ??= `pager command "${l.slice(0, 40)}"`;
  }
  return { cmds, opaque };
}

/** m4 `syscmd(…)`/`esyscmd(…)` run shell commands; `include`/`sinclude` read other m4 text. */
function m4(text: string): Extracted {
  const cmds: string[] = [];
  for (const m of text.matchAll(/\be?syscmd\(\s*`?([^()']*)'?\s*\)/g)) cmds.push(m[1]!);
  const hidden = /\b(?:e?syscmd|include|sinclude|undivert|defn|indir|builtin)\b/.test(text.replace(/\be?syscmd\(\s*`?[^()']*'?\s*\)/g, ''));
  return { cmds, opaque: hidden ? 'm4 text runs or includes something the chain cannot follow' : null };
}

/**
 * make text (`make --eval`): recipe lines (after `;` on a rule line, or tab-indented) and `$(shell …)` run in a
 * shell. Everything else (variables, functions like `$(eval)`) may change what runs: always opaque as well.
 */
function make(text: string): Extracted {
  const cmds: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const rule = /^[^\t:=#][^:=]*::?[^=;]*;(.*)$/.exec(raw);
    if (rule) cmds.push(rule[1]!.replace(/^[@+-]+/, ''));
    else if (raw.startsWith('\t')) cmds.push(raw.slice(1).replace(/^[@+-]+/, ''));
  }
  for (const m of text.matchAll(/\$[({]shell\s+([^)}]*)[)}]/g)) cmds.push(m[1]!);
  return { cmds, opaque: 'make text the chain does not evaluate' };
}

/** Emacs Lisp: the string arguments of shell-running functions. */
function elisp(text: string): Extracted {
  const cmds: string[] = [];
  for (const m of text.matchAll(/\((?:shell-command(?:-to-string)?|async-shell-command|compile|term|ansi-term|start-process-shell-command|call-process-shell-command)\s+"((?:[^"\\]|\\.)*)"/g)) {
    cmds.push(m[1]!.replace(/\\(.)/g, '$1'));
  }
  return { cmds, opaque: 'Emacs Lisp the chain does not evaluate' };
}

/** rpm macros: `%(cmd)` runs a shell command; `%{lua:…}` runs Lua. */
function rpm(text: string): Extracted {
  const cmds: string[] = [];
  for (const m of text.matchAll(/%\(([^()]*)\)/g)) cmds.push(m[1]!);
  return { cmds, opaque: 'rpm macros the chain does not expand' };
}

/**
 * Tcl (tclsh, wish, expect): `exec`, `spawn`, `system` and `open "|…"` run programs; their words are taken as a
 * command line. Tcl substitution (`[…]`, `$x`) and `eval` make the rest unknowable: always opaque as well.
 */
function tcl(text: string): Extracted {
  const cmds: string[] = [];
  for (const part of text.split(/[\n;]/)) {
    const m = /^\s*(?:exec|spawn|system)\s+(?:-\S+\s+)*(.+)$/.exec(part) ?? /\bopen\s+"?\|([^"\]]+)/.exec(part);
    if (m) cmds.push(m[1]!.replace(/[{}]/g, ' ').replace(/\s&\s*$/, ''));
  }
  return { cmds, opaque: 'Tcl code the chain does not evaluate' };
}

/**
 * Code in a language the chain has no parser for (Haskell, Scheme, Lisp, gnuplot, Octave, S-Lang, JavaScript in
 * jrunscript): string literals handed to a shell-running call are re-parsed; the rest is opaque.
 */
function calls(text: string): Extracted {
  const cmds: string[] = [];
  for (const m of text.matchAll(/\b(?:system|callCommand|spawnCommand|run-shell-command|shell-command|popen|exec|unix)\s*\(?\s*"((?:[^"\\]|\\.)*)"/g)) {
    cmds.push(m[1]!.replace(/\\(.)/g, '$1'));
  }
  return { cmds, opaque: 'code the chain does not parse' };
}

const KEY_NAME = /^(?:Enter|Escape|Tab|BTab|BSpace|Space|Up|Down|Left|Right|Home|End|PageUp|PageDown|PPage|NPage|IC|DC|Insert|Delete|[CMS]-\S+|\^\S|KP\w*|F\d{1,2})$/;

/**
 * Keys typed into a terminal (`tmux send-keys`, `screen -X stuff`): text that is not a key name is most likely
 * a shell command line, analysed as one; what program reads it is not known, so it is opaque as well.
 */
function keys(text: string): Extracted {
  if (KEY_NAME.test(text.trim())) return { cmds: [], opaque: null };
  return { cmds: [text.replace(/\\n|\r|\n$/g, '')], opaque: `keys typed into a terminal ("${text.slice(0, 40)}")` };
}

/** screen commands (`screen -X …`): `stuff` types keys, `exec`/`screen` run programs; anything else is opaque. */
function screenCmd(text: string): Extracted {
  const t = text.trim();
  if (/^(?:stuff|exec|screen|eval|source|bind|register|paste|readreg|writebuf|readbuf|logfile|log|hardcopy|shell|defshell|chdir|setenv)$/.test(t)) return { cmds: [], opaque: `screen command "${t}"` };
  if (/^(?:quit|kill|detach|select|windows|title|sessionname|hardstatus|caption|width|height|clear|redisplay|lastmsg|number|info|version|\d+)$/.test(t)) return { cmds: [], opaque: null };
  return keys(text);
}

/** tmux/screen commands given as text (`tmux source-file`, `screen -X …`): only opaque judgement. */
function multiplexer(text: string): Extracted {
  return { cmds: [], opaque: /\S/.test(text) ? `terminal multiplexer command "${text.slice(0, 40)}"` : null };
}

const EXTRACTORS: Record<Lang, (t: string) => Extracted> = {
  ex,
  gdb,
  sqlite,
  psql,
  mysql,
  bangline,
  less,
  m4,
  make,
  elisp,
  rpm,
  tcl,
  calls,
  keys,
  tmux: multiplexer,
  screen: screenCmd,
};

/** Shell commands in `text` written in `lang`, plus an opaque reason for parts that may run unseen code. */
export function extract(lang: Lang, text: string): Extracted {
  return EXTRACTORS[lang](text);
}
