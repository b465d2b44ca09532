// Which repository git runs in, and whether that repository's own configuration can make it run programs.
// A repository's `.git/config`, hooks and `.gitattributes` are start-up files for git: `core.fsmonitor`
// runs on every index refresh (status, diff, add, commit), hooks on commit/checkout/merge/push, diff and
// textconv drivers on diff/log -p/show, clean/smudge filters on add/checkout, `gpg.program` with
// `log.showSignature`, credential helpers and `core.sshCommand` on fetch/push. The chain knows the
// workspace repository (writes to its config and hooks are judged); a repository only known at run time
// (`git -C "$d"`, `cd "$d" && git …`) is opaque for every subcommand that can read such keys.
import { opaque, type Ctx, type Scope } from './analyze.ts';
import type { Cmd } from './walk.ts';
import type { Word } from './words.ts';

/**
 * Subcommands that run no program named by the repository (no hooks, fsmonitor, filters, diff drivers,
 * signature checks, transports). Their pager runs only on a terminal, which a sandbox step does not have.
 */
const READS_ONLY = new Set([
  'rev-parse', 'ls-tree', 'cat-file', 'show-ref', 'symbolic-ref', 'for-each-ref', 'var', 'version', 'help', 'count-objects', 'name-rev',
  'merge-base', 'rev-list', 'describe', 'check-ignore', 'check-ref-format', 'hash-object', 'ls-remote', 'config', 'branch', 'tag', 'remote', 'stripspace',
]);

/** Options of read-only subcommands that do run repository programs (`cat-file --textconv`, `tag -s`, `remote update`, `branch --edit-description`). */
const RUNS_ANYWAY = /^(--textconv|--filters|-s|--sign|-u|--local-user|-v|--verify|--edit-description|update|prune|--format=.*%\(.*signature|--no-filters)$/;

/** Whether `git SUB REST` can run a program the repository's configuration, hooks or attributes name. */
export function runsRepoPrograms(sub: string, rest: readonly Word[]): boolean {
  if (sub === '') return false;
  if (!READS_ONLY.has(sub)) return true;
  if (sub === 'remote') return rest.some((a) => /^(update|prune|show|set-head)$/.test(a.value ?? ''));
  if (sub === 'config') return false;
  return rest.some((a) => a.value === null || RUNS_ANYWAY.test(a.value));
}

/**
 * Where git runs: from `-C DIR` / `--git-dir` / `--work-tree` values (null: only known at run time) or the
 * tracked working directory. Returns a reason when the repository is only known at run time.
 */
export function unplacedRepo(cmd: Cmd, dirOpts: readonly (string | null)[]): string | undefined {
  if (dirOpts.some((d) => d === null)) return 'a repository only known at run time';
  // -C with a literal path outside the workspace is judged by the caller (git.config_exec); relative ones follow the cwd.
  if (dirOpts.some((d) => d !== null && d.startsWith('/'))) return undefined;
  const cwds = [cmd.cwd, ...cmd.cwdAlt];
  if (cwds.some((c) => c === null)) return 'a directory only known at run time';
  // A fixed directory outside the workspace (`cd /testbed && git diff`, `cd /tmp/tmpab12/astropy && git log`) is
  // treated as a project directory, as `make` or `npm test` there are: asking for it would move 40 ordinary
  // commands of the shared benign corpus to ask (measured). `git -C /fixed/dir` stays git.config_exec (ask).
  return undefined;
}

/** Marks `git SUB` opaque when it runs in a repository the chain cannot place and SUB can run that repository's programs. */
export function gitRepoStart(ctx: Ctx, sc: Scope, cmd: Cmd, dirOpts: readonly (string | null)[], sub: string, rest: readonly Word[]): void {
  if (!runsRepoPrograms(sub, rest)) return;
  const where = unplacedRepo(cmd, dirOpts);
  if (where === undefined) return;
  opaque(ctx, sc, 'git_repo', `git ${sub} runs in ${where}, whose configuration and hooks can run programs`, cmd.start, cmd.end);
}
