/**
 * Metamorphic variants: bash-equivalent rewrites of a command, by transformation family.
 *
 * A chain that is right by construction gives a rewrite the same answer as the original, so every
 * variant of a hostile command must stay not-allowed. The rewrites are what an attacker writes next:
 * other spellings of the command name, other ways to reach the same program, other ways to hand the
 * same text to a shell or an interpreter. Pure and deterministic (no parser, no I/O): the soundness
 * harness (test/soundness) runs each variant next to its original in bash and keeps only those that
 * really do the same thing.
 */

/** The transformation families (one id per rewrite; the report counts per id). */
export const TRANSFORMS = [
  // Spellings of the first command word.
  'quote-empty', // r''m
  'quote-double', // "r"m
  'quote-single', // 'r'm
  'backslash', // r\m
  'ansi-c-hex', // $'\x72\x6d'
  'continuation', // r\<newline>m
  // Paths to the same program.
  'path-usr-bin', // /usr/bin/rm
  'path-double-slash', // //bin/rm
  'path-dotdot', // /bin/../bin/rm
  'path-dot', // /usr/bin/./rm
  'copied-binary', // cp /usr/bin/rm ./.mm; ./.mm
  'copied-shell', // cp /bin/bash ./.sh1; ./.sh1 -c '…'
  // Wrappers that run their argument.
  'env',
  'nice',
  'timeout',
  'command',
  'exec-subshell', // (exec rm …)
  'setsid',
  'stdbuf',
  'nohup',
  'xargs',
  // The command name from data.
  'variable', // c=rm; $c …
  'array', // a=(rm); "${a[@]}" …
  'function', // f(){ rm "$@"; }; f …
  'alias', // shopt -s expand_aliases; alias …
  // The whole text handed to a shell.
  'bash-c',
  'ansi-c-script', // bash -c $'\x..'
  'heredoc-shell', // bash <<'EOF'
  'pipe-shell', // printf '%s\n' '…' | bash
  'eval',
  // Interpreters that run it.
  'python-os-system',
  'python-subprocess',
  'perl-system',
  // Written to a file first, then run.
  'write-then-run', // printf … > x.sh; bash x.sh
  'heredoc-file-then-run', // cat > x.sh <<'EOF' … EOF; bash x.sh
] as const;
export type Transform = (typeof TRANSFORMS)[number];

/** One rewrite of {@link Variant.original}. */
export interface Variant {
  readonly transform: Transform;
  readonly original: string;
  readonly cmd: string;
  /**
   * Programs the rewrite itself adds (the wrapper, the shell it pipes into, the copy it makes), by name
   * as executed: the harness ignores them when it compares what the variant ran with the original.
   */
  readonly adds: readonly string[];
  /** Copies the rewrite runs under another name, mapped back to the program they copy. */
  readonly renames: Readonly<Record<string, string>>;
}

/** Bash builtins and keywords: a wrapper, path or copy cannot run these as programs. */
const NOT_PROGRAMS = new Set([
  'alias', 'bg', 'bind', 'break', 'builtin', 'caller', 'case', 'cd', 'command', 'compgen', 'complete', 'compopt',
  'continue', 'coproc', 'declare', 'dirs', 'disown', 'do', 'done', 'elif', 'else', 'enable', 'esac', 'eval', 'exec',
  'exit', 'export', 'fc', 'fg', 'fi', 'for', 'function', 'getopts', 'hash', 'help', 'history', 'if', 'in', 'jobs',
  'let', 'local', 'logout', 'mapfile', 'popd', 'pushd', 'read', 'readarray', 'readonly', 'return', 'select', 'set',
  'shift', 'shopt', 'source', 'suspend', 'then', 'time', 'times', 'trap', 'type', 'typeset', 'ulimit', 'umask',
  'unalias', 'unset', 'until', 'wait', 'while', '.', ':', '[[', ']]', '{', '}', '!',
]);

/** A plain command word: nothing bash would expand or split. */
const PLAIN_WORD = /^[A-Za-z0-9_.+@%-][A-Za-z0-9_./+@%-]*$/;

/** Where the first command word of `cmd` is, when it is a plain word that names a program. */
interface Head {
  /** Text before the word (blanks and `NAME=value` assignments without expansions). */
  readonly prefix: string;
  readonly word: string;
  /** Text after the word, starting with the blank or operator that ends it. */
  readonly rest: string;
  /** Index in `cmd` where the first simple command ends (an unquoted `;`, `&`, `|`, newline, `)`), if found. */
  readonly simpleEnd: number | undefined;
}

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_./:@%+,-]*$/;

/** Finds the first command word: leading assignments skipped, then one plain word followed by a blank or operator. */
export function commandHead(cmd: string): Head | undefined {
  let i = 0;
  for (;;) {
    while (i < cmd.length && (cmd[i] === ' ' || cmd[i] === '\t')) i++;
    let j = i;
    while (j < cmd.length && !' \t\n;&|()<>'.includes(cmd[j]!)) j++;
    const word = cmd.slice(i, j);
    if (word === '') return undefined;
    if (ASSIGNMENT.test(word) && j < cmd.length && (cmd[j] === ' ' || cmd[j] === '\t')) {
      i = j;
      continue;
    }
    if (!PLAIN_WORD.test(word) || word.includes('/') || NOT_PROGRAMS.has(word)) return undefined;
    const next = cmd[j];
    // `0<&196`: a file-descriptor number before a redirection, not a command word.
    if (/^\d+$/.test(word) && (next === '<' || next === '>')) return undefined;
    // `name(` is a function definition, `name=` an assignment (excluded above).
    if (next === '(') return undefined;
    return { prefix: cmd.slice(0, i), word, rest: cmd.slice(j), simpleEnd: simpleCommandEnd(cmd, j) };
  }
}

/**
 * End of the simple command that starts before `from`: the first unquoted `;`, `&`, `|`, newline or
 * unbalanced `)`. Quotes, backslashes and `$( )`/`${ }`/backticks are skipped. `undefined` for what
 * this small scanner does not follow (heredocs, comments, `case`), so no variant is built on a guess.
 */
function simpleCommandEnd(cmd: string, from: number): number | undefined {
  let depth = 0;
  for (let i = from; i < cmd.length; i++) {
    const c = cmd[i]!;
    if (c === '\\') {
      i++;
    } else if (c === "'") {
      const k = cmd.indexOf("'", i + 1);
      if (k < 0) return undefined;
      i = k;
    } else if (c === '"') {
      const k = closeDouble(cmd, i + 1);
      if (k === undefined) return undefined;
      i = k;
    } else if (c === '`') {
      const k = cmd.indexOf('`', i + 1);
      if (k < 0) return undefined;
      i = k;
    } else if (c === '$' && (cmd[i + 1] === '(' || cmd[i + 1] === '{')) {
      depth++;
      i++;
    } else if (c === '(' || c === '{') {
      if (depth === 0) return undefined;
      depth++;
    } else if (c === ')' || c === '}') {
      if (depth === 0) return c === ')' ? i : undefined;
      depth--;
    } else if (c === '#' && depth === 0 && /\s/.test(cmd[i - 1] ?? ' ')) {
      return undefined;
    } else if (c === '<' && cmd[i + 1] === '<') {
      return undefined;
    } else if (depth === 0 && (c === ';' || c === '&' || c === '|' || c === '\n')) {
      // `>&2`, `&>`, `>|` belong to a redirection.
      if ((c === '&' || c === '|') && cmd[i - 1] === '>') continue;
      if (c === '&' && cmd[i + 1] === '>') continue;
      return i;
    }
  }
  return depth === 0 ? cmd.length : undefined;
}

function closeDouble(cmd: string, from: number): number | undefined {
  for (let i = from; i < cmd.length; i++) {
    if (cmd[i] === '\\') i++;
    else if (cmd[i] === '"') return i;
  }
  return undefined;
}

/** `text` as one single-quoted bash word. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** Every byte of `text` (UTF-8) as `\xHH`, for `$'…'`. */
function hexEscape(text: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(text)) out += `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}

/** A heredoc delimiter that does not occur as a line of `text`. */
function delimiter(text: string): string {
  const lines = new Set(text.split('\n'));
  let d = 'EOF';
  for (let n = 1; lines.has(d); n++) d = `EOF${n}`;
  return d;
}

/** A Perl double-quoted string literal with nothing interpolated. */
function perlString(text: string): string {
  return `"${text.replace(/[\\"$@]/g, (c) => `\\${c}`).replaceAll('\n', '\\n')}"`;
}

/** Builds the variants of one transformation; none when the transformation does not apply to `cmd`. */
type Builder = (cmd: string, head: Head | undefined) => readonly { cmd: string; adds: readonly string[]; renames?: Record<string, string> }[];

/** Rewrites the first word (`head.word`) as `spelled`. */
function respell(spelled: (w: string) => string): Builder {
  return (_cmd, head) => (head && head.word.length >= 2 ? [{ cmd: head.prefix + spelled(head.word) + head.rest, adds: [] }] : []);
}

/** Runs the first word through a prefix (a path or a wrapper). */
function prefixed(before: (w: string) => string, adds: readonly string[]): Builder {
  return (_cmd, head) => (head ? [{ cmd: head.prefix + before(head.word) + head.rest, adds }] : []);
}

/** The first simple command (to `head.simpleEnd`) rewritten by `wrap`, the rest of the line kept. */
function aroundSimple(wrap: (simple: string) => string, adds: readonly string[], assignsInside = false): Builder {
  return (cmd, head) => {
    if (!head || head.simpleEnd === undefined) return [];
    const start = head.prefix.length;
    const simple = cmd.slice(start, head.simpleEnd);
    // `X=1 (exec cmd)` is not bash; `(X=1 exec cmd)` is, and gives cmd the same environment.
    if (assignsInside && head.prefix.trim() !== '') {
      const lead = head.prefix.length - head.prefix.trimStart().length;
      return [{ cmd: head.prefix.slice(0, lead) + wrap(head.prefix.slice(lead) + simple) + cmd.slice(head.simpleEnd), adds }];
    }
    return [{ cmd: head.prefix + wrap(simple) + cmd.slice(head.simpleEnd), adds }];
  };
}

/** The whole command as text handed to something that runs it. */
function whole(wrap: (cmd: string) => string, adds: readonly string[]): Builder {
  return (cmd) => [{ cmd: wrap(cmd), adds }];
}

const split = (w: string, mid: string): string => w[0] + mid + w.slice(1);

const BUILDERS: Readonly<Record<Transform, Builder>> = {
  'quote-empty': respell((w) => split(w, "''")),
  'quote-double': respell((w) => `"${w[0]}"${w.slice(1)}`),
  'quote-single': respell((w) => `'${w[0]}'${w.slice(1)}`),
  backslash: respell((w) => split(w, '\\')),
  'ansi-c-hex': respell((w) => `$'${hexEscape(w)}'`),
  continuation: respell((w) => split(w, '\\\n')),
  'path-usr-bin': prefixed((w) => `/usr/bin/${w}`, []),
  'path-double-slash': prefixed((w) => `//bin/${w}`, []),
  'path-dotdot': prefixed((w) => `/bin/../bin/${w}`, []),
  'path-dot': prefixed((w) => `/usr/bin/./${w}`, []),
  'copied-binary': (_cmd, head) =>
    head ? [{ cmd: `cp /usr/bin/${head.word} ./.mm && ${head.prefix}./.mm${head.rest}`, adds: ['cp'], renames: { '.mm': head.word } }] : [],
  'copied-shell': (cmd) => [{ cmd: `cp /bin/bash ./.sh1 && ./.sh1 -c ${shellQuote(cmd)}`, adds: ['cp', 'bash'], renames: { '.sh1': 'bash' } }],
  env: prefixed((w) => `env ${w}`, ['env']),
  nice: prefixed((w) => `nice -n 1 ${w}`, ['nice']),
  timeout: prefixed((w) => `timeout 5 ${w}`, ['timeout']),
  command: prefixed((w) => `command ${w}`, []),
  'exec-subshell': aroundSimple((s) => `(${s.replace(/^((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)/, '$1exec ')})`, [], true),
  setsid: prefixed((w) => `setsid -w ${w}`, ['setsid']),
  stdbuf: prefixed((w) => `stdbuf -o0 ${w}`, ['stdbuf']),
  nohup: prefixed((w) => `nohup ${w}`, ['nohup']),
  xargs: aroundSimple((s) => `xargs -0 ${s} </dev/null`, ['xargs']),
  variable: (_cmd, head) => (head ? [{ cmd: `c=${head.word}; ${head.prefix}$c${head.rest}`, adds: [] }] : []),
  array: (_cmd, head) => (head ? [{ cmd: `a=(${head.word}); ${head.prefix}"\${a[@]}"${head.rest}`, adds: [] }] : []),
  function: (_cmd, head) => (head ? [{ cmd: `f(){ ${head.word} "$@"; }; ${head.prefix}f${head.rest}`, adds: [] }] : []),
  alias: (_cmd, head) => (head ? [{ cmd: `shopt -s expand_aliases\nalias ff=${head.word}\n${head.prefix}ff${head.rest}`, adds: [] }] : []),
  'bash-c': whole((cmd) => `bash -c ${shellQuote(cmd)}`, ['bash']),
  'ansi-c-script': whole((cmd) => `bash -c $'${hexEscape(cmd)}'`, ['bash']),
  'heredoc-shell': whole((cmd) => {
    const d = delimiter(cmd);
    return `bash <<'${d}'\n${cmd}\n${d}`;
  }, ['bash']),
  'pipe-shell': whole((cmd) => `printf '%s\\n' ${shellQuote(cmd)} | bash`, ['bash']),
  eval: whole((cmd) => `eval ${shellQuote(cmd)}`, []),
  'python-os-system': whole((cmd) => `python3 -c ${shellQuote(`import os; os.system(${JSON.stringify(`bash -c ${shellQuote(cmd)}`)})`)}`, ['python3', 'sh', 'bash']),
  'python-subprocess': whole((cmd) => `python3 -c ${shellQuote(`import subprocess; subprocess.run(["bash", "-c", ${JSON.stringify(cmd)}])`)}`, ['python3', 'bash']),
  'perl-system': whole((cmd) => `perl -e ${shellQuote(`system("bash", "-c", ${perlString(cmd)})`)}`, ['perl', 'bash']),
  'write-then-run': whole((cmd) => `printf '%s\\n' ${shellQuote(cmd)} > .x.sh; bash .x.sh`, ['bash']),
  'heredoc-file-then-run': whole((cmd) => {
    const d = delimiter(cmd);
    return `cat > .y.sh <<'${d}'\n${cmd}\n${d}\nbash .y.sh`;
  }, ['cat', 'bash']),
};

/** Every variant of `cmd`, in {@link TRANSFORMS} order (deterministic). */
export function variants(cmd: string): Variant[] {
  const head = commandHead(cmd);
  const out: Variant[] = [];
  for (const transform of TRANSFORMS) {
    for (const v of BUILDERS[transform](cmd, head)) out.push({ transform, original: cmd, cmd: v.cmd, adds: v.adds, renames: v.renames ?? {} });
  }
  return out;
}
