/**
 * Types of the capability table: what a tool's options, subcommands and
 * positional arguments can do. The table itself is data (`table.ts`); it is
 * compiled once at module load (`scan.ts`) and applied per command
 * (`apply.ts`).
 */

/**
 * What one option value (or positional) does.
 * - `shell`: the value is a shell command line (`tar -I 'sh -c …'`, `rsync -e …`).
 * - `program`: the value names a program to run, possibly with arguments (`man -P less`). Analysed like `shell`.
 * - `argv`: the option starts an argv tail that is run (`find -exec cmd … ;` ends at `;`/`+`).
 * - `script`: the value is a file whose contents the tool executes (`make -f`, `gdb -x`, `vim -S`).
 * - `bang`: text in the tool's own command language, where some commands run shell commands (`vim -c ':!…'`,
 *   `sqlite3 '.shell …'`, `psql -c '\! …'`); the language is given by the entry's `lang`.
 * - `code`: program text in a language the chain does not parse for this tool (`make --eval`, `rpm --eval`).
 * - `library`: the value is native code the tool loads (`openssl -engine`, `ssh-keygen -D`).
 * - `read` / `write`: a file read / written. `net`: a host or URL contacted.
 * - `value`: takes a value with no capability (needed to find positionals). `flag`: takes no value.
 * - `noexec`: a flag that switches the tool to a mode that runs nothing (`command -v`); `pid`: the same, with a
 *   value (`taskset -p PID`, `prlimit --pid PID`).
 * - `unsafe`: a flag after which the tool runs code the chain cannot see (`dpkg -i` runs maintainer scripts,
 *   `latex --shell-escape`); the command is opaque.
 * - `argvmode`: a flag that makes `wordsAt` positionals an argv instead of a shell line (`watch -x`), and selects
 *   `modeArgvAt` (`runuser -u USER cmd…`).
 * - `value2`: takes two values (`bwrap --bind SRC DEST`).
 * - `bangrest`: every following word is `bang` text (`screen -X stuff …`).
 *
 * A spelling ending in `?` takes an optional attached value (`--opt=v`, `-ov`); one ending in `=` gives a flag-like
 * capability (`noexec`, `argvmode`, `unsafe`) a required value.
 */
export const CAPS = ['shell', 'program', 'argv', 'script', 'bang', 'code', 'library', 'read', 'write', 'net', 'value', 'flag', 'noexec', 'pid', 'unsafe', 'argvmode', 'value2', 'bangrest'] as const;
export type Cap = (typeof CAPS)[number];

/** Capabilities that make a tool run something. */
export const EXEC_CAPS: ReadonlySet<Cap> = new Set<Cap>(['shell', 'program', 'argv', 'script', 'bang', 'code', 'library', 'unsafe', 'bangrest']);

/**
 * An option whose value is `key=value` (or `key value`) settings, some keys of which run programs
 * (`ssh -o ProxyCommand=…`, `tar --checkpoint-action=exec=…`, `apt-get -o APT::Update::Pre-Invoke::=…`).
 */
export interface KeyedCap {
  /**
   * Regexes over the whole setting text, each capturing the part that has the capability in group 1
   * (`/^proxycommand\s*[=\s]\s*(.*)$/is`), and what that part does. The first match wins; no match: a plain value.
   */
  readonly keys: readonly (readonly [RegExp, Cap])[];
}

export type OptCap = Cap | KeyedCap;

/**
 * Command languages that `bang` values are written in. Each has an extractor in `lang.ts` that returns the shell
 * commands the text runs and whether anything else in it could run code the chain cannot see.
 */
export const LANGS = ['ex', 'gdb', 'sqlite', 'psql', 'mysql', 'bangline', 'less', 'm4', 'make', 'elisp', 'rpm', 'tcl', 'calls', 'keys', 'tmux', 'screen'] as const;
export type Lang = (typeof LANGS)[number];

/** How positional arguments are used. Indices count positionals (after options are removed). */
export interface PosSpec {
  /** Positional `argvAt` and everything after it is a command that is run (option parsing stops there). */
  readonly argvAt?: number;
  /** Used instead of `argvAt` once an `argvmode` option was seen. */
  readonly modeArgvAt?: number;
  /** Positional `shellAt` is a shell command line. */
  readonly shellAt?: number;
  /** Positionals from `wordsAt` on are joined with blanks and run as a shell command line (`ssh host cmd…`, `watch`). */
  readonly wordsAt?: number;
  /** Positionals from `bangAt` on are text in the entry's `lang`. */
  readonly bangAt?: number;
  /** Positionals from `keysAt` on are keys typed into a terminal (`tmux send-keys`; language `keys`). */
  readonly keysAt?: number;
  /** Positional `scriptAt` is a file the tool executes. */
  readonly scriptAt?: number;
  /** Positional `netAt` is a host or URL. */
  readonly netAt?: number;
  /** Leading `NAME=value` positionals are environment assignments (`sudo FOO=1 cmd`). */
  readonly assigns?: boolean;
  /** When the positional at `argvAt` is one of these words, the next word is a shell string (`flock FILE -c cmd`). */
  readonly shellFlagAtArgv?: readonly string[];
  /** A word beginning with this prefix is `bang` text wherever it stands (`vim +':!cmd'`, `less '+!cmd'`). */
  readonly plusBang?: boolean;
  /** Positional `libraryAt` is native code the tool loads (`openssl engine PATH`). */
  readonly libraryAt?: number;
  /** Every positional is a setting read with these keys (`socat EXEC:… TCP:…`, `make SHELL=…`). */
  readonly keyed?: KeyedCap;
  /** The head of the argv names a package (`npx pkg@1 args`): it is run under its bare name. */
  readonly packageHead?: boolean;
  /** With no command to run, the tool starts a shell that reads commands from its standard input. */
  readonly defaultShell?: boolean;
  /**
   * GNU parallel: positionals before `:::`/`::::` form a shell command line; without them each argument after
   * `:::` is a command line of its own, and without either, commands come from standard input.
   */
  readonly parallel?: boolean;
}

/** A subcommand (`docker run`, `kubectl exec`, `tmux new-session`). */
export interface SubEntry {
  /** Options of the subcommand. Options of the tool itself are also accepted after the subcommand. */
  readonly opts?: Readonly<Record<string, OptCap>>;
  readonly pos?: PosSpec;
  /** Unknown options of this subcommand are opaque (default: the tool's `exec`). */
  readonly strict?: boolean;
  /** The subcommand itself runs something (documentation; `exec` flag in tests). */
  readonly exec?: boolean;
}

/** A hostile example generated into a test: `{P}` is replaced by the payload (a shell command line). */
export interface HostileExample {
  /** Command with `{P}` where the payload goes (quoted by the test for the form it needs). */
  readonly cmd: string;
  /** Program name the test expects among the predicted executions (default: the payload's `sh`/`curl`). */
  readonly expectExec?: string;
}

/** One tool (with its aliases) in the table. */
export interface ToolEntry {
  readonly names: readonly string[];
  /** The tool can run other programs at all (execCapable). Unknown options of such tools are opaque. */
  readonly exec: boolean;
  /**
   * Option syntax: `gnu` (bundled short options, `--long[=value]`, unambiguous long prefixes), `single` (options
   * are whole words such as `-exec`, `-name`; no bundling), `plain` (short options only, bundled, no long ones).
   */
  readonly style?: 'gnu' | 'single' | 'plain';
  /** Unknown options are opaque (default: `exec`). False for tools whose option set is too open to list. */
  readonly strict?: boolean;
  /** Option spelling(s) (blank-separated) → what the option does. */
  readonly opts?: Readonly<Record<string, OptCap>>;
  readonly pos?: PosSpec;
  /** Subcommands: the first positional selects one. */
  readonly subs?: Readonly<Record<string, SubEntry>>;
  /** A positional equal to this word ends one tool command and starts the next (`tmux a \; b`). */
  readonly chainSep?: string;
  /** Language of `bang` values. */
  readonly lang?: Lang;
  /** Language of `code` values, when the chain can at least find the shell commands in it. */
  readonly codeLang?: Lang;
  /**
   * What the tool does with text on its standard input when no script is given: `lang` (commands in `lang`,
   * e.g. `sqlite3 db < cmds.sql`). Ignored when a `script`/`bang` value was given.
   */
  readonly stdin?: 'lang' | 'shell';
  /**
   * Capabilities already enforced by older code in analyze.ts (named by the option or subcommand); the table
   * documents and tests them but the hook does not apply them twice.
   */
  readonly legacy?: readonly string[];
  /**
   * The command run gets items from the tool's input: `braces` (`{}`, `{/}`, `{.}`… stand for an item: find, fd,
   * parallel, which appends items when no placeholder is used), `xargs` (the `-I` string, else items appended).
   */
  readonly items?: 'braces' | 'xargs';
  /** Commands the chain must keep allowing (tested). */
  readonly benign: readonly string[];
  /** Commands using each execution capability with a hostile payload (tested: never allowed). */
  readonly hostile: readonly (string | HostileExample)[];
}
