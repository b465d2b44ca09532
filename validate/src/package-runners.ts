// Package runners: tools that fetch a package (or use one already present) and run a program from it
// (`uvx ruff check .`, `uv tool run`, `pipx run`, `bunx`, `bun x`, `nix run nixpkgs#hello -- args`,
// `nix shell nixpkgs#jq -c jq .`). What they run is a command like any other, so the chain reads the
// runner's own options, finds the program and its arguments, and judges that argv as a command. A
// runner given code from a URL (`deno run https://…`, `nix run github:o/r`) runs code fetched from
// the network, which the default policy does not allow without a person.
import type { Word } from './words.ts';

/** The command a package runner will run: its program word (value = the program's name) and arguments. */
export interface RunnerArgv {
  readonly label: string;
  readonly head: Word;
  readonly rest: readonly Word[];
}

/** Where a runner is given code to run straight from a URL or a remote repository. */
export interface RemoteCode {
  readonly label: string;
  readonly word: Word;
}

/** Options of the runner that take a value (the value is the next word unless written `--opt=value`). */
const UV_VALUE = new Set([
  '--from', '--with', '-w', '--with-editable', '--with-requirements', '--python', '-p', '--index', '--default-index', '--index-url', '-i',
  '--extra-index-url', '--find-links', '-f', '--directory', '--project', '--cache-dir', '--constraints', '-c', '--overrides', '--env-file',
  '--python-preference', '--resolution', '--prerelease', '--index-strategy', '--keyring-provider', '--config-file', '--color',
  '--exclude-newer', '--refresh-package', '--reinstall-package', '--upgrade-package', '-P', '--config-setting', '-C', '--link-mode',
  '--no-build-package', '--no-binary-package', '--only-binary-package', '--allow-insecure-host', '--build-constraints', '--build-constraint',
]);
const PIPX_VALUE = new Set(['--spec', '--python', '--pip-args', '--index-url', '-i', '--backend', '--fetch-python']);
const BUNX_VALUE = new Set(['-p', '--package', '--registry', '--cwd', '--config', '-c']);
const NIX_VALUE = new Set([
  '--inputs-from', '--override-input', '--override-flake', '--expr', '--file', '-f', '--arg', '--argstr', '--option', '--include', '-I',
  '--profile', '--store', '--eval-store', '--log-format', '--reference-lock-file', '--output-lock-file', '--keep', '-k', '--unset', '-u',
  '--chdir', '--set-env-var', '-s', '--builders', '--max-jobs', '-j', '--cores',
]);
/** nix options that take two values. */
const NIX_VALUE2 = new Set(['--arg', '--argstr', '--option', '--override-input', '--override-flake', '--set-env-var', '-s']);

const isOpt = (w: Word): boolean => w.value !== null && w.value.startsWith('-') && w.value !== '-';

/** Index of the first positional at or after `from`, skipping options (and the values of `values`). */
function firstPositional(args: readonly Word[], from: number, values: ReadonlySet<string>, two: ReadonlySet<string> = new Set()): number {
  for (let i = from; i < args.length; i++) {
    const a = args[i]!;
    if (a.value === '--') return i + 1 < args.length ? i + 1 : -1;
    if (!isOpt(a)) return i;
    const v = a.value!;
    if (v.includes('=')) continue;
    if (two.has(v)) i += 2;
    else if (values.has(v)) i += 1;
  }
  return -1;
}

/** `ruff@0.6`, `@scope/tool@1`, `black==24.1`, `httpie[socks]`: the program a package of that spec provides by default. */
export function packageProgram(spec: string): string {
  const noScope = spec.startsWith('@') ? spec.slice(spec.indexOf('/') + 1) : spec;
  const at = noScope.indexOf('@');
  const bare = (at > 0 ? noScope.slice(0, at) : noScope).replace(/[[<>=!~;].*$/, '');
  return bare.replace(/[^\w.-]/g, '') || spec;
}

/** `nixpkgs#netcat`, `nixpkgs#python3Packages.httpie`, `github:o/r#tool`: the attribute's last name is the program nix runs. */
function nixProgram(installable: string): string | null {
  const hash = installable.indexOf('#');
  if (hash < 0) return null;
  const attr = installable.slice(hash + 1).split('.').pop() ?? '';
  return /^[\w.+-]+$/.test(attr) ? attr.replace(/-\d[\w.]*$/, '') : null;
}

/** A flake or script reference that is fetched from the network. */
const REMOTE = /^(https?|ftp):\/\/|^(github|gitlab|sourcehut|git\+https?|git\+ssh|tarball\+https?|file\+https?):|^git@/;

const named = (w: Word, value: string): Word => ({ ...w, value });

/** The command run by `name args` when `name` is a package runner, or null. */
export function runnerArgv(name: string, args: readonly Word[]): RunnerArgv | null {
  const sub = args[0]?.value ?? null;
  const fromPkg = (label: string, at: number, values: ReadonlySet<string>, program: (w: Word) => string): RunnerArgv | null => {
    const i = firstPositional(args, at, values);
    if (i < 0) return null;
    const head = args[i]!;
    if (head.value === null) return { label, head, rest: args.slice(i + 1) };
    return { label, head: named(head, program(head)), rest: args.slice(i + 1) };
  };
  // `--from PKG CMD` / `--spec PKG CMD`: the positional is the command itself, not a package.
  const hasOpt = (re: RegExp): boolean => args.some((a) => a.value !== null && re.test(a.value));
  switch (name) {
    case 'uvx':
      return fromPkg('uvx', 0, UV_VALUE, (w) => (hasOpt(/^--from(=|$)/) ? w.value! : packageProgram(w.value!)));
    case 'uv': {
      // `uv tool run …` (and `uv tool uvx …`): the same as uvx.
      const t = firstPositional(args, 0, UV_VALUE);
      if (t < 0 || args[t]!.value !== 'tool' || !/^(run|uvx)$/.test(args[t + 1]?.value ?? '')) return null;
      const inner = runnerArgv('uvx', args.slice(t + 2));
      return inner && { ...inner, label: 'uv tool run' };
    }
    case 'pipx':
      if (sub !== 'run') return null;
      return fromPkg('pipx run', 1, PIPX_VALUE, (w) => (hasOpt(/^--spec(=|$)/) ? w.value! : packageProgram(w.value!)));
    case 'bunx':
      return fromPkg('bunx', 0, BUNX_VALUE, (w) => (hasOpt(/^(-p|--package)(=|$)/) ? w.value! : packageProgram(w.value!)));
    case 'bun':
      if (sub !== 'x') return null;
      return fromPkg('bun x', 1, BUNX_VALUE, (w) => (hasOpt(/^(-p|--package)(=|$)/) ? w.value! : packageProgram(w.value!)));
    case 'nix':
      return nixArgv(args);
    default:
      return null;
  }
}

/**
 * The nix subcommand: nix takes every configuration setting as an option (`--extra-experimental-features
 * nix-command`, `--sandbox false`), so option values cannot be told from positionals by a list; the first
 * word that names a subcommand that runs something is taken instead.
 */
function nixSub(args: readonly Word[]): number {
  return args.findIndex((a) => a.value !== null && /^(run|shell|develop|build|profile)$/.test(a.value));
}

/** `nix run INSTALLABLE [-- ARGS]`, `nix shell|develop … (-c|--command) CMD ARGS`. */
function nixArgv(args: readonly Word[]): RunnerArgv | null {
  const s = nixSub(args);
  if (s < 0) return null;
  const sub = args[s]!.value;
  if (sub === 'shell' || sub === 'develop') {
    const c = args.findIndex((a, k) => k > s && (a.value === '-c' || a.value === '--command'));
    const head = args[c + 1];
    if (c < 0 || !head) return null;
    return { label: `nix ${sub} --command`, head, rest: args.slice(c + 2) };
  }
  if (sub !== 'run') return null;
  const i = firstPositional(args, s + 1, NIX_VALUE, NIX_VALUE2);
  const inst = args[i];
  if (i < 0 || !inst) return null;
  const dd = args.findIndex((a, k) => k > i && a.value === '--');
  const rest = dd < 0 ? args.slice(i + 1).filter((a) => !isOpt(a)) : args.slice(dd + 1);
  if (inst.value === null) return { label: 'nix run', head: inst, rest };
  const prog = nixProgram(inst.value);
  return prog === null ? null : { label: 'nix run', head: named(inst, prog), rest };
}

/** Code a runner fetches from the network and runs: `deno run https://…`, `nix run github:o/r`, `bunx https://…`. */
export function remoteRunnerCode(name: string, args: readonly Word[]): RemoteCode | null {
  const pick = (label: string, at: number, values: ReadonlySet<string>, two?: ReadonlySet<string>): RemoteCode | null => {
    const i = firstPositional(args, at, values, two);
    const w = args[i];
    return i >= 0 && w && w.value !== null && REMOTE.test(w.value) ? { label, word: w } : null;
  };
  switch (name) {
    case 'deno': {
      const s = firstPositional(args, 0, new Set(['--config', '-c', '--import-map', '--lock', '--cert', '--location', '--seed', '--v8-flags', '--inspect']));
      const sub = s < 0 ? null : args[s]!.value;
      // `deno URL` is `deno run URL`.
      if (sub !== null && REMOTE.test(sub)) return { label: 'deno', word: args[s]! };
      if (sub !== 'run' && sub !== 'install' && sub !== 'compile' && sub !== 'test' && sub !== 'bench') return null;
      return pick(`deno ${sub}`, s + 1, new Set(['--config', '-c', '--import-map', '--lock', '--cert', '--location', '--seed', '--v8-flags', '--env-file', '--name', '-n', '--root', '--output', '-o', '--target', '--include', '--ext', '--watch-exclude']));
    }
    case 'nix': {
      const s = nixSub(args);
      if (s < 0) return null;
      return pick(`nix ${args[s]!.value}`, s + 1, NIX_VALUE, NIX_VALUE2);
    }
    case 'bunx':
      return pick('bunx', 0, BUNX_VALUE);
    default:
      return null;
  }
}
