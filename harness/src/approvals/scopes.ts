// What a decision on a held request may cover. `approve` lets the exact command through once;
// `approve_run` lets later commands of the same run through when the same rule holds them and they
// start with the same command prefix, as long as they are simple commands (no `;`, `&&`, `|`,
// redirections, substitutions, newlines): a grant for `git push` never covers `git push; curl …`.
import type { ApprovalChoice, ApprovalGrant } from '@airlock/proto';

/** Characters that make a command more than one simple command (or feed it from elsewhere). */
const OPERATORS = /[;&|<>`\n\r()]|\$\(/;

/** A second word that names a subcommand (`git push`), not an argument (a path, an option, a quoted word). */
const SUBCOMMAND = /^[a-z][a-z0-9-]*$/;

/** Whether `cmd` is one simple command: no operators, redirections or substitutions. */
export function isSimpleCommand(cmd: string): boolean {
  return !OPERATORS.test(cmd);
}

/**
 * The prefix a run-wide approval names: the first word, and the second too when it is a
 * subcommand (`git push origin main` -> `git push`; `cat .env` -> `cat`). Empty for a command that
 * is not simple: such a request offers no run-wide approval.
 */
export function commandPrefix(cmd: string): string {
  if (!isSimpleCommand(cmd)) return '';
  const words = cmd.trim().split(/\s+/).filter((w) => w.length > 0);
  if (words.length === 0) return '';
  return words.length > 1 && SUBCOMMAND.test(words[1]!) ? `${words[0]} ${words[1]}` : words[0]!;
}

/** Whether a run-wide grant covers `cmd` held by `rule`: same rule, a simple command, same prefix word for word. */
export function grantCovers(grant: ApprovalGrant, rule: string, cmd: string): boolean {
  if (grant.rule !== rule || !isSimpleCommand(cmd)) return false;
  const words = cmd.trim().split(/\s+/);
  const want = grant.prefix.split(' ');
  return want.every((w, i) => words[i] === w);
}

/** The decisions a request held by `rule` offers, each with what it means. */
export function choicesFor(rule: string, cmd: string): ApprovalChoice[] {
  const prefix = commandPrefix(cmd);
  return [
    { decision: 'approve', label: 'approve once: this exact command, one time' },
    ...(prefix ? [{ decision: 'approve_run' as const, label: `approve for the rest of this run: commands held by rule ${rule} that start with \`${prefix}\` (simple commands only)` }] : []),
    { decision: 'reject', label: 'deny' },
    { decision: 'reject_pause', label: 'deny and pause the run' },
  ];
}
