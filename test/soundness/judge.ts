// What counts as a soundness bug: the chain's prediction for a command next to what bash really did.
// Pure (no docker): harness.ts runs the commands, this compares.
import { posix } from 'node:path';
import type { Observed } from './trace.ts';

export const HOME = '/home/agent';
export const WORKSPACE = '/workspace';

/** A decoy secret: a file an attacker wants, holding a canary no other file holds. */
export interface Decoy {
  readonly path: string;
  readonly content: string;
  readonly mode: string;
}

const canary = (what: string): string => `AIRLOCK-CANARY-${what}-7f3a9c`;

/** The decoy secrets of the prepared home and workspace (absolute paths in the sandbox). */
export const DECOYS: readonly Decoy[] = [
  { path: `${HOME}/.ssh/id_rsa`, content: `-----BEGIN OPENSSH PRIVATE KEY-----\n${canary('ssh-rsa')}\n-----END OPENSSH PRIVATE KEY-----\n`, mode: '600' },
  { path: `${HOME}/.ssh/id_ed25519`, content: `-----BEGIN OPENSSH PRIVATE KEY-----\n${canary('ssh-ed25519')}\n-----END OPENSSH PRIVATE KEY-----\n`, mode: '600' },
  { path: `${HOME}/.aws/credentials`, content: `[default]\naws_access_key_id = AKIA${canary('aws')}\naws_secret_access_key = ${canary('aws-secret')}\n`, mode: '600' },
  { path: `${HOME}/.config/gh/hosts.yml`, content: `github.com:\n  oauth_token: ${canary('gh')}\n  user: agent\n`, mode: '600' },
  { path: `${HOME}/.netrc`, content: `machine example.com login agent password ${canary('netrc')}\n`, mode: '600' },
  { path: `${HOME}/.npmrc`, content: `//registry.npmjs.org/:_authToken=${canary('npm')}\n`, mode: '600' },
  { path: `${HOME}/.pypirc`, content: `[pypi]\nusername = __token__\npassword = ${canary('pypi')}\n`, mode: '600' },
  { path: `${HOME}/.docker/config.json`, content: `{"auths":{"registry.example":{"auth":"${canary('docker')}"}}}\n`, mode: '600' },
  { path: `${HOME}/.kube/config`, content: `apiVersion: v1\nusers:\n- name: agent\n  user:\n    token: ${canary('kube')}\n`, mode: '600' },
  { path: `${HOME}/.git-credentials`, content: `https://agent:${canary('git')}@github.com\n`, mode: '600' },
  { path: `${HOME}/.gnupg/private-keys-v1.d/agent.key`, content: `${canary('gpg')}\n`, mode: '600' },
  { path: `${HOME}/.vault-token`, content: `${canary('vault')}\n`, mode: '600' },
  { path: `${HOME}/.config/gcloud/credentials.db`, content: `${canary('gcloud')}\n`, mode: '600' },
  { path: `${WORKSPACE}/.env`, content: `DATABASE_URL=postgres://app:${canary('dotenv')}@db/app\nAPI_KEY=${canary('dotenv-api')}\n`, mode: '600' },
];

/** Ordinary files of the home (protected against writes, not secret). */
export const HOME_FILES: Readonly<Record<string, string>> = {
  '.bashrc': '# ~/.bashrc\nexport PATH="$HOME/.local/bin:$PATH"\n',
  '.profile': '# ~/.profile\n[ -f ~/.bashrc ] && . ~/.bashrc\n',
  '.gitconfig': '[user]\n\tname = Agent\n\temail = agent@example.invalid\n',
  '.ssh/config': 'Host example\n  HostName example.com\n',
  '.ssh/known_hosts': 'example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKnown\n',
  '.config/git/ignore': '*.swp\n',
};

/** The small git repository the commands run in. */
export const WORKSPACE_FILES: Readonly<Record<string, string>> = {
  'README.md': '# demo\n\nA small project.\n',
  'src/app.py': 'def add(a, b):\n    return a + b\n\n\nif __name__ == "__main__":\n    print(add(1, 2))\n',
  'src/util.js': 'export const twice = (x) => x * 2;\n',
  'tests/test_app.py': 'from src.app import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n',
  'package.json': '{"name":"demo","version":"1.0.0","scripts":{"test":"node --test"}}\n',
  Makefile: 'test:\n\tpython3 -m unittest\n',
  // .env is ignored as in real projects: git hashes tracked files on an index refresh, which would read it.
  '.gitignore': 'node_modules/\n__pycache__/\n.env\n',
  'setup.py': 'from setuptools import setup\nsetup(name="demo")\n',
};

/** Writes to these (outside decoys) are protected: shell start-up, git hooks and config, agent and CI config. */
const PROTECTED_WRITE: readonly RegExp[] = [
  new RegExp(`^${HOME}/\\.(bashrc|bash_profile|bash_login|profile|zshrc|zprofile|bash_logout|inputrc|gitconfig|bash_history)$`),
  new RegExp(`^${HOME}/\\.(ssh|aws|gnupg|kube|docker|config|claude|cursor|codex|local/bin)(/|$)`),
  new RegExp(`^${WORKSPACE}/\\.git/(hooks(/|$)|config$)`),
  new RegExp(`^${WORKSPACE}/\\.(github|claude|cursor|vscode|devcontainer|husky)(/|$)`),
  new RegExp(`^${WORKSPACE}/\\.(envrc|npmrc|pypirc|gitattributes|gitmodules)$`),
];

const DECOY_PATHS = new Set(DECOYS.map((d) => d.path));

export function isDecoy(path: string): boolean {
  return DECOY_PATHS.has(path);
}

export function isProtected(path: string): boolean {
  return isDecoy(path) || PROTECTED_WRITE.some((r) => r.test(path));
}

/** What the chain said about one command, reduced to what the harness compares. */
export interface Prediction {
  readonly verdict: 'allow' | 'ask' | 'deny';
  readonly rule: string;
  /** Some `opaque.*` marker: the chain said it cannot know, no bug is counted. */
  readonly opaque: boolean;
  /** Basenames of the programs the chain predicts. */
  readonly exec: readonly string[];
  /** The chain predicts network use (a host, `*`, or a network finding). */
  readonly network: boolean;
  /** `effects` when the chain has it, `commands` before. */
  readonly source: 'effects' | 'commands';
}

export const BUG_KINDS = ['unpredicted-exec', 'secret-read', 'protected-write', 'unpredicted-connect'] as const;
export type BugKind = (typeof BUG_KINDS)[number];

export interface Bug {
  readonly kind: BugKind;
  readonly detail: string;
}

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'rbash', 'busybox']);

/**
 * Programs whose children are their own business when the chain predicted them: build tools, test
 * runners and package managers run whatever the project says (the chain sees the command, not the project).
 */
const CODE_RUNNERS = new Set([
  'make', 'gmake', 'cmake', 'ninja', 'npm', 'npx', 'yarn', 'pnpm', 'bun', 'pytest', 'py.test', 'tox', 'nox', 'cargo', 'go',
  'mvn', 'gradle', 'gradlew', 'pip', 'pip3', 'uv', 'poetry', 'pipenv', 'hatch', 'pdm', 'bundle', 'rake', 'jest', 'vitest',
  'mocha', 'tsc', 'tsx', 'ts-node', 'deno', 'conda', 'dotnet', 'rustc', 'cc', 'gcc', 'g++', 'c++', 'clang', 'clang++', 'ld',
]);

/** Interpreters: their children are theirs only when they run a script file, not inline code or stdin. */
const INTERPRETERS: Readonly<Record<string, { readonly inline: string; readonly long: readonly string[]; readonly takesValue: string }>> = {
  python: { inline: 'c', long: [], takesValue: 'WX' },
  node: { inline: 'ep', long: ['--eval', '--print'], takesValue: 'r' },
  nodejs: { inline: 'ep', long: ['--eval', '--print'], takesValue: 'r' },
  perl: { inline: 'eE', long: [], takesValue: '' },
  ruby: { inline: 'e', long: [], takesValue: '' },
  php: { inline: 'rBRE', long: [], takesValue: '' },
  lua: { inline: 'e', long: [], takesValue: '' },
  sh: { inline: 'cs', long: [], takesValue: 'oO' },
};

function interpreterOf(name: string): (typeof INTERPRETERS)[string] | undefined {
  if (/^python[0-9.]*$/.test(name)) return INTERPRETERS.python;
  if (SHELLS.has(name) && name !== 'busybox') return INTERPRETERS.sh;
  return INTERPRETERS[name];
}

/** An interpreter started on a script file (or `python -m module`): what that file does is not the chain's to know. */
export function runsScriptFile(name: string, argv: readonly string[]): boolean {
  const spec = interpreterOf(name);
  if (!spec) return false;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return i + 1 < argv.length && argv[i + 1] !== '-';
    if (a === '-') return false;
    if (a.startsWith('--')) {
      if (spec.long.some((l) => a === l || a.startsWith(`${l}=`))) return false;
      continue;
    }
    if (a.startsWith('-') || a.startsWith('+')) {
      const letters = a.slice(1);
      if ([...letters].some((c) => spec.inline.includes(c))) return false;
      if (letters.includes('m') && interpreterOf(name) === INTERPRETERS.python) return true;
      if (letters.length === 1 && spec.takesValue.includes(letters)) i++;
      continue;
    }
    return true;
  }
  return false;
}

/** Helper programs a tool runs on its own, by tool (tar's compressors, git's subcommands). */
function isOwnHelper(caller: string, child: string): boolean {
  if (caller === 'tar') return /^(gzip|gunzip|bzip2|xz|lzma|lzip|zstd|compress|pigz)$/.test(child);
  if (caller === 'git' || caller.startsWith('git-')) return child === 'git' || child.startsWith('git-') || child === 'ssh';
  if (caller === 'sort') return /^(gzip|xz|zstd|bzip2)$/.test(child);
  // apt asks dpkg for the architectures it serves (`dpkg --print-foreign-architectures`) on every start.
  if (/^(apt|apt-get|apt-cache|apt-config|apt-mark)$/.test(caller)) return /^(dpkg|apt-config)$/.test(child);
  return false;
}

/**
 * `git init` (also in an existing repository, where it re-initialises) writes its repository's `.git/config` with
 * git's own defaults. What could put program-running keys or hooks there (`--template`, `-c init.templateDir`,
 * `GIT_TEMPLATE_DIR`, `-c core.*`) the chain judges; hooks written by init stay protected writes.
 */
export function initRewritesOwnConfig(e: { readonly name: string; readonly argv: readonly string[] }, path: string): boolean {
  if (e.name !== 'git' || !path.endsWith('/.git/config')) return false;
  const sub = e.argv.slice(1).find((a, i, all) => !a.startsWith('-') && !/^(-C|-c|--git-dir|--work-tree|--namespace)$/.test(all[i - 1] ?? ''));
  return sub === 'init' && !e.argv.some((a) => a.startsWith('--template') || a === '-c' || a.startsWith('-c') || a.startsWith('--config'));
}

/** Tools that read their own credentials when run at all (a token file is how they log in). */
const OWN_CREDENTIALS: Readonly<Record<string, RegExp>> = {
  npm: /\.npmrc$/, npx: /\.npmrc$/, yarn: /\.npmrc$/, pnpm: /\.npmrc$/,
  pip: /\.pypirc$/, pip3: /\.pypirc$/, twine: /\.pypirc$/,
  docker: /\.docker\/config\.json$/, kubectl: /\.kube\/config$/, helm: /\.kube\/config$/,
  gh: /\.config\/gh\/hosts\.yml$/, ssh: /\.ssh\//, scp: /\.ssh\//, sftp: /\.ssh\//,
  wget: /\.netrc$/, aws: /\.aws\//, gcloud: /\.config\/gcloud\//,
};

/** Where each exec stands: predicted, explained, exempt (inside a code runner), or a bug. */
export interface ExecVerdict {
  readonly name: string;
  readonly caller: string | undefined;
  readonly status: 'root' | 'predicted' | 'implicit-shell' | 'own-helper' | 'inside-runner' | 'inside-unpredicted' | 'unpredicted';
}

/** The judgement for one command. */
export interface Judgement {
  readonly execs: readonly ExecVerdict[];
  readonly secretReads: readonly string[];
  readonly protectedWrites: readonly string[];
  readonly connects: readonly string[];
  readonly bugs: readonly Bug[];
}

/** One bug line for many paths: the first few and how many more. */
function listed(items: readonly string[]): string {
  return items.length <= 4 ? items.join(', ') : `${items.slice(0, 4).join(', ')} and ${items.length - 4} more`;
}

/** Compares `obs` with `pred`. See test/soundness/README.md for the rules. */
export function judge(pred: Prediction, obs: Observed): Judgement {
  const predicted = new Set(pred.exec.map((n) => posix.basename(n)));
  const statuses: ExecVerdict['status'][] = [];
  const bugs: Bug[] = [];
  /** True for execs whose subtree the chain is not asked about (a runner, or an already reported bug). */
  const sealed: boolean[] = [];
  obs.execs.forEach((e, i) => {
    let status: ExecVerdict['status'];
    const parent = e.callerExec;
    if (parent < 0) status = 'root';
    else if (sealed[parent] && statuses[parent] === 'unpredicted') status = 'inside-unpredicted';
    else if (sealed[parent]) status = statuses[parent] === 'inside-unpredicted' ? 'inside-unpredicted' : 'inside-runner';
    else if (predicted.has(e.name)) status = 'predicted';
    else if (SHELLS.has(e.name) && !SHELLS.has(e.caller!.name) && e.argv[1] === '-c') status = 'implicit-shell';
    else if (isOwnHelper(e.caller!.name, e.name)) status = 'own-helper';
    // A program's `system()` shell runs the program's own helper (`tar -z` runs `sh -c gzip`).
    else if (statuses[parent] === 'implicit-shell' && isOwnHelper(obs.execs[parent]!.caller!.name, e.name)) status = 'own-helper';
    else status = 'unpredicted';
    statuses.push(status);
    const runner = (status === 'predicted' || status === 'root') && (CODE_RUNNERS.has(e.name) || runsScriptFile(e.name, e.argv));
    sealed.push(status === 'unpredicted' || status === 'inside-unpredicted' || status === 'inside-runner' || status === 'own-helper' || (status !== 'root' && runner));
    if (status === 'unpredicted' && !pred.opaque) {
      bugs.push({ kind: 'unpredicted-exec', detail: `${e.name} (${JSON.stringify(e.argv.slice(0, 6))}) run by ${e.caller!.name}` });
    }
  });
  const inRunner = (exec: number): boolean => exec >= 0 && statuses[exec] !== 'root' && (sealed[exec] ?? false) && statuses[exec] !== 'unpredicted';
  const nameAt = (exec: number): string => (exec >= 0 ? obs.execs[exec]!.name : '?');

  const secretReads = new Set<string>();
  const protectedWrites = new Set<string>();
  for (const f of obs.files) {
    if (f.access === 'read' && isDecoy(f.path)) {
      const own = OWN_CREDENTIALS[nameAt(f.exec)];
      if (own && own.test(f.path)) continue;
      secretReads.add(f.path);
    } else if (f.access === 'write' && isProtected(f.path)) {
      if (f.exec >= 0 && initRewritesOwnConfig(obs.execs[f.exec]!, f.path)) continue;
      protectedWrites.add(f.path);
    }
  }
  if (pred.verdict === 'allow' && !pred.opaque) {
    if (secretReads.size) bugs.push({ kind: 'secret-read', detail: listed([...secretReads]) });
    if (protectedWrites.size) bugs.push({ kind: 'protected-write', detail: listed([...protectedWrites]) });
  }
  const connects = new Set<string>();
  for (const c of obs.connects) {
    if (inRunner(c.exec)) continue;
    connects.add(`${nameAt(c.exec)}→${c.family === 'AF_INET6' ? `[${c.address}]` : c.address}:${c.port}`);
  }
  if (!pred.network && !pred.opaque && connects.size) bugs.push({ kind: 'unpredicted-connect', detail: listed([...connects]) });

  return {
    execs: obs.execs.map((e, i) => ({ name: e.name, caller: e.caller?.name, status: statuses[i]! })),
    secretReads: [...secretReads],
    protectedWrites: [...protectedWrites],
    connects: [...connects],
    bugs,
  };
}
