import type { KeyedCap } from './spec.ts';

/**
 * git configuration keys that make git run something, in one place for the three ways a key reaches
 * git: `git -c` / `--config-env` (the capability table and `analyze.ts`), `git config KEY VALUE` (and the
 * newer `git config set KEY VALUE`), and the environment (`GIT_CONFIG_KEY_<n>`, `GIT_CONFIG_PARAMETERS`).
 *
 * Why a shape rule and not a list: git keeps adding keys that run programs (`hook.<name>.command`,
 * `trailer.<token>.cmd`, `gpg.ssh.defaultKeyCommand`, `core.alternateRefsCommand`, …), and each list that
 * named them one by one fell behind a different way. A key runs a program when its last segment names
 * one (`*.cmd`, `*.command`, `*.program`, `*.helper`, `*.driver`, `*.pager`, `*.editor`, …), when its
 * section is one whose every key runs (`pager.*`, `instaweb.*`), or for the value forms git gives a
 * shell (`alias.*` and `submodule.*.update` starting with `!`). Keys that load configuration, hooks or
 * trust from elsewhere are listed apart: they run nothing themselves but change what later git runs.
 */

/** Last segments of a key whose value is a program or shell line git runs. */
const RUN_SUFFIXES = [
  'cmd', 'command', 'program', 'helper', 'driver', 'pager', 'editor', 'textconv', 'process', 'clean', 'smudge',
  'askpass', 'sshcommand', 'gitproxy', 'fsmonitor', 'packobjectshook', 'uploadpack', 'receivepack', 'browser',
  'httpd', 'difffilter', 'alternaterefscommand', 'defaultkeycommand', 'sendmailcmd', 'tocmd', 'cccmd', 'headercmd',
  'external', 'smtpserver', 'vcs', 'proxycommand',
] as const;

const RUN_KEY_SRC = [
  `(?:[^=]*\\.)?(?:${RUN_SUFFIXES.join('|')})`,
  // A helper program's path (`difftool.<tool>.path` is the difftool binary).
  '(?:browser|man|difftool|mergetool)\\.[^=]+\\.path',
  'pager\\.[^=]+',
  'instaweb\\.[^=]+',
].join('|');

/** Keys whose value is a shell line only when it starts with `!` (git runs the rest through the shell). */
const BANG_KEY_SRC = 'alias\\.[^=]+|submodule\\.[^=]+\\.update';

/** Keys that point git at configuration, hooks, templates, a work tree or transports to trust. */
const LOAD_KEY_SRC =
  'core\\.(?:hookspath|worktree)|include\\.path|includeif\\.[^=]+|init\\.templatedir|protocol\\.[^=]*allow|uploadpack\\.[^=]+|receivepack\\.[^=]+|' +
  'https?\\.(?:[^=]+\\.)?(?:proxy|sslverify|sslcainfo|sslcapath)|url\\.[^=]+\\.(?:push)?insteadof|remote\\.[^=]+\\.proxy|safe\\.directory';

const RUN_KEY = new RegExp(`^(?:${RUN_KEY_SRC})$`, 'i');
const BANG_KEY = new RegExp(`^(?:${BANG_KEY_SRC})$`, 'i');
const LOAD_KEY = new RegExp(`^(?:${LOAD_KEY_SRC})$`, 'i');

/** What setting one git key does: `run` (the value is a program or shell line), `load`, or nothing. */
export type GitKeyEffect = 'run' | 'load' | null;

/**
 * What setting `key` to `value` makes git do. `value` null: only known at run time; a `!`-form key then
 * counts as `run` (it may start with `!`). Values that name a git transport git executes (`ext::`) run.
 */
export function gitKeyEffect(key: string, value: string | null): GitKeyEffect {
  const k = key.trim();
  if (BANG_KEY.test(k)) return value === null || value.trimStart().startsWith('!') ? 'run' : null;
  if (RUN_KEY.test(k)) return 'run';
  if (LOAD_KEY.test(k)) return 'load';
  if (value !== null && /^\s*(ext|fd)::/i.test(value)) return 'run';
  return null;
}

/** Whether git runs the value of `key` (any value), for callers that judge the key alone. */
export function gitKeyRuns(key: string): boolean {
  return RUN_KEY.test(key.trim()) || BANG_KEY.test(key.trim());
}

/** Whether `key` points git at code, configuration or trust from elsewhere. */
export function gitKeyLoads(key: string): boolean {
  return LOAD_KEY.test(key.trim());
}

/**
 * Keyed capabilities over `key=value` text for the capability table (`git -c`): the value of a running key
 * is a shell line (`!` stripped), a loading key's value a script git reads.
 */
export const GIT_CONFIG_KEYS: KeyedCap = {
  keys: [
    [new RegExp(`^(?:${BANG_KEY_SRC})\\s*=\\s*!([\\s\\S]*)$`, 'i'), 'shell'],
    [new RegExp(`^(?:${RUN_KEY_SRC})\\s*=\\s*!?([\\s\\S]*)$`, 'i'), 'shell'],
    [/^[^=]+=\s*ext::([\s\S]*)$/i, 'shell'],
    [/^(?:core\.hookspath|include\.path|includeif\.[^=]+\.path|init\.templatedir)\s*=\s*([\s\S]*)$/i, 'script'],
  ],
};
