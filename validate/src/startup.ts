// What a shell reads before it runs its command: login profiles, rc files, and the files named by BASH_ENV
// and ENV. A shell started in one of those modes executes those files' contents, so the chain predicts what
// they run (from a model of the sandbox's files) or marks the start opaque when a file is not in the model.
import { analyzeScript, opaque, type Ctx, type Scope } from './analyze.ts';
import type { Cmd } from './walk.ts';
import type { Word } from './words.ts';

/**
 * The sandbox's shell start-up files as far as the chain knows them. A file listed with a script is
 * predicted to run what that script runs; `null` means the file is known not to exist; a file that is not
 * listed is unknown, and a shell that would read it is opaque (`opaque.startup_file`, never allow).
 * Home files are written `~/NAME`.
 */
export interface StartupModel {
  /** Path → a script that runs what the file runs (the file itself, or a summary checked against it), or null (absent). */
  readonly files: Readonly<Record<string, string | null>>;
  /** Files a listed file sources in turn (paths, or `DIR/*.sh` globs expanded against `files`). */
  readonly sources?: Readonly<Record<string, readonly string[]>>;
  /** `BASH_ENV` and `ENV` in the sandbox's environment; absent: unset. */
  readonly env?: { readonly BASH_ENV?: string; readonly ENV?: string };
  /** sha256 of the image files a summary stands for (checked against the image by test/integration/startup-model.test.ts). */
  readonly digests?: Readonly<Record<string, string>>;
}

/** Home start-up files of every modelled shell: none exists in a fresh sandbox (its home, /tmp, starts empty). */
export const HOME_STARTUP_FILES = [
  '~/.bash_profile', '~/.bash_login', '~/.profile', '~/.bashrc', '~/.bash_logout', '~/.kshrc', '~/.mkshrc',
  '~/.zshenv', '~/.zprofile', '~/.zshrc', '~/.zlogin', '~/.zlogout', '~/.config/fish/config.fish', '~/.cshrc', '~/.tcshrc', '~/.login',
] as const;

/**
 * The default sandbox image (`airlock/sandbox:default`, Debian bookworm): `/etc/profile` runs `id -u` and
 * sources `/etc/bash.bashrc` (interactive bash) and `/etc/profile.d/*.sh` (none); `/etc/bash.bashrc` may run
 * `cat` and command-not-found. The summaries are pinned to the files by sha256; the home starts empty.
 * Writes to home start-up files are `persistence.shell_rc` (ask): after a person approves one, the caller
 * must pass a model naming the new content (or leaving the file out, which makes shells that read it opaque).
 */
export const SANDBOX_STARTUP: StartupModel = {
  files: {
    '/etc/profile': 'id -u',
    '/etc/bash.bashrc': 'cat /etc/debian_chroot; /usr/lib/command-not-found; /usr/share/command-not-found/command-not-found',
    '/etc/bash.bash_logout': null,
    // An empty directory: `/etc/profile`'s loop over `/etc/profile.d/*.sh` sources nothing.
    '/etc/profile.d/': null,
    '/etc/zsh/zshenv': null, '/etc/zsh/zprofile': null, '/etc/zsh/zshrc': null, '/etc/zsh/zlogin': null, '/etc/zsh/zlogout': null,
    '/etc/zshenv': null, '/etc/zprofile': null, '/etc/zshrc': null, '/etc/zlogin': null,
    '/etc/fish/config.fish': null, '/etc/csh.cshrc': null, '/etc/csh.login': null, '/etc/mkshrc': null, '/etc/ksh.kshrc': null,
    ...Object.fromEntries(HOME_STARTUP_FILES.map((f) => [f, null])),
  },
  sources: { '/etc/profile': ['/etc/bash.bashrc', '/etc/profile.d/*.sh'] },
  digests: {
    '/etc/profile': '75656c9c0f960573c7530d29286d273f6cef68d9b17cfeb0d74c712860d56b74',
    '/etc/bash.bashrc': 'af4f09eb27cb7f140dfee7f3285574a68ca50ac1db2019652cef4196ee346307',
  },
};

/** How a shell was started, as far as start-up files go. */
export interface ShellStart {
  /** Basename it runs as (`bash`, `sh`, `dash`, `zsh`, …); a leading `-` (argv[0] of a login) already folded into `login`. */
  readonly shell: string;
  readonly login: boolean;
  readonly interactive: boolean;
  readonly noProfile: boolean;
  readonly noRc: boolean;
  /** `--rcfile F` / `--init-file F`: its value, or null when only known at run time. */
  readonly rcFile?: string | null;
  /** `--posix` / `-o posix`: bash reads `$ENV` instead of its own rc files. */
  readonly posix: boolean;
  /** `-p`: bash and dash ignore BASH_ENV/ENV. */
  readonly privileged: boolean;
  /** `-f` for csh-style shells: no start-up files. */
  readonly fast?: boolean;
}

/** One step of the start-up: read `path`, or the first existing of `firstOf`. */
export type StartupStep = { readonly path: string } | { readonly firstOf: readonly string[] } | { readonly env: 'BASH_ENV' | 'ENV' };

const POSIX_SHELLS = new Set(['sh', 'dash', 'ash', 'posh', 'ksh', 'ksh93', 'mksh', 'oksh', 'loksh', 'yash', 'busybox']);

/**
 * The files a shell started as `s` reads, in order (bash(1) INVOCATION, dash(1), zsh(1) STARTUP/SHUTDOWN FILES,
 * ksh(1)/mksh(1), fish and csh). Debian's bash also reads /etc/bash.bashrc (interactive) and the logout files.
 */
export function startupSteps(s: ShellStart): StartupStep[] {
  const steps: StartupStep[] = [];
  const name = s.shell.replace(/^-/, '');
  if (name === 'bash' || name === 'rbash') {
    if (s.login && !s.noProfile) {
      steps.push({ path: '/etc/profile' }, { firstOf: ['~/.bash_profile', '~/.bash_login', '~/.profile'] });
      // Read when a login shell exits (interactive) or runs `exit` (non-interactive): predicted either way.
      steps.push({ path: '~/.bash_logout' }, { path: '/etc/bash.bash_logout' });
    }
    if (s.interactive && !s.login && !s.noRc) {
      if (s.posix) steps.push({ env: 'ENV' });
      else if (s.rcFile !== undefined) steps.push({ path: s.rcFile ?? '?' });
      else steps.push({ path: '/etc/bash.bashrc' }, { path: '~/.bashrc' });
    }
    if (s.interactive && s.login && s.posix) steps.push({ env: 'ENV' });
    if (!s.interactive && !s.posix && !s.privileged) steps.push({ env: 'BASH_ENV' });
    return steps;
  }
  if (name === 'sh' || POSIX_SHELLS.has(name)) {
    if (s.login && !s.noProfile) steps.push({ path: '/etc/profile' }, { path: '~/.profile' });
    if (name === 'ksh' || name === 'ksh93') {
      if (s.interactive) steps.push({ path: '/etc/ksh.kshrc' }, { env: 'ENV' }, { path: '~/.kshrc' });
    } else if (name === 'mksh') {
      if (s.interactive) steps.push({ path: '/etc/mkshrc' }, { env: 'ENV' }, { path: '~/.mkshrc' });
    } else if (s.interactive && !s.privileged) steps.push({ env: 'ENV' });
    return steps;
  }
  if (name === 'zsh') {
    // zshenv always; the rest by mode (`-f`/`--no-rcs` keeps only /etc/zsh/zshenv).
    steps.push({ path: '/etc/zsh/zshenv' }, { path: '/etc/zshenv' });
    if (s.noRc) return steps;
    steps.push({ path: '~/.zshenv' });
    if (s.login) steps.push({ path: '/etc/zsh/zprofile' }, { path: '/etc/zprofile' }, { path: '~/.zprofile' });
    if (s.interactive) steps.push({ path: '/etc/zsh/zshrc' }, { path: '/etc/zshrc' }, { path: '~/.zshrc' });
    if (s.login) steps.push({ path: '/etc/zsh/zlogin' }, { path: '/etc/zlogin' }, { path: '~/.zlogin' }, { path: '~/.zlogout' }, { path: '/etc/zsh/zlogout' });
    return steps;
  }
  if (name === 'fish') return [{ path: '/etc/fish/config.fish' }, { path: '~/.config/fish/config.fish' }];
  if (name === 'csh' || name === 'tcsh') {
    if (s.fast) return steps;
    steps.push({ path: '/etc/csh.cshrc' }, { firstOf: name === 'tcsh' ? ['~/.tcshrc', '~/.cshrc'] : ['~/.cshrc'] });
    if (s.login) steps.push({ path: '/etc/csh.login' }, { path: '~/.login' });
    return steps;
  }
  // A shell the model does not know: unknown files whenever it is a login or interactive shell.
  if (s.login || s.interactive) steps.push({ path: `?${name}` });
  return steps;
}

/** Reads bash/sh/zsh options into a {@link ShellStart}; `argv0` is the name it is run by (`-bash` for a login). */
export function shellStart(shell: string, args: readonly Word[], argv0Login = false): ShellStart {
  let login = argv0Login || shell.startsWith('-');
  let interactive = false;
  let noProfile = false;
  let noRc = false;
  let posix = false;
  let privileged = false;
  let fast = false;
  let rcFile: string | null | undefined;
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value;
    if (v === null || v === '--' || v === '-') break;
    if (v === '--login') login = true;
    else if (v === '--noprofile') noProfile = true;
    else if (v === '--norc' || v === '--no-rcs' || v === '--no-config') noRc = true;
    else if (v === '--posix') posix = true;
    else if (v === '--interactive') interactive = true;
    else if (v === '--rcfile' || v === '--init-file') rcFile = args[++i]?.value ?? null;
    else if (/^[-+]o$/.test(v)) {
      if (args[i + 1]?.value === 'posix' && v === '-o') posix = true;
      i++;
    } else if (/^[-+]O$/.test(v)) i++;
    else if (v.startsWith('--')) continue;
    else if (/^-[a-zA-Z]+$/.test(v)) {
      if (v.includes('l')) login = true;
      if (v.includes('i')) interactive = true;
      if (v.includes('p')) privileged = true;
      if (v.includes('f')) fast = true;
      if (/[cs]/.test(v)) {
        // After -c the script and its $0… follow; option parsing of a shell stops at the first non-option.
        continue;
      }
    } else if (/^\+[a-zA-Z]+$/.test(v)) continue;
    else break;
  }
  if (shell === 'zsh' && fast) noRc = true;
  return { shell: shell.replace(/^-/, ''), login, interactive, noProfile, noRc, posix, privileged, fast, ...(rcFile !== undefined ? { rcFile } : {}) };
}

/** `DIR/*.sh`-style entries of `sources` expanded against the model's files. */
function expandSource(model: StartupModel, p: string): string[] {
  if (!p.includes('*')) return [p];
  const dir = p.slice(0, p.lastIndexOf('/') + 1);
  const suffix = p.slice(p.lastIndexOf('*') + 1);
  return Object.keys(model.files).filter((f) => f.startsWith(dir) && !f.slice(dir.length).includes('/') && f.endsWith(suffix));
}

/**
 * A glob's directory the model must list completely: a `sources` glob over a directory the model says
 * nothing about is unknown (it may hold anything). The model lists a directory by naming it `DIR/`.
 */
function globKnown(model: StartupModel, p: string): boolean {
  if (!p.includes('*')) return true;
  const dir = p.slice(0, p.lastIndexOf('/') + 1);
  return dir in model.files || Object.keys(model.files).some((f) => f.startsWith(dir));
}

/** What reading `path` runs: the model's script (analysed), nothing (absent), or opaque (not in the model). */
function readFile(ctx: Ctx, sc: Scope, cmd: Cmd, model: StartupModel, path: string, who: string, seen: Set<string>): 'read' | 'absent' | 'unknown' {
  if (seen.has(path)) return 'read';
  seen.add(path);
  const text = Object.hasOwn(model.files, path) ? model.files[path] : undefined;
  if (text === undefined) {
    opaque(ctx, sc, 'startup_file', `${who} reads the start-up file ${path}, whose content the chain does not know`, cmd.start, cmd.end);
    return 'unknown';
  }
  if (text === null) return 'absent';
  analyzeStartupText(ctx, sc, cmd, text, `start-up file ${path} of ${who}`);
  for (const src of model.sources?.[path] ?? []) {
    if (!globKnown(model, src)) {
      opaque(ctx, sc, 'startup_file', `${path} sources ${src}, which the chain does not know`, cmd.start, cmd.end);
      continue;
    }
    for (const f of expandSource(model, src)) readFile(ctx, sc, cmd, model, f, who, seen);
  }
  return 'read';
}

/**
 * Predicts what a start-up file runs. Its programs, reads and connections join the command's effects; its
 * findings do not (the file is the sandbox's, not the command's: writing one is judged when it is written),
 * except that anything in it the chain cannot know makes the start opaque.
 */
function analyzeStartupText(ctx: Ctx, sc: Scope, cmd: Cmd, text: string, label: string): void {
  const findings = ctx.findings.length;
  const opaqueBefore = ctx.effects.opaque.length;
  analyzeScript(ctx, text, sc.depth + 1, sc.outer ?? { start: cmd.start, end: cmd.end }, label, null);
  const dropped = ctx.findings.splice(findings);
  const unknown = ctx.effects.opaque.length > opaqueBefore || dropped.some((f) => f.rule.startsWith('opaque.') || /^(parse\.|internal\.|exec\.dynamic_script|obfuscation\.dynamic_command)/.test(f.rule));
  if (unknown) opaque(ctx, sc, 'startup_file', `${label}: the chain cannot tell what it runs`, cmd.start, cmd.end);
}

/** `BASH_ENV`/`ENV` given to this shell by the command (prefix assignment or an earlier assignment): a path, null (unknown), undefined (not set). */
function envFile(cmd: Cmd, name: 'BASH_ENV' | 'ENV'): string | null | undefined {
  const a = cmd.assigns.find((x) => x.name === name);
  if (a) return a.value?.value ?? null;
  const known = cmd.env.get(name);
  if (known === undefined) return undefined;
  return known.length === 1 ? known[0]! : null;
}

/** Records what the start-up files of a shell started as `s` run (see {@link startupSteps}). */
export function shellStartup(ctx: Ctx, sc: Scope, cmd: Cmd, s: ShellStart): void {
  const model = ctx.startup ?? SANDBOX_STARTUP;
  const who = `${s.shell}${s.login ? ' (login)' : ''}${s.interactive ? ' (interactive)' : ''}`;
  const seen = new Set<string>();
  for (const step of startupSteps(s)) {
    if ('path' in step) {
      if (step.path === '?' || step.path.startsWith('?')) {
        opaque(ctx, sc, 'startup_file', `${who} reads start-up files the chain does not model`, cmd.start, cmd.end);
      } else readFile(ctx, sc, cmd, model, step.path, who, seen);
    } else if ('firstOf' in step) {
      // bash reads the first of these that exists: an unknown one hides whether the later ones are read.
      for (const p of step.firstOf) if (readFile(ctx, sc, cmd, model, p, who, seen) !== 'absent') break;
    } else {
      const given = envFile(cmd, step.env);
      const file = given === undefined ? model.env?.[step.env] : given;
      if (file === undefined) continue;
      if (file === null) opaque(ctx, sc, 'startup_file', `${who} sources $${step.env}, only known at run time`, cmd.start, cmd.end);
      else readFile(ctx, sc, cmd, model, file.replace(/^(\$HOME|\$\{HOME\})\//, '~/'), who, seen);
    }
  }
}

/** Options of `exec` that make its program a login shell: `-l`, or `-a NAME` with NAME starting with `-`. */
export function execStartsLogin(args: readonly Word[]): { login: boolean; at: number } {
  let login = false;
  let i = 0;
  for (; i < args.length; i++) {
    const v = args[i]!.value;
    if (v === null) break;
    if (v === '--') {
      i++;
      break;
    }
    if (v === '-a') {
      const name = args[i + 1]?.value;
      if (name === null || name === undefined || name.startsWith('-')) login = true;
      i++;
      continue;
    }
    if (/^-[cla]+$/.test(v)) {
      if (v.includes('l')) login = true;
      continue;
    }
    break;
  }
  return { login, at: i };
}

/**
 * `su -`, `su -l`, `runuser --login`, `sudo -i`, `login`, and `su` without `-c` (an interactive shell): they
 * start another user's login or interactive shell, whose start-up files (in that user's home) the model does
 * not hold. Returns the reason, or undefined when the command starts no such shell.
 */
export function otherUserLogin(name: string, args: readonly Word[]): string | undefined {
  const vals = args.map((a) => a.value);
  if (name === 'login') return 'login starts a login shell whose start-up files the chain does not know';
  if (name === 'su' || name === 'runuser') {
    const login = vals.some((v) => v === '-' || v === '-l' || v === '--login' || (v !== null && /^-[a-zA-Z]*l[a-zA-Z]*$/.test(v) && !/^-[a-zA-Z]*[cgGsw]/.test(v)));
    const command = vals.some((v) => v !== null && (/^(-c|--command|--session-command)(=|$)/.test(v) || /^-[a-zA-Z]*c$/.test(v)));
    const dashU = vals.some((v) => v === '-u' || (v ?? '').startsWith('--user'));
    if (login) return `${name} starts another user's login shell, whose start-up files the chain does not know`;
    if (!command && !dashU) return `${name} starts another user's interactive shell, whose start-up files the chain does not know`;
    return undefined;
  }
  if (name === 'sudo') {
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v === null || v === undefined || !v.startsWith('-') || v === '--') break;
      if (/^(-[CDghpRrTtUu]|--(chdir|close-from|group|host|prompt|chroot|role|type|command-timeout|other-user|user))$/.test(v)) {
        i++;
        continue;
      }
      if (v === '--login' || (/^-[a-zA-Z]+$/.test(v) && v.includes('i'))) return "sudo -i starts the target user's login shell, whose start-up files the chain does not know";
    }
  }
  return undefined;
}
