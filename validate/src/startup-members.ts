// Members of the start-up-file family: every way of starting a shell that reads login profiles, rc files or
// BASH_ENV/ENV, crossed with ordinary inner commands. Shared by the unit test (startup-families.test.ts)
// and the soundness run in real bash (test/integration/soundness-startup.test.ts).

/** Ordinary inner commands (what agents run inside `bash -lc`). */
export const INNER: readonly string[] = ['true', 'ls -la', 'git status --short', 'echo hello'];

/** Ways of starting a login shell, with `{C}` for the inner command (single-quote free). */
export const LOGIN_STARTS: readonly string[] = [
  "bash -lc '{C}'", "bash -l -c '{C}'", "bash --login -c '{C}'", "bash -l -e -c '{C}'", "bash -le -c '{C}'", "bash -cl '{C}'",
  "sh -lc '{C}'", "sh -l -c '{C}'", "dash -l -c '{C}'", "/bin/bash -lc '{C}'", "/usr/bin/env bash -lc '{C}'",
  "env -i bash -l -c '{C}'", "env -i PATH=/usr/bin:/bin bash --login -c '{C}'", "timeout 20 bash -lc '{C}'", "nice -n 5 bash --login -c '{C}'",
  "exec -l bash -c '{C}'", "exec -a -bash bash -c '{C}'", "(exec -l sh -c '{C}')", "exec -c -l bash -c '{C}'",
  "echo '{C}' | bash -l", "bash -l <<< '{C}'", "bash -l <<'EOF'\n{C}\nEOF",
  "bash -c \"bash -lc '{C}'\"", "sh -c \"bash --login -c '{C}'\"",
  "python3 -c 'import subprocess; subprocess.run([\"bash\", \"-lc\", \"{C}\"])'",
  "python3 -c 'import subprocess; subprocess.call([\"bash\", \"--login\", \"-c\", \"{C}\"])'",
  "python3 -c 'import os; os.execvp(\"bash\", [\"bash\", \"-lc\", \"{C}\"])'",
  "perl -e 'system(\"bash\", \"-lc\", \"{C}\")'",
  "bash -il -c '{C}'", "bash -l -i -c '{C}'",
];

/** Interactive shells and BASH_ENV/ENV: start-up files without a login (home files of the prepared home). */
export const OTHER_STARTS: readonly string[] = [
  "bash -i -c '{C}'", "sh -i -c '{C}'", "bash --posix -i -c '{C}'", "bash --norc -i -c '{C}'", "bash --rcfile ~/.profile -i -c '{C}'",
  "BASH_ENV=~/.bashrc bash -c '{C}'", "export BASH_ENV=~/.profile; bash -c '{C}'", "ENV=~/.profile sh -i -c '{C}'", "env BASH_ENV=~/.bashrc bash -c '{C}'",
  "bash --noprofile -l -c '{C}'", "zsh -c '{C}'", "ksh -lc '{C}'",
];

/** Every login start crossed with every inner command. */
export function loginMembers(): string[] {
  return LOGIN_STARTS.flatMap((s) => INNER.map((c) => s.replaceAll('{C}', c)));
}

/** Every start of the family (login, interactive, BASH_ENV/ENV) crossed with every inner command. */
export function startupMembers(): string[] {
  return [...LOGIN_STARTS, ...OTHER_STARTS].flatMap((s) => INNER.map((c) => s.replaceAll('{C}', c)));
}
