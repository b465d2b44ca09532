/**
 * What setting an environment variable does, as data.
 *
 * A variable matters when a program reads it: the loader (`LD_PRELOAD`), the
 * shell (`BASH_ENV`, `PS4`), an interpreter (`PYTHONSTARTUP`, `NODE_OPTIONS`),
 * a tool that runs another program (`GIT_SSH_COMMAND`, `PAGER`), or a client
 * that decides whom to trust (`SSL_CERT_FILE`, `PIP_INDEX_URL`, `HTTPS_PROXY`).
 * Each entry names the variables, what setting them does (`effect`), and how
 * the value is judged (`value`): most variables are only dangerous with some
 * values (`PAGER=cat` is fine, `PAGER='sh -c id'` runs a shell;
 * `NODE_OPTIONS=--max-old-space-size=4096` is fine, `--require x.js` loads
 * code). The analysis is pure: {@link judgeEnv} returns decisions and the
 * chain (analyze.ts) turns them into findings, nested analyses and opaque
 * markers, so the same table serves prefix assignments, `export`,
 * `declare -x`, `env X=… cmd`, `sudo X=… cmd` and lines written into shell
 * start-up files.
 */

import { gitKeyEffect, gitKeyLoads, gitKeyRuns } from './capabilities/git-keys.ts';

/** What setting a variable does. */
export const ENV_EFFECTS = ['loads_code', 'runs_command', 'redirects_trust', 'package_index', 'proxy', 'config_redirect', 'hides_activity', 'word_splitting', 'command_search'] as const;
/** One of {@link ENV_EFFECTS}. */
export type EnvEffect = (typeof ENV_EFFECTS)[number];

/** How a value is judged. */
export const ENV_VALUE_KINDS = [
  /** Any non-empty value has the effect. */
  'any',
  /** A command line the tool runs (through a shell): analysed as a nested command. */
  'command',
  /** Colon-separated directories searched for code (`PYTHONPATH`). */
  'code_path',
  /** `PATH`: directories searched for commands. */
  'exec_path',
  /** `NODE_OPTIONS`: node flags; some load code. */
  'node_options',
  /** `JAVA_TOOL_OPTIONS`: JVM flags; agents and hooks load code. */
  'java_options',
  /** Compiler flags (`CFLAGS`): plugins and program prefixes load code. */
  'c_flags',
  /** `RUSTFLAGS`: `-C linker=` runs a program. */
  'rust_flags',
  /** `GOFLAGS`: `-toolexec`/`-exec` run programs, `-insecure` drops TLS. */
  'go_flags',
  /** A prompt expanded by the shell: code only with substitutions. */
  'prompt',
  /** A value that turns verification off when it is false-ish (`0`, `false`, `no`). */
  'verify_off',
  /** A CA bundle or directory: system bundles are fine, others redirect trust. */
  'ca_file',
  /** A package index URL: the default public registries are fine. */
  'index_url',
  /** A proxy URL: empty is fine. */
  'proxy_url',
  /** `no_proxy`: lists of local hosts are fine. */
  'no_proxy',
  /** A configuration file or directory: `/dev/null` is fine. */
  'config_file',
  /** A repository path (`GIT_DIR`): inside the workspace asks, elsewhere is worse. */
  'repo_path',
  /** `GIT_CONFIG_KEY_<n>`: judged like `git -c key=value` with the matching `GIT_CONFIG_VALUE_<n>`. */
  'git_config_key',
  /** `GIT_CONFIG_PARAMETERS`: `'key=value'` pairs, each judged like `git -c`. */
  'git_config_parameters',
  /** `npm_config_<key>`: judged by the npm key. */
  'npm_config',
  /** `IFS`: whitespace-only values are ordinary. */
  'ifs',
  /**
   * Extra command-line options of the entry's `tool` (`TAR_OPTIONS`, `LESS`, `MAKEFLAGS`, `ZIPOPT`, …): judged as
   * `tool VALUE` through the capability table, so an option that runs something is what it would be on the command line.
   */
  'tool_options',
  /** A file the tool writes (trace and history files): judged like a write to that path; numbers and booleans are not paths. */
  'write_path',
] as const;
/** One of {@link ENV_VALUE_KINDS}. */
export type EnvValueKind = (typeof ENV_VALUE_KINDS)[number];

/** One row of the table. */
export interface EnvEntry {
  /** Exact names, or patterns with `*` (`LD_*`, `CARGO_TARGET_*_RUNNER`). */
  readonly names: readonly string[];
  readonly effect: EnvEffect;
  readonly value: EnvValueKind;
  /** Rule id of the finding (stable: see rule-ids.ts). */
  readonly rule: string;
  readonly verdict: 'ask' | 'deny';
  readonly reason: string;
  /** Names compared case-insensitively (`npm_config_*` / `NPM_CONFIG_*`). */
  readonly ci?: boolean;
  /** For `tool_options`: the tool whose options the value holds. */
  readonly tool?: string;
  /** A value with the effect and, where one exists, one without (tests are generated from these). */
  readonly hostile: string;
  readonly benign?: string;
}

const CODE = 'env.loader_injection';
const TOOL = 'env.tool_exec';

/**
 * The table. Order matters only where patterns overlap: the first matching
 * entry wins (`LD_LIBRARY_PATH` before `LD_*`).
 */
export const ENV_TABLE: readonly EnvEntry[] = [
  // --- the dynamic loader and libc
  { names: ['LD_LIBRARY_PATH'], effect: 'loads_code', value: 'code_path', rule: CODE, verdict: 'deny', reason: 'makes the dynamic loader take shared libraries from another directory', hostile: '/tmp/evil', benign: '/usr/local/cuda/lib64:$LD_LIBRARY_PATH' },
  { names: ['LD_*', 'DYLD_*', 'GCONV_PATH', 'LOCPATH', 'NLSPATH', 'MALLOC_*', 'GLIBC_TUNABLES', 'HOSTALIASES', 'RESOLV_HOST_CONF'], effect: 'loads_code', value: 'any', rule: CODE, verdict: 'deny', reason: 'makes the dynamic loader or libc load attacker-chosen code or data', hostile: '/tmp/x.so' },
  // --- the shell itself
  { names: ['BASH_ENV', 'ENV', 'PROMPT_COMMAND', 'SHELLOPTS', 'BASHOPTS', 'BASH_XTRACEFD', 'ZDOTDIR', 'INPUTRC', 'BASH_LOADABLES_PATH'], effect: 'loads_code', value: 'any', rule: CODE, verdict: 'deny', reason: 'makes the shell run a start-up file or command', hostile: '/tmp/x' },
  { names: ['BASH_FUNC_*'], effect: 'loads_code', value: 'any', rule: CODE, verdict: 'deny', reason: 'exports a shell function that replaces a command in every child bash', hostile: '() { id; }' },
  { names: ['PS0', 'PS1', 'PS2', 'PS3', 'PS4'], effect: 'loads_code', value: 'prompt', rule: CODE, verdict: 'deny', reason: 'prompt with a command substitution (runs whenever the shell expands it, e.g. PS4 under xtrace)', hostile: '$(id)', benign: '+ ' },
  { names: ['IFS'], effect: 'word_splitting', value: 'ifs', rule: 'env.ifs', verdict: 'ask', reason: 'changes how the shell splits words (IFS), a common obfuscation', hostile: 'a', benign: "$'\\n'" },
  { names: ['HISTFILE', 'HISTSIZE', 'HISTFILESIZE', 'HISTCONTROL', 'HISTIGNORE', 'SAVEHIST'], effect: 'hides_activity', value: 'any', rule: 'antiforensics.history', verdict: 'deny', reason: 'changes or disables shell history', hostile: '/dev/null' },
  { names: ['PATH'], effect: 'command_search', value: 'exec_path', rule: 'env.path_hijack', verdict: 'ask', reason: 'puts a writable or workspace directory in front of the system directories in PATH (a planted file shadows real commands)', hostile: '/tmp/bin:$PATH', benign: '$HOME/.local/bin:$PATH' },
  // --- interpreters
  { names: ['PYTHONSTARTUP', 'PYTHONHOME', 'PYTHONINSPECT', 'PYTHONBREAKPOINT', 'PYTHONUSERBASE', 'PERL5OPT', 'PERL5DB', 'PERLIO_DEBUG', 'RUBYOPT', 'IRBRC', 'NODE_REPL_EXTERNAL_MODULE'], effect: 'loads_code', value: 'any', rule: TOOL, verdict: 'deny', reason: 'makes an interpreter load or run extra code at start-up', hostile: '/tmp/evil.py' },
  { names: ['PYTHONPATH', 'NODE_PATH', 'PERL5LIB', 'PERLLIB', 'RUBYLIB', 'GEM_PATH', 'GEM_HOME', 'CLASSPATH', 'LUA_PATH', 'LUA_CPATH', 'R_LIBS', 'R_LIBS_USER', 'JULIA_LOAD_PATH', 'GOPATH'], effect: 'loads_code', value: 'code_path', rule: 'env.path_hijack', verdict: 'ask', reason: 'points module search paths at a temporary directory', hostile: '/tmp/evil', benign: 'src' },
  { names: ['NODE_OPTIONS'], effect: 'loads_code', value: 'node_options', rule: 'env.node_options', verdict: 'deny', reason: 'NODE_OPTIONS that preloads code or opens a debugger in every node process', hostile: '--require /tmp/evil.js', benign: '--max-old-space-size=4096' },
  { names: ['JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'MAVEN_OPTS', 'GRADLE_OPTS', 'SBT_OPTS', 'ANT_OPTS', 'JAVA_OPTS'], effect: 'loads_code', value: 'java_options', rule: TOOL, verdict: 'deny', reason: 'JVM options that load an agent or native library, or run a command', hostile: '-javaagent:/tmp/a.jar', benign: '-Xmx2g' },
  // --- compilers and build tools
  { names: ['CFLAGS', 'CXXFLAGS', 'CPPFLAGS', 'LDFLAGS', 'OBJCFLAGS', 'CGO_CFLAGS', 'CGO_CXXFLAGS', 'CGO_LDFLAGS', 'NVCC_APPEND_FLAGS', 'NVCC_PREPEND_FLAGS'], effect: 'loads_code', value: 'c_flags', rule: CODE, verdict: 'deny', reason: 'compiler flags that load a plugin or take programs from another directory', hostile: '-fplugin=/tmp/p.so', benign: '-O2 -I/opt/include' },
  { names: ['RUSTFLAGS', 'RUSTDOCFLAGS', 'CARGO_ENCODED_RUSTFLAGS', 'CARGO_BUILD_RUSTFLAGS'], effect: 'runs_command', value: 'rust_flags', rule: TOOL, verdict: 'deny', reason: 'rustc flags that run another linker program', hostile: '-C linker=/tmp/ld', benign: '-D warnings' },
  { names: ['GOFLAGS'], effect: 'runs_command', value: 'go_flags', rule: TOOL, verdict: 'deny', reason: 'go flags that run a program around every tool or test binary, or drop TLS', hostile: '-toolexec=/tmp/x', benign: '-mod=mod' },
  {
    names: ['CC', 'CXX', 'LD', 'AR', 'AS', 'CPP', 'FC', 'F77', 'NM', 'RANLIB', 'STRIP', 'OBJCOPY', 'HOSTCC', 'HOSTCXX', 'CC_FOR_BUILD', 'CXX_FOR_BUILD', 'NVCC', 'PKG_CONFIG', 'CMAKE_C_COMPILER_LAUNCHER', 'CMAKE_CXX_COMPILER_LAUNCHER', 'CCACHE_PREFIX',
      'RUSTC', 'RUSTDOC', 'RUSTC_WRAPPER', 'RUSTC_WORKSPACE_WRAPPER', 'CARGO_BUILD_RUSTC', 'CARGO_BUILD_RUSTC_WRAPPER', 'CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER', 'CARGO_BUILD_RUSTDOC', 'CARGO_TARGET_*_RUNNER', 'CARGO_TARGET_*_LINKER', 'CONFIG_SHELL', 'MAKESHELL'],
    effect: 'runs_command', value: 'command', rule: TOOL, verdict: 'deny', reason: 'compiler, linker or runner variable naming the program a build runs', hostile: 'sh -c id', benign: 'gcc',
  },
  { names: ['CARGO_HOME', 'RUSTUP_HOME', 'GOROOT', 'GOENV', 'GRADLE_USER_HOME', 'MAVEN_HOME', 'M2_HOME', 'JAVA_HOME', 'PNPM_HOME', 'BUN_INSTALL', 'VOLTA_HOME', 'NVM_DIR', 'PYENV_ROOT', 'VIRTUAL_ENV', 'CONDA_PREFIX'], effect: 'config_redirect', value: 'code_path', rule: 'env.config_redirect', verdict: 'ask', reason: 'points a toolchain at a home directory in a temporary location (its configuration and binaries run)', hostile: '/tmp/x', benign: '/usr/lib/jvm/java-17' },
  // --- tools that run a configured program
  {
    names: ['EDITOR', 'VISUAL', 'PAGER', 'MANPAGER', 'SYSTEMD_PAGER', 'SYSTEMD_EDITOR', 'GIT_PAGER', 'GIT_EDITOR', 'GIT_SEQUENCE_EDITOR', 'GH_PAGER', 'GH_EDITOR', 'GH_BROWSER', 'KUBE_EDITOR', 'FCEDIT', 'SVN_EDITOR', 'HGEDITOR', 'PSQL_PAGER', 'PSQL_EDITOR', 'BAT_PAGER', 'DELTA_PAGER', 'PERLDOC_PAGER', 'BROWSER', 'TERMINAL', 'DIFF', 'SHELL',
      'GIT_SSH', 'GIT_SSH_COMMAND', 'GIT_EXTERNAL_DIFF', 'GIT_PROXY_COMMAND', 'GIT_ASKPASS', 'SSH_ASKPASS', 'SUDO_ASKPASS', 'RSYNC_RSH', 'RSYNC_CONNECT_PROG', 'CVS_RSH', 'LESSOPEN', 'LESSCLOSE'],
    effect: 'runs_command', value: 'command', rule: TOOL, verdict: 'deny', reason: 'variable holding a command line that a tool runs (editor, pager, ssh, askpass, diff)', hostile: "sh -c 'id'", benign: 'cat',
  },
  { names: ['GIT_CONFIG_KEY_*'], effect: 'runs_command', value: 'git_config_key', rule: 'git.config_exec', verdict: 'deny', reason: 'git configuration from the environment whose key makes git run a program', hostile: 'core.fsmonitor', benign: 'user.name' },
  { names: ['GIT_CONFIG_PARAMETERS'], effect: 'runs_command', value: 'git_config_parameters', rule: 'git.config_exec', verdict: 'deny', reason: 'git configuration from the environment whose key makes git run a program', hostile: "'core.pager=sh -c id'", benign: "'user.name=bot'" },
  { names: ['GIT_CONFIG', 'GIT_CONFIG_GLOBAL', 'GIT_CONFIG_SYSTEM'], effect: 'config_redirect', value: 'config_file', rule: TOOL, verdict: 'deny', reason: 'points git at another configuration file (its hooks, pagers and helpers run)', hostile: '/tmp/gitconfig', benign: '/dev/null' },
  { names: ['GIT_EXEC_PATH', 'GIT_TEMPLATE_DIR'], effect: 'runs_command', value: 'any', rule: TOOL, verdict: 'deny', reason: 'points git at other helper programs or hook templates', hostile: '/tmp/git' },
  { names: ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_COMMON_DIR'], effect: 'config_redirect', value: 'repo_path', rule: TOOL, verdict: 'deny', reason: 'points git at another repository (its config, hooks and fsmonitor run)', hostile: '/tmp/evil.git', benign: '.git' },
  { names: ['npm_config_*', 'YARN_*', 'PNPM_*', 'BUN_CONFIG_*'], ci: true, effect: 'runs_command', value: 'npm_config', rule: TOOL, verdict: 'deny', reason: 'package-manager setting from the environment', hostile: 'sh -c id', benign: 'true' },
  // --- trust
  { names: ['NODE_TLS_REJECT_UNAUTHORIZED', 'PYTHONHTTPSVERIFY'], effect: 'redirects_trust', value: 'verify_off', rule: 'env.tls_trust', verdict: 'ask', reason: 'turns off TLS certificate verification', hostile: '0', benign: '1' },
  { names: ['GIT_SSL_NO_VERIFY', 'PIP_TRUSTED_HOST', 'UV_INSECURE_HOST', 'GOINSECURE', 'GONOSUMDB', 'GONOSUMCHECK', 'GONOSUMCHK', 'GOPRIVATE', 'GONOPROXY', 'GIT_SSL_CERT', 'GIT_SSL_KEY', 'CURL_SSL_BACKEND'], effect: 'redirects_trust', value: 'any', rule: 'env.tls_trust', verdict: 'ask', reason: 'turns off TLS or checksum verification for some hosts or modules', hostile: '1' },
  {
    names: ['SSL_CERT_FILE', 'SSL_CERT_DIR', 'CURL_CA_BUNDLE', 'REQUESTS_CA_BUNDLE', 'NODE_EXTRA_CA_CERTS', 'GIT_SSL_CAINFO', 'GIT_SSL_CAPATH', 'PIP_CERT', 'AWS_CA_BUNDLE', 'HTTPLIB2_CA_CERTS', 'CARGO_HTTP_CAINFO', 'DENO_CERT', 'NIX_SSL_CERT_FILE', 'UV_NATIVE_TLS', 'SSL_CERT', 'GRPC_DEFAULT_SSL_ROOTS_FILE_PATH'],
    effect: 'redirects_trust', value: 'ca_file', rule: 'env.tls_trust', verdict: 'ask', reason: 'makes TLS clients trust other certificate authorities', hostile: '/tmp/evil-ca.pem', benign: '/etc/ssl/certs/ca-certificates.crt',
  },
  { names: ['GOSUMDB'], effect: 'redirects_trust', value: 'index_url', rule: 'env.tls_trust', verdict: 'ask', reason: 'turns off or replaces the Go checksum database', hostile: 'off', benign: 'sum.golang.org' },
  // --- package indexes
  {
    names: ['PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_FIND_LINKS', 'UV_INDEX_URL', 'UV_EXTRA_INDEX_URL', 'UV_INDEX', 'UV_DEFAULT_INDEX', 'UV_FIND_LINKS', 'GOPROXY', 'CARGO_REGISTRIES_*_INDEX', 'CARGO_REGISTRY_INDEX', 'BUNDLE_MIRROR__*', 'GEM_SOURCE', 'POETRY_REPOSITORIES_*_URL', 'PDM_PYPI_URL', 'CONDA_CHANNELS', 'HF_ENDPOINT'],
    effect: 'package_index', value: 'index_url', rule: 'supply_chain.untrusted_index', verdict: 'ask', reason: 'installs packages from a non-default index', hostile: 'http://attacker.example/simple', benign: 'https://pypi.org/simple',
  },
  { names: ['PIP_CONFIG_FILE', 'UV_CONFIG_FILE', 'PIP_REQUIRE_HASHES_FILE', 'CONDARC', 'POETRY_CONFIG_DIR', 'BUNDLE_APP_CONFIG', 'GEMRC'], effect: 'config_redirect', value: 'config_file', rule: 'supply_chain.untrusted_index', verdict: 'ask', reason: 'points a package manager at another configuration file (index, hooks)', hostile: '/tmp/pip.conf', benign: '/dev/null' },
  // --- proxies
  { names: ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'all_proxy', 'ftp_proxy', 'FTP_PROXY', 'RSYNC_PROXY', 'PIP_PROXY', 'GIT_HTTP_PROXY', 'npm_config_proxy', 'npm_config_https_proxy'], effect: 'proxy', value: 'proxy_url', rule: 'env.proxy', verdict: 'ask', reason: 'sends traffic through a proxy (it sees and can change what is fetched)', hostile: 'http://attacker.example:8080', benign: '' },
  { names: ['no_proxy', 'NO_PROXY'], effect: 'proxy', value: 'no_proxy', rule: 'env.proxy', verdict: 'ask', reason: 'lets traffic bypass the configured proxy', hostile: '*', benign: 'localhost,127.0.0.1' },
  // --- option lists a tool reads from the environment as if given on its command line
  { names: ['TAR_OPTIONS'], tool: 'tar', effect: 'runs_command', value: 'tool_options', rule: TOOL, verdict: 'deny', reason: 'tar options from the environment', hostile: '--to-command=sh', benign: '--no-same-owner' },
  { names: ['LESS', 'SYSTEMD_LESS'], tool: 'less', effect: 'runs_command', value: 'tool_options', rule: TOOL, verdict: 'deny', reason: 'less options from the environment', hostile: '+!sh', benign: '-R' },
  { names: ['FZF_DEFAULT_OPTS'], tool: 'fzf', effect: 'runs_command', value: 'tool_options', rule: TOOL, verdict: 'deny', reason: 'fzf options from the environment', hostile: '--preview=sh', benign: '--height=40%' },
  { names: ['ZIPOPT'], tool: 'zip', effect: 'runs_command', value: 'tool_options', rule: TOOL, verdict: 'deny', reason: 'zip options from the environment', hostile: '-TT sh', benign: '-q' },
  { names: ['MAKEFLAGS', 'GNUMAKEFLAGS'], tool: 'make', effect: 'runs_command', value: 'tool_options', rule: TOOL, verdict: 'deny', reason: 'make options from the environment', hostile: '--eval=x', benign: '-j4' },
  { names: ['MANOPT'], tool: 'man', effect: 'runs_command', value: 'tool_options', rule: TOOL, verdict: 'deny', reason: 'man options from the environment', hostile: '-Hsh', benign: '-a' },
  { names: ['PARALLEL'], tool: 'parallel', effect: 'runs_command', value: 'tool_options', rule: TOOL, verdict: 'deny', reason: 'GNU parallel options from the environment', hostile: '--ssh=sh', benign: '-j2' },
  { names: ['FZF_DEFAULT_COMMAND', 'MAKEFILES'], effect: 'runs_command', value: 'any', rule: TOOL, verdict: 'ask', reason: 'a command or makefile a tool runs at start-up', hostile: 'sh' },
  { names: ['VIMINIT', 'EXINIT', 'GVIMINIT', 'MYVIMRC'], effect: 'loads_code', value: 'any', rule: TOOL, verdict: 'deny', reason: 'ex commands or a vimrc vim runs at start-up (`:!` runs shell commands)', hostile: ':!sh' },
  // --- files a tool writes (a trace or history written over a start-up file runs later)
  {
    names: ['GIT_TRACE', 'GIT_TRACE_*', 'GIT_TRACE2', 'GIT_TRACE2_*', 'SSLKEYLOGFILE', 'LESSHISTFILE', 'SQLITE_HISTORY', 'NODE_REPL_HISTORY', 'PYTHON_HISTORY', 'MYSQL_HISTFILE', 'PSQL_HISTORY', 'REDISCLI_HISTFILE', 'PYTHONPYCACHEPREFIX', 'CCACHE_LOGFILE'],
    effect: 'hides_activity', value: 'write_path', rule: 'env.write_path', verdict: 'ask', reason: 'makes a tool write its trace or history to a file', hostile: '/home/agent/.bashrc', benign: '1',
  },
  // --- configuration read from elsewhere
  {
    names: ['HOME', 'XDG_CONFIG_HOME', 'KUBECONFIG', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'DOCKER_CONFIG', 'CLOUDSDK_CONFIG', 'BOTO_CONFIG', 'GNUPGHOME', 'CURL_HOME', 'WGETRC', 'SSH_AUTH_SOCK', 'GIT_SSH_CONFIG', 'NPM_CONFIG_USERCONFIG', 'NPM_CONFIG_GLOBALCONFIG', 'DOCKER_HOST', 'RIPGREP_CONFIG_PATH', 'PSQLRC', 'OPENSSL_CONF', 'OPENSSL_ENGINES', 'OPENSSL_MODULES', 'SCREENRC', 'LESSKEYIN'],
    effect: 'config_redirect', value: 'config_file', rule: 'env.config_redirect', verdict: 'ask', reason: 'makes tools read their configuration (credential helpers, hooks, exec plugins) from another place', hostile: '/tmp/home',
  },
];

// ---------------------------------------------------------------------------
// Lookup

interface Compiled {
  readonly exact: ReadonlyMap<string, EnvEntry>;
  readonly patterns: readonly { re: RegExp; entry: EnvEntry }[];
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function compile(table: readonly EnvEntry[]): Compiled {
  const exact = new Map<string, EnvEntry>();
  const patterns: { re: RegExp; entry: EnvEntry }[] = [];
  for (const e of table) {
    for (const n of e.names) {
      if (n.includes('*') || e.ci) {
        patterns.push({ re: new RegExp('^' + n.split('*').map(escapeRe).join('.+') + '$', e.ci ? 'i' : ''), entry: e });
      } else if (!exact.has(n)) exact.set(n, e);
    }
  }
  return { exact, patterns };
}

const COMPILED = compile(ENV_TABLE);
const memo = new Map<string, EnvEntry | null>();

/** The table row for a variable name, or null when setting it has no modelled effect. */
export function envEntry(name: string): EnvEntry | null {
  const hit = memo.get(name);
  if (hit !== undefined) return hit;
  let e: EnvEntry | null = COMPILED.exact.get(name) ?? null;
  if (e === null) {
    for (const p of COMPILED.patterns) {
      if (p.re.test(name)) {
        e = p.entry;
        break;
      }
    }
  }
  if (memo.size < 4096) memo.set(name, e);
  return e;
}

// ---------------------------------------------------------------------------
// Decisions

/** What the chain should do about one assignment. */
export type EnvDecision =
  | { readonly kind: 'finding'; readonly verdict: 'ask' | 'deny'; readonly rule: string; readonly reason: string }
  /** Analyse `text` as the command line a tool will run; `entry` gives the finding when it runs a shell or interpreter. */
  | {
    readonly kind: 'command'; readonly text: string; readonly label: string; readonly rule: string; readonly verdict: 'ask' | 'deny'; readonly reason: string;
    /** Also give the entry's own finding (at the nested analysis's verdict) when that analysis raised anything. */
    readonly raise?: boolean;
  }
  | { readonly kind: 'opaque'; readonly opaque: string; readonly reason: string };

/** The value as the chain evaluated it. */
export interface EnvValue {
  /** Literal value, or null when part of it is only known at run time. */
  readonly text: string | null;
  /** Source text (quotes and expansions kept). */
  readonly raw: string;
}

/** What the judge may know about the surroundings. */
export interface EnvContext {
  /** Working directory when the variable is set, if known. */
  readonly cwd: string | null;
  /** The policy's workspace directory. */
  readonly workspace: string;
  /** Another variable assigned in the same script (for `GIT_CONFIG_VALUE_<n>`), or undefined. */
  sibling(name: string): EnvValue | undefined;
}

const NONE: readonly EnvDecision[] = [];

/** Judges `name=value` by the table. Returns nothing for variables with no modelled effect. */
export function judgeEnv(name: string, value: EnvValue, ctx: EnvContext): readonly EnvDecision[] {
  const e = envEntry(name);
  if (e === null) return NONE;
  return judgeEntry(e, name, value, ctx);
}

function finding(e: EnvEntry, name: string, value: EnvValue, detail?: string, verdict?: 'ask' | 'deny'): EnvDecision {
  return { kind: 'finding', verdict: verdict ?? e.verdict, rule: e.rule, reason: `${detail ?? e.reason}: ${name}=${short(value.text ?? value.raw)}` };
}

function opaque(name: string, value: EnvValue, what: string): EnvDecision {
  return { kind: 'opaque', opaque: 'env_value', reason: `${name} ${what}, and its value is only known at run time (${short(value.raw)})` };
}

function short(s: string): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > 60 ? one.slice(0, 59) + '…' : one;
}

function judgeEntry(e: EnvEntry, name: string, value: EnvValue, ctx: EnvContext): readonly EnvDecision[] {
  const t = value.text;
  if (t === '' && e.value !== 'ca_file' && e.value !== 'exec_path' && e.value !== 'ifs') return NONE;
  switch (e.value) {
    case 'any':
      return [finding(e, name, value)];
    case 'command':
      return commandValue(e, name, value);
    case 'code_path':
      return codePath(e, name, value, ctx);
    case 'exec_path':
      return execPath(e, name, value, ctx);
    case 'node_options':
      return optionList(e, name, value, nodeOption);
    case 'java_options':
      return optionList(e, name, value, javaOption);
    case 'c_flags':
      return optionList(e, name, value, cFlag);
    case 'rust_flags':
      return optionList(e, name, value, rustFlag);
    case 'go_flags':
      return optionList(e, name, value, goFlag);
    case 'prompt':
      if (t === null) return [opaque(name, value, 'is a prompt the shell expands')];
      return /\$\(|`|\$\{[^}]*@P/.test(t) ? [finding(e, name, value)] : NONE;
    case 'verify_off':
      if (t === null) return [opaque(name, value, 'controls TLS verification')];
      return /^(0|false|no|off|n)$/i.test(t.trim()) ? [finding(e, name, value)] : NONE;
    case 'ca_file':
      if (t === null) return [opaque(name, value, 'chooses trusted certificate authorities')];
      return SYSTEM_CA.test(t) ? NONE : [finding(e, name, value)];
    case 'index_url':
      if (t === null) return [opaque(name, value, 'chooses a package index')];
    {
      const urls = t.split(/[,|\s]+/).filter(Boolean);
      if (urls.every((u) => DEFAULT_INDEX.test(u))) return NONE;
      // Plain http can be changed by anyone on the path.
      const plain = urls.some((u) => /^http:\/\//i.test(u) && !/^http:\/\/(localhost|127\.|\[::1\])/i.test(u));
      return [finding(e, name, value, plain ? `${e.reason} over plain http` : e.reason, plain ? 'deny' : e.verdict)];
    }
    case 'proxy_url':
      return [t === null ? opaque(name, value, 'chooses a proxy') : finding(e, name, value)];
    case 'no_proxy':
      if (t === null) return [opaque(name, value, 'chooses hosts that bypass the proxy')];
      return t.split(/[,\s]+/).filter(Boolean).every((h) => LOCAL_HOST.test(h)) ? NONE : [finding(e, name, value)];
    case 'config_file':
      if (t === null) return [opaque(name, value, 'chooses where configuration is read')];
      return t === '/dev/null' ? NONE : [finding(e, name, value)];
    case 'repo_path':
      return repoPath(e, name, value, ctx);
    case 'git_config_key':
      return gitConfigKey(e, name, value, ctx);
    case 'git_config_parameters':
      return gitConfigParameters(e, name, value);
    case 'npm_config':
      return npmConfig(e, name, value, ctx);
    case 'ifs':
      // Whitespace-only values are the save/restore and line-reading idioms.
      return t !== null && /^\s*$/.test(t) ? NONE : [finding(e, name, value)];
    case 'tool_options':
      if (t === null) return [opaque(name, value, `holds ${e.tool} options`)];
      return [{ kind: 'command', text: `${e.tool} ${t}`, label: `${name} (${e.tool} options)`, rule: e.rule, verdict: e.verdict, reason: e.reason }];
    case 'write_path':
      if (t === null) return [opaque(name, value, 'names a file a tool writes')];
      // GIT_TRACE=1 / true / 2 (a descriptor) write to stderr; anything else is a path.
      if (/^\s*(\d+|true|false|yes|no|on|off)\s*$/i.test(t)) return NONE;
      return [{ kind: 'command', text: `: >> ${literalShellWord(t)}`, label: `${name} writes`, rule: e.rule, verdict: e.verdict, reason: e.reason, raise: true }];
  }
}

/** A literal value as one bash word that keeps a leading `~/` expandable. */
function literalShellWord(t: string): string {
  const q = (x: string): string => `'${x.replace(/'/g, `'\\''`)}'`;
  return t.startsWith('~/') ? `~/${q(t.slice(2))}` : q(t);
}

// ---------------------------------------------------------------------------
// Command values

const SHELL_OR_INTERP = /^(sh|bash|zsh|dash|ksh|mksh|ash|fish|csh|tcsh|rbash|yash|posh|busybox|python[0-9.]*|pypy[0-9.]*|node|nodejs|deno|bun|perl[0-9.]*|ruby[0-9.]*|irb|php[0-9.]*|lua[0-9.]*|luajit|osascript|pwsh|powershell|tclsh|wish|expect|awk|gawk|mawk|nawk|eval|exec|source|\.)$/;
const TEMP_DIR = /^(\/tmp|\/var\/tmp|\/dev\/shm|\/private\/tmp|\/run\/user\/\d+|\/var\/folders)(\/|$)/;

/** The program word of a command-line value (quotes removed), skipping `VAR=x` prefixes. */
export function programOf(text: string): string {
  const m = /^\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*(?:"([^"]*)"|'([^']*)'|(\S+))/.exec(text);
  return m ? (m[1] ?? m[2] ?? m[3] ?? '') : '';
}

/** Basename of a program path. */
export function programName(p: string): string {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

/**
 * Whether a program run by a tool is itself a way to run arbitrary code: a
 * shell or interpreter, or a file in a temporary directory.
 */
export function runsArbitraryCode(program: string): boolean {
  return SHELL_OR_INTERP.test(programName(program)) || TEMP_DIR.test(program);
}

function commandValue(e: EnvEntry, name: string, value: EnvValue): readonly EnvDecision[] {
  const t = value.text;
  if (t === null) return [opaque(name, value, 'names a program a tool runs')];
  // LESSOPEN='| lesspipe %s': the leading pipe marks an input filter; %s is the file.
  let text = name === 'LESSOPEN' || name === 'LESSCLOSE' ? t.replace(/^\s*\|{1,2}-?\s*/, '').replace(/%s/g, 'FILE') : t;
  text = text.trim();
  if (!text) return NONE;
  const prog = programOf(text);
  if (runsArbitraryCode(prog)) return [finding(e, name, value, `${e.reason}; it runs ${programName(prog) || prog}`)];
  // Shell control operators in an editor/pager value are a script, not a program.
  if (/[;&|`<>]|\$\(/.test(text)) return [finding(e, name, value, `${e.reason}; the value is a shell script`)];
  if (prog.startsWith('./') || prog.startsWith('../') || (prog.includes('/') && !prog.startsWith('/') && !prog.startsWith('~'))) {
    return [{ kind: 'opaque', opaque: 'env_value', reason: `${name} runs ${prog}, a file in the workspace whose contents are not known` }, { kind: 'command', text, label: `${name} value`, rule: e.rule, verdict: e.verdict, reason: e.reason }];
  }
  return [{ kind: 'command', text, label: `${name} value`, rule: e.rule, verdict: e.verdict, reason: e.reason }];
}

// ---------------------------------------------------------------------------
// Path lists

/**
 * Splits a colon-separated list the way the program reading it will, on
 * the source text: quotes are removed (the shell removes them before the
 * program splits), `:` inside `${…}` and `$(…)` does not split. Linear.
 */
export function splitPathList(raw: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  let q: string | null = null;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === q) {
      q = null;
      continue;
    }
    if (q === null && (c === "'" || c === '"')) {
      q = c;
      continue;
    }
    if (q !== "'") {
      if (c === '\\' && i + 1 < raw.length) {
        cur += raw[++i];
        continue;
      }
      if (c === '{' || c === '(') depth++;
      else if ((c === '}' || c === ')') && depth > 0) depth--;
    }
    if (c === ':' && (depth === 0 || q === "'")) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out;
}

/** Where one list entry points. */
type EntryClass = 'self' | 'system' | 'home' | 'workspace' | 'temp' | 'relative' | 'unknown';

const SYSTEM_DIR = /^\/(usr|bin|sbin|lib|lib32|lib64|opt|snap|nix|Library|System|Applications|etc|var\/lib|Users\/Shared)(\/|$)/;

function classify(entry: string, self: string, ctx: EnvContext): EntryClass {
  const s = entry.trim();
  if (new RegExp(`^\\$\\{?${self}\\}?$`).test(s)) return 'self';
  let p = s;
  // $HOME, ~ and the working directory are known.
  p = p.replace(/^(\$\{?HOME\}?|~)(?=\/|$)/, '~');
  const cwd = ctx.cwd ?? ctx.workspace;
  p = p.replace(/^(\$\{?PWD\}?|\$\(pwd\)|`pwd`)(?=\/|$)/, cwd);
  if (p.includes('$') || p.includes('`')) return 'unknown';
  if (p === '' || p === '.' || !(p.startsWith('/') || p.startsWith('~'))) return 'relative';
  if (p === '~' || p.startsWith('~/')) return 'home';
  const norm = p.replace(/\/+$/, '') || '/';
  const ws = ctx.workspace.replace(/\/+$/, '');
  if (norm === ws || norm.startsWith(ws + '/') || (ctx.cwd !== null && (norm === ctx.cwd || norm.startsWith(ctx.cwd + '/')))) return 'workspace';
  if (TEMP_DIR.test(norm)) return 'temp';
  if (/^\/(home|Users)\/[^/]+(\/|$)/.test(norm) || /^\/root(\/|$)/.test(norm)) return 'home';
  if (SYSTEM_DIR.test(norm)) return 'system';
  return 'system';
}

function codePath(e: EnvEntry, name: string, value: EnvValue, ctx: EnvContext): readonly EnvDecision[] {
  const loader = e.rule === CODE;
  for (const entry of splitPathList(value.raw)) {
    const c = classify(entry, name, ctx);
    if (c === 'temp') return [finding(e, name, value, loader ? e.reason : `${e.reason}`)];
    if (c === 'unknown') return [opaque(name, value, 'chooses where code is loaded from')];
    if (loader && (c === 'workspace' || c === 'relative')) return [finding(e, name, value, `${e.reason} (a workspace directory: libraries there are not known)`, 'ask')];
  }
  return NONE;
}

function execPath(e: EnvEntry, name: string, value: EnvValue, ctx: EnvContext): readonly EnvDecision[] {
  for (const entry of splitPathList(value.raw)) {
    const c = classify(entry, name, ctx);
    // Entries after $PATH only add commands; they cannot shadow system ones.
    if (c === 'self') return NONE;
    if (c === 'temp' || c === 'workspace' || c === 'relative') return [finding(e, name, value, `${e.reason} (${entry || 'the current directory'})`)];
    if (c === 'unknown') return [opaque(name, value, 'puts a directory in front of the system commands')];
  }
  return NONE;
}

function repoPath(e: EnvEntry, name: string, value: EnvValue, ctx: EnvContext): readonly EnvDecision[] {
  if (value.text === null) return [opaque(name, value, 'chooses the repository git uses')];
  // A repository in the workspace is one `cd` would reach anyway; elsewhere it is someone else's config.
  const c = classify(value.text, name, ctx);
  return c === 'workspace' || c === 'relative' ? NONE : [finding(e, name, value)];
}

// ---------------------------------------------------------------------------
// Option lists

type OptionJudge = (opt: string, next: string | undefined) => { bad: string; verdict?: 'ask' | 'deny'; consumed?: boolean } | 'unknown' | null;

/** Splits an option string like the program does (blanks; quotes group). */
export function splitOptions(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

function optionList(e: EnvEntry, name: string, value: EnvValue, judge: OptionJudge): readonly EnvDecision[] {
  if (value.text === null) return [opaque(name, value, 'holds options that can load code')];
  const toks = splitOptions(value.text);
  let unknown: string | null = null;
  for (let i = 0; i < toks.length; i++) {
    const r = judge(toks[i]!, toks[i + 1]);
    if (r === null) continue;
    if (r === 'unknown') {
      unknown ??= toks[i]!;
      continue;
    }
    return [finding(e, name, value, `${e.reason} (${r.bad})`, r.verdict)];
  }
  if (unknown !== null) return [{ kind: 'opaque', opaque: 'env_value', reason: `${name} holds ${unknown}, an option whose effect is not modelled` }];
  return NONE;
}

const NODE_BAD = /^(-r|--require|--import|--loader|--experimental-loader|-e|--eval|-p|--print|--inspect|--inspect-brk|--inspect-wait|--inspect-port|--debug|--debug-brk|--openssl-config|--env-file|--env-file-if-exists|--snapshot-blob|--build-snapshot|--experimental-network-imports|--experimental-policy|--policy-integrity|--icu-data-dir|--experimental-sea-config|--watch|--test)(=|$)/;
const NODE_OK = /^(--max-[a-z-]+|--experimental-[a-z-]+|--no-[a-z-]+|--trace[a-z-]*|--enable-source-maps|--unhandled-rejections|--stack-size|--stack-trace-limit|--expose-gc|--heapsnapshot-[a-z-]+|--report-[a-z-]+|--diagnostic-dir|--dns-result-order|--disable-[a-z-]+|--tls-[a-z0-9-]+|--use-openssl-ca|--use-bundled-ca|--use-largepages|--preserve-symlinks(-main)?|--pending-deprecation|--throw-deprecation|--title|--input-type|--conditions|-C|--frozen-intrinsics|--force-[a-z-]+|--zero-fill-buffers|--v8-pool-size|--abort-on-uncaught-exception|--enable-fips|--secure-heap(-min)?|--redirect-warnings|--prof|--cpu-prof[a-z-]*|--heap-prof[a-z-]*|--jitless|--insecure-http-parser|--max_old_space_size|--deprecation|--warnings|--harmony[a-z-]*|--es-module-specifier-resolution|--openssl-legacy-provider|--openssl-shared-config|--permission|--allow-[a-z-]+|--localstorage-file|--network-family-autoselection[a-z-]*|--async-context-frame|--report-on-signal|--heap-snapshot[a-z-]*)(=|$)/;

function nodeOption(opt: string): ReturnType<OptionJudge> {
  if (!opt.startsWith('-')) return null;
  // --experimental-loader is the one --experimental-* flag that loads code.
  if (NODE_BAD.test(opt)) return { bad: opt };
  if (NODE_OK.test(opt)) return null;
  return 'unknown';
}

const JAVA_BAD = /^(-javaagent:|-agentpath:|-agentlib:|-XX:OnError=|-XX:OnOutOfMemoryError=|-Xbootclasspath|-Djava\.system\.class\.loader=|-Djava\.security\.manager=|-Djava\.library\.path=|-Djdk\.attach|-XX:\+EnableDynamicAgentLoading|--patch-module|-Xdebug|-Xrunjdwp|@)/;

function javaOption(opt: string): ReturnType<OptionJudge> {
  if (JAVA_BAD.test(opt)) return { bad: opt.startsWith('@') ? `options read from ${opt.slice(1)}` : opt };
  return null;
}

function cFlag(opt: string, next: string | undefined): ReturnType<OptionJudge> {
  if (/^(-fplugin|-fpass-plugin|-B($|[./~])|-wrapper|-specs|--specs|--ld-path|-Wl,-plugin|-Wl,--plugin|-fuse-ld=[./~])/.test(opt)) return { bad: opt };
  if (opt === '-Xclang' && /^-(load|plugin|add-plugin)/.test(next ?? '')) return { bad: `${opt} ${next}` };
  return null;
}

function rustFlag(opt: string, next: string | undefined): ReturnType<OptionJudge> {
  const v = opt === '-C' || opt === '--codegen' ? next ?? '' : opt.replace(/^(-C|--codegen=)/, '');
  if (/^linker=/.test(v)) {
    const prog = v.slice('linker='.length);
    if (!/^(cc|gcc|clang|ld|lld|ld\.lld|rust-lld|mold|ld64\.lld|ld\.mold|ld\.gold|gold|[\w.+-]*-(gcc|clang|ld))$/.test(programName(prog)) || TEMP_DIR.test(prog) || !prog.startsWith('/') && prog.includes('/')) return { bad: v };
  }
  if (/^-L/.test(opt) && TEMP_DIR.test((opt.length > 2 ? opt.slice(2) : next ?? '').replace(/^\w+=/, ''))) return { bad: `${opt} ${opt.length > 2 ? '' : next ?? ''}`.trim(), verdict: 'ask' };
  return null;
}

function goFlag(opt: string): ReturnType<OptionJudge> {
  if (/^--?(toolexec|exec)(=|$)/.test(opt)) return { bad: opt };
  if (/^--?insecure(=|$)/.test(opt)) return { bad: opt, verdict: 'ask' };
  if (/^--?overlay(=|$)/.test(opt)) return { bad: opt, verdict: 'ask' };
  return null;
}

// ---------------------------------------------------------------------------
// git configuration from the environment

/** Keys whose value is a program git runs (judged like a command-line value). */
const GIT_COMMAND_KEY = /^(core\.(pager|editor|sshcommand|askpass|fsmonitor|hookspath)|sequence\.editor|pager\..+|diff\.external|diff\..+\.(textconv|command)|merge\..+\.driver|filter\..+\.(clean|smudge|process)|gpg\.(.+\.)?program|credential\.(.+\.)?helper|core\.gitproxy|web\.browser|browser\..+\.(cmd|path)|man\..+\.(cmd|path)|uploadpack\.packobjectshook|remote\..+\.(uploadpack|receivepack)|alias\..+)$/i;
/** Keys that change where git loads code or trust from, whatever the value. */
const GIT_DANGEROUS_KEY = /^(core\.(worktree)|include\.path|includeif\..+|protocol\..*allow|uploadpack\..+|receivepack\..+|https?\.(.+\.)?(proxy|sslverify|sslcainfo|sslcapath)|instaweb\..+|init\.templatedir|url\..+\.(push)?insteadof|remote\..+\.proxy|safe\.directory|core\.sshcommand)$/i;

/** Judges one `git -c key=value` pair from the environment. */
export function gitConfigPair(key: string, value: string | null, label: string): readonly EnvDecision[] {
  const k = key.toLowerCase();
  if (GIT_COMMAND_KEY.test(k) || gitKeyRuns(k) || (value !== null && gitKeyEffect(k, value) === 'run')) {
    const bang = /^(alias\.|submodule\..+\.update$)/.test(k);
    if (bang && value !== null && !value.trimStart().startsWith('!')) return NONE;
    if (value === null) return [{ kind: 'opaque', opaque: 'env_value', reason: `${label} sets git ${key} to a value only known at run time` }];
    if (/^\s*ext::/i.test(value)) return [{ kind: 'finding', verdict: 'deny', rule: 'git.config_exec', reason: `${label} sets git ${key} to a transport git runs (${short(value)})` }];
    // pager.<cmd> and the fsmonitor take booleans too.
    if (/^(pager\.|core\.fsmonitor$)/.test(k) && /^(true|false|yes|no|on|off|0|1)$/i.test(value.trim())) return NONE;
    if (k === 'core.hookspath' || k === 'core.fsmonitor' || k.startsWith('credential.')) {
      return [{ kind: 'finding', verdict: 'deny', rule: 'git.config_exec', reason: `${label} sets git ${key}, which makes git run a program (${short(value)})` }];
    }
    const text = bang ? value.trimStart().slice(1) : value;
    const prog = programOf(text);
    if (runsArbitraryCode(prog) || /[;&|`<>]|\$\(/.test(text)) {
      return [{ kind: 'finding', verdict: 'deny', rule: 'git.config_exec', reason: `${label} sets git ${key} to a shell command (${short(value)})` }];
    }
    return [{ kind: 'command', text, label: `${label} ${key}`, rule: 'git.config_exec', verdict: 'deny', reason: `git ${key} runs a program` }];
  }
  if (GIT_DANGEROUS_KEY.test(k) || gitKeyLoads(k)) return [{ kind: 'finding', verdict: 'deny', rule: 'git.config_exec', reason: `${label} sets git ${key}, which changes what git runs or trusts` }];
  return NONE;
}

function gitConfigKey(e: EnvEntry, name: string, value: EnvValue, ctx: EnvContext): readonly EnvDecision[] {
  if (value.text === null) return [opaque(name, value, 'names a git configuration key')];
  const n = name.slice('GIT_CONFIG_KEY_'.length);
  const v = ctx.sibling(`GIT_CONFIG_VALUE_${n}`);
  void e;
  return gitConfigPair(value.text, v === undefined ? '' : v.text, name);
}

/** Pairs in `GIT_CONFIG_PARAMETERS` (`'k=v' 'k2'='v2'`), or null when it does not parse. */
export function parseGitConfigParameters(text: string): { key: string; value: string }[] | null {
  const out: { key: string; value: string }[] = [];
  const re = /\s*'((?:[^']|'\\'')*)'(?:='((?:[^']|'\\'')*)')?/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(text)) !== null) {
    if (m[0] === '') break;
    end = re.lastIndex;
    const a = m[1]!.replace(/'\\''/g, "'");
    if (m[2] !== undefined) out.push({ key: a, value: m[2].replace(/'\\''/g, "'") });
    else {
      const i = a.indexOf('=');
      out.push(i < 0 ? { key: a, value: 'true' } : { key: a.slice(0, i), value: a.slice(i + 1) });
    }
  }
  return text.slice(end).trim() === '' ? out : null;
}

function gitConfigParameters(e: EnvEntry, name: string, value: EnvValue): readonly EnvDecision[] {
  if (value.text === null) return [opaque(name, value, 'holds git configuration')];
  const pairs = parseGitConfigParameters(value.text);
  if (pairs === null) return [finding(e, name, value, 'GIT_CONFIG_PARAMETERS that does not parse (git may read it differently)')];
  return pairs.flatMap((p) => gitConfigPair(p.key, p.value, name));
}

// ---------------------------------------------------------------------------
// npm / yarn / pnpm settings from the environment

const NPM_COMMAND_KEYS = new Set(['script_shell', 'shell', 'editor', 'browser', 'git', 'viewer', 'node_gyp', 'python', 'onload_script', 'init_module', 'init.module', 'sign_git_commit', 'npm_path', 'bun_install_script']);
const NPM_INDEX_KEYS = /^(registry|.+:registry|replace_registry_host|npm_registry_server|npm_scopes_.+|default_registry|install_registry)$/;
const NPM_TRUST_KEYS = /^(strict_ssl|ca|cafile|cert|key|enable_strict_ssl|https_ca_file_path|ca_file_path)$/;
const NPM_PROXY_KEYS = /^(proxy|https_proxy|noproxy|http_proxy|https_proxy_url)$/;
const NPM_CONFIG_KEYS = /^(userconfig|globalconfig|rc_filename|rc_file|global_folder|plugins|yarn_path|prefix|dir|config_dir|cache_dir_override|store_dir)$/;
const NPM_SCRIPT_KEYS = /^(ignore_scripts|enable_scripts|foreground_scripts|unsafe_perm)$/;
const NPM_HARMLESS = /^(cache|cache_folder|cache_dir|loglevel|log_level|yes|fund|audit|update_notifier|legacy_peer_deps|strict_peer_deps|progress|color|prefer_offline|prefer_online|offline|package_lock|package_lock_only|save|save_exact|save_prefix|engine_strict|production|omit|include|workspaces?|access|otp|fetch_retries|fetch_retry_\w+|fetch_timeout|maxsockets|timeout|network_timeout|network_concurrency|child_concurrency|frozen_lockfile|enable_global_cache|enable_telemetry|enable_progress_bars|enable_immutable_installs|enable_inline_builds|enable_color|enable_hyperlinks|enable_message_names|node_linker|nm_mode|checksum_behavior|ignore_engines|silent|quiet|json|dry_run|force|global|depth|link|lockfile|shamefully_hoist|auto_install_peers|dedupe_peer_dependents|resolution_mode|side_effects_cache|verify_store_integrity|unsafe_http_whitelist|install|version|version_git_message|git_tag_version|tag_version_prefix|init_author_name|init_author_email|init_license|init_version|user_agent|heading|usage|unicode|parseable|long|sort|searchlimit|tmp|tmpdir|cidr|umask|bin_links|optional|dev|only|also|ci|frozen_lockfile|virtual_store_dir|modules_dir|lockfile_dir|global_dir|global_bin_dir|store|npm_always_auth|npm_auth_ident|npm_auth_token|_auth|_authtoken|always_auth|auth_type|email|username|logs_max|logs_dir|sbom_format|provenance|pack_destination|script_shell_args|if_present|node_env|yes_always|http_timeout|http_retry|enable_network|preferred_cache_folder|pnp_mode|default_semver_range_prefix|enable_transparent_workspaces|immutable|immutable_cache|check_cache|inline_builds|mode)$/;

function npmConfig(e: EnvEntry, name: string, value: EnvValue, ctx: EnvContext): readonly EnvDecision[] {
  const key = name.replace(/^(npm_config_|yarn_|pnpm_|bun_config_)/i, '').toLowerCase().replace(/-/g, '_');
  const t = value.text;
  if (NPM_COMMAND_KEYS.has(key)) return commandValue(e, name, value);
  if (key === 'node_options') return optionList({ ...e, rule: 'env.node_options', reason: 'NODE_OPTIONS set through npm that preloads code' }, name, value, nodeOption);
  if (NPM_INDEX_KEYS.test(key)) {
    if (t === null) return [opaque(name, value, 'chooses a package registry')];
    if (DEFAULT_INDEX.test(t)) return NONE;
    const plain = /^http:\/\//i.test(t) && !/^http:\/\/(localhost|127\.|\[::1\])/i.test(t);
    return [{ kind: 'finding', verdict: plain ? 'deny' : 'ask', rule: 'supply_chain.untrusted_index', reason: `installs packages from a non-default registry${plain ? ' over plain http' : ''}: ${name}=${short(t)}` }];
  }
  if (NPM_TRUST_KEYS.test(key)) {
    if (t !== null && /^(strict_ssl|enable_strict_ssl)$/.test(key) && !/^(false|0|no|off)$/i.test(t)) return NONE;
    return [{ kind: 'finding', verdict: 'ask', rule: 'env.tls_trust', reason: `changes which certificates the package manager trusts: ${name}=${short(t ?? value.raw)}` }];
  }
  if (NPM_PROXY_KEYS.test(key)) {
    if (t === '') return NONE;
    return [{ kind: 'finding', verdict: 'ask', rule: 'env.proxy', reason: `sends package-manager traffic through a proxy: ${name}=${short(t ?? value.raw)}` }];
  }
  if (NPM_CONFIG_KEYS.test(key)) {
    if (t === '/dev/null') return NONE;
    if (t !== null && key === 'prefix' || t !== null && key === 'cache_dir_override') return NONE;
    return [{ kind: 'finding', verdict: 'ask', rule: 'env.config_redirect', reason: `points the package manager at other configuration or plugins: ${name}=${short(t ?? value.raw)}` }];
  }
  if (NPM_SCRIPT_KEYS.test(key) || NPM_HARMLESS.test(key)) return NONE;
  void ctx;
  return [{ kind: 'opaque', opaque: 'env_value', reason: `${name}: package-manager setting "${key}" whose effect is not modelled` }];
}

// ---------------------------------------------------------------------------
// Value classes

const SYSTEM_CA = /^(\/etc\/(ssl|pki|ca-certificates)\/|\/usr\/(local\/)?share\/ca-certificates\/|\/usr\/lib\/ssl\/|\/usr\/local\/etc\/openssl[^/]*\/|\/opt\/homebrew\/etc\/(openssl|ca-certificates)[^/]*\/|\/System\/Library\/|.*\/certifi\/cacert\.pem$)/;
const DEFAULT_INDEX = /^(https:\/\/(registry\.npmjs\.org|registry\.yarnpkg\.com|registry\.npmmirror\.com|pypi\.org|pypi\.python\.org|files\.pythonhosted\.org|download\.pytorch\.org|proxy\.golang\.org|sum\.golang\.org|goproxy\.io|index\.crates\.io|github\.com\/rust-lang\/crates\.io-index|rubygems\.org|huggingface\.co|conda\.anaconda\.org|repo\.anaconda\.com)(\/[^\s]*)?|sparse\+https:\/\/index\.crates\.io\/?|direct|sum\.golang\.org|defaults|conda-forge)$/;
const LOCAL_HOST = /^(localhost|127\.\d+\.\d+\.\d+|::1|\[::1\]|0\.0\.0\.0|\.?local|\.localhost|\*\.local|[\w-]+\.local|host\.docker\.internal|\.internal|10\.\d+\.\d+\.\d+(\/\d+)?|192\.168\.\d+\.\d+(\/\d+)?|172\.(1[6-9]|2\d|3[01])\.\d+\.\d+(\/\d+)?)(:\d+)?$/;

// ---------------------------------------------------------------------------
// Start-up files

const STARTUP_FILE = /(^|\/)(\.bashrc|\.bash_profile|\.bash_login|\.profile|\.zshrc|\.zshenv|\.zprofile|\.zlogin|\.kshrc|\.mkshrc|\.envrc|\.pam_environment)$|^\/etc\/(environment|profile|bash\.bashrc|zsh\/\w+|profile\.d\/.+)$/;

/** Whether a file is read as variable assignments by a later shell or login (`~/.bashrc`, `/etc/environment`). */
export function isStartupFile(path: string): boolean {
  return STARTUP_FILE.test(path);
}

/**
 * Assignments in text written into a start-up file: `export X=v`,
 * `declare -x X=v`, `X=v` lines (quotes removed; a value with `$` or a
 * backtick is dynamic).
 */
export function exportedAssignments(text: string): { name: string; value: EnvValue }[] {
  const out: { name: string; value: EnvValue }[] = [];
  for (const line of text.split(/\n|;|&&/)) {
    const m = /^\s*(?:export\s+|declare\s+-[a-zA-Z]*x[a-zA-Z]*\s+|typeset\s+-[a-zA-Z]*x[a-zA-Z]*\s+|setenv\s+)?([A-Za-z_][A-Za-z0-9_]*)(?:=|\s+(?=\S))(.*)$/.exec(line)
      // `sed -i '$a export X=v'`, `… && export X=v`: an export anywhere in the line.
      ?? /(?:^|[\s;&|(])(?:export|declare\s+-[a-zA-Z]*x[a-zA-Z]*|typeset\s+-[a-zA-Z]*x[a-zA-Z]*)\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m || /^(if|then|fi|for|do|done|while|case|esac|echo|alias|source|function|return|exit|local|set|unset|shopt|eval|exec|cd)$/.test(m[1]!)) continue;
    if (!/^\s*(export|declare|typeset|setenv)\b/.test(line) && !line.includes('=')) continue;
    const raw = m[2]!.trim().replace(/\s+#.*$/, '');
    out.push({ name: m[1]!, value: { text: shellWord(raw), raw } });
  }
  return out;
}

/**
 * The value of one shell word as bash would give it (quotes removed, `\`
 * escapes applied), or null when an unquoted or double-quoted part expands
 * (`$`, backtick). Stops at the first unquoted blank.
 */
export function shellWord(raw: string): string | null {
  let out = '';
  let q: string | null = null;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (q === "'") {
      if (c === "'") q = null;
      else out += c;
      continue;
    }
    if (c === '\\' && i + 1 < raw.length) {
      const n = raw[++i]!;
      out += q === '"' && !'$`"\\\n'.includes(n) ? '\\' + n : n;
      continue;
    }
    if (c === '$' || c === '`') return null;
    if (q === '"') {
      if (c === '"') q = null;
      else out += c;
      continue;
    }
    if (c === "'" || c === '"') q = c;
    else if (/\s/.test(c)) break;
    else out += c;
  }
  return out;
}

/**
 * `env -S STRING` splits STRING into arguments itself (blanks separate,
 * quotes group, `\` escapes; `${VAR}` is left to the caller as unknown).
 * Returns the words, or null when the string uses something this does not
 * model.
 */
export function splitEnvS(text: string): string[] | null {
  const out: string[] = [];
  let cur: string | null = null;
  let q: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (q === "'") {
      if (c === "'") q = null;
      else cur += c;
      continue;
    }
    if (c === '\\' && i + 1 < text.length) {
      const n = text[++i]!;
      const map: Record<string, string> = { t: '\t', n: '\n', r: '\r', f: '\f', v: '\v', _: ' ', '#': '#', $: '$', '\\': '\\', '"': '"', "'": "'" };
      if (n === 'c') break;
      if (map[n] === undefined) return null;
      cur = (cur ?? '') + (n === '_' && q === null ? ' ' : map[n]);
      continue;
    }
    if (c === '$') return null;
    if (q === '"') {
      if (c === '"') q = null;
      else cur += c;
      continue;
    }
    if (c === "'" || c === '"') {
      q = c;
      cur ??= '';
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (cur !== null) out.push(cur);
      cur = null;
    } else if (c === '#' && cur === null) break;
    else cur = (cur ?? '') + c;
  }
  if (q !== null) return null;
  if (cur !== null) out.push(cur);
  return out;
}

/** Plain text of an argument, or null when it is only known at run time. */
type ArgText = string | null;

/**
 * Variables a command sets for other programs: `systemctl [--user]
 * set-environment A=v`, `systemd-run --setenv=A=v`/`-E A=v`, `launchctl
 * setenv A v`, `tmux set-environment [-g] A v`, `dbus-update-activation-environment A=v`.
 */
export function envSetByCommand(name: string, args: readonly ArgText[]): { name: string; value: EnvValue }[] {
  const out: { name: string; value: EnvValue }[] = [];
  const pair = (t: ArgText): void => {
    const m = t === null ? null : /^([^=\s]+)=(.*)$/s.exec(t);
    if (m) out.push({ name: m[1]!, value: { text: m[2]!, raw: m[2]! } });
  };
  const pos = args.filter((a) => a === null || !a.startsWith('-'));
  switch (name) {
    case 'systemctl':
      if (pos[0] === 'set-environment') pos.slice(1).forEach(pair);
      break;
    case 'dbus-update-activation-environment':
      pos.forEach(pair);
      break;
    case 'systemd-run':
      for (let i = 0; i < args.length; i++) {
        const a = args[i];
        if (a === '-E' || a === '--setenv') pair(args[i + 1] ?? null);
        else if (a?.startsWith('--setenv=')) pair(a.slice(9));
      }
      break;
    case 'launchctl':
      if (pos[0] === 'setenv' && typeof pos[1] === 'string') out.push({ name: pos[1], value: { text: pos[2] ?? null, raw: pos[2] ?? '$?' } });
      break;
    case 'tmux':
      if ((pos[0] === 'set-environment' || pos[0] === 'setenv') && typeof pos[1] === 'string') out.push({ name: pos[1], value: { text: pos[2] ?? null, raw: pos[2] ?? '$?' } });
      break;
    // Command-line settings that are the same setting as a variable of the table: judged as that variable.
    case 'make':
    case 'gmake':
    case 'bmake':
      // `make CC='…' SHELL=/tmp/x`: command-line variables override the makefile's and the environment's.
      pos.forEach(pair);
      break;
    case 'go':
      if (pos[0] === 'env' && args.includes('-w')) pos.slice(1).forEach(pair);
      break;
    case 'npm':
    case 'pnpm':
    case 'yarn':
    case 'bun':
      npmConfigSet(pos, out);
      break;
    case 'gcc':
    case 'cc':
    case 'clang':
    case 'g++':
    case 'c++':
    case 'clang++':
    case 'cpp':
    case 'nvcc':
      out.push({ name: 'CFLAGS', value: joined(args) });
      break;
    case 'rustc':
      out.push({ name: 'RUSTFLAGS', value: joined(args) });
      break;
    case 'java':
      out.push({ name: 'JAVA_TOOL_OPTIONS', value: joined(args.slice(0, Math.max(0, args.findIndex((a) => a === '-jar' || (a !== null && !a.startsWith('-')))) || args.length)) });
      break;
    case 'javac':
    case 'jshell':
    case 'jar':
      out.push({ name: 'JAVA_TOOL_OPTIONS', value: joined(args.filter((a) => a?.startsWith('-J') ?? false).map((a) => a!.slice(2))) });
      break;
    case 'cmake':
      for (let i = 0; i < args.length; i++) {
        const d = args[i] === '-D' ? args[i + 1] ?? null : args[i]?.startsWith('-D') ? args[i]!.slice(2) : undefined;
        const m = d === undefined || d === null ? null : /^(CMAKE_\w*(?:COMPILER_LAUNCHER|COMPILER|LINKER|LINKER_LAUNCHER)|CMAKE_MAKE_PROGRAM)(?::\w+)?=(.*)$/s.exec(d);
        if (m) out.push({ name: 'CC', value: { text: m[2]!, raw: m[2]! } });
      }
      break;
    default:
      break;
  }
  return out;
}

/** Literal arguments joined for an option-list judge (arguments only known at run time are left out). */
function joined(args: readonly ArgText[]): EnvValue {
  const t = args.filter((a): a is string => a !== null).join(' ');
  return { text: t, raw: t };
}

/** `npm config set KEY VALUE`, `npm set KEY=VALUE`, `pnpm config set …`: the same as `npm_config_KEY`. */
function npmConfigSet(pos: readonly ArgText[], out: { name: string; value: EnvValue }[]): void {
  const i = pos[0] === 'config' || pos[0] === 'c' ? 1 : 0;
  if (pos[i] !== 'set') return;
  const rest = pos.slice(i + 1);
  const key = (k: string): string => `npm_config_${k.replace(/^--/, '').replace(/-/g, '_')}`;
  if (typeof rest[0] === 'string' && !rest[0].includes('=')) {
    out.push({ name: key(rest[0]), value: { text: rest[1] ?? null, raw: rest[1] ?? '$?' } });
    return;
  }
  for (const t of rest) {
    const m = t === null ? null : /^([^=\s]+)=(.*)$/s.exec(t);
    if (m) out.push({ name: key(m[1]!), value: { text: m[2]!, raw: m[2]! } });
  }
}
