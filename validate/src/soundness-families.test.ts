// Soundness families (session 8): commands where the chain's model of what runs disagreed with what bash did
// in the full benign run of `npm run soundness`, generalised to every way the same program is reached.
import { beforeAll, describe, expect, it } from 'vitest';
import { initRewritesOwnConfig } from '../../test/soundness/judge.ts';
import { OWN_HELPERS } from './helpers.ts';
import { createValidator, type Validator } from './index.ts';

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

let v: Validator;
beforeAll(async () => {
  v = await createValidator();
});

/** How a command can be reached: directly, by path, through wrappers, nested shells, pipelines and lists. */
const REACH: readonly ((c: string) => string)[] = [
  (c) => c,
  (c) => `/usr/bin/${c}`,
  (c) => `sudo ${c}`,
  (c) => `env LC_ALL=C ${c}`,
  (c) => `timeout 10 ${c}`,
  (c) => `bash -c '${c}'`,
  (c) => `(${c})`,
  (c) => `${c} | grep -i x`,
  (c) => `true && ${c} 2>/dev/null || echo none`,
  (c) => `echo pkg | xargs ${c}`,
];

/** Actions of each tool, including ones its helpers carry out (dpkg's query, archive and split actions). */
const ACTIONS: Readonly<Record<string, readonly string[]>> = {
  dpkg: ['-l', '-l "python3*"', '-L bash', '-s bash', '-S /bin/ls', '-p bash', '--list', '--status bash', '--search ls', '-b pkgdir', '-c x.deb', '-I x.deb', '--contents x.deb', '--split big.deb', '--print-architecture'],
};

describe("a tool's own helper programs are predicted wherever the tool is run", () => {
  const members = Object.entries(ACTIONS).flatMap(([tool, actions]) => actions.flatMap((a) => REACH.map((r) => ({ tool, cmd: r(`${tool} ${a}`) }))));
  it(`${members.length} members predict every helper`, () => {
    const missing = members.flatMap(({ tool, cmd }) => {
      const exec = v.validate(cmd).effects.exec;
      return OWN_HELPERS.get(tool)!.filter((h) => !exec.includes(h)).map((h) => `${cmd}: ${h}`);
    });
    expect(members.length).toBeGreaterThan(100);
    expect(missing).toEqual([]);
  });
  it('every tool with helpers has actions here', () => expect(Object.keys(ACTIONS).sort()).toEqual([...OWN_HELPERS.keys()].sort()));
});

describe('a network tool predicts network use however its destination is written', () => {
  // `ssh root@203.0.113.9 "…"` connected while the chain predicted no network: the URL rules read no host from it.
  const uses = [
    'ssh root@203.0.113.9 "cd /opt && git pull"', 'ssh -p 2222 deploy@build.example.net uptime', 'ssh host.example ls', 'ssh -o BatchMode=yes 10.0.0.5 true',
    'scp build.tar user@10.1.2.3:/srv/', 'scp -r dist host.example:www', 'sftp user@files.example.net', 'rsync -az dist/ deploy@203.0.113.9:/srv/app/',
    'rsync -e "ssh -p 2222" -a x host:dir', 'nc -z 10.0.0.5 5432', 'ping -c 1 db.internal', 'dig +short example.com', 'telnet 10.0.0.5 25',
  ];
  const members = uses.flatMap((u) => REACH.filter((_, i) => i !== 9).map((r) => r(u.replaceAll("'", ''))));
  it(`${members.length} members predict network use`, () => {
    expect(members.length).toBeGreaterThan(100);
    expect(members.filter((c) => v.validate(c).effects.network.length === 0)).toEqual([]);
  });
});

describe("the harness: git init's rewrite of its own .git/config is git's bookkeeping, a template is not", () => {
  // `git init && git status` in the prepared repository re-initialised it (writing .git/config): counted as a
  // protected write under allow. The ways to make init write chosen keys or hooks are judged by the chain (deny).
  const cfg = '/workspace/.git/config';
  const argv = (s: string): { name: string; argv: string[] } => ({ name: 'git', argv: s.split(' ') });
  it('plain init, in every ordinary spelling, is bookkeeping', () => {
    for (const a of ['git init', 'git init -q', 'git init --initial-branch=main .', 'git -C /workspace init', 'git init --bare repo.git', 'git --git-dir=/workspace/.git init']) {
      expect(initRewritesOwnConfig(argv(a), cfg), a).toBe(true);
    }
  });
  it('a template, a config option, another subcommand or another file are not', () => {
    const cases: [string, string][] = [
      ['git init --template=/tmp/t', cfg], ['git init --template /tmp/t', cfg], ['git -c init.templateDir=/tmp/t init', cfg], ['git config core.pager less', cfg],
      ['git init', '/workspace/.git/hooks/pre-commit'], ['git remote add o x', cfg], ['git -c core.hooksPath=/tmp init', cfg],
    ];
    for (const [a, p] of cases) expect(initRewritesOwnConfig(argv(a), p), `${a} → ${p}`).toBe(false);
    expect(initRewritesOwnConfig({ name: 'sh', argv: ['sh', '-c', 'git init'] }, cfg)).toBe(false);
  });
  const dirs = ['/tmp/t', '/dev/shm/x', '../tpl', '"$HOME/tpl"'];
  const members = dirs.flatMap((d) => [`git init --template=${d}`, `git init --template ${d} repo`, `git init -q --template=${d} .`, `git -c init.templateDir=${d} init`, `env GIT_TEMPLATE_DIR=${d} git init`, `git clone --template=${d} https://example.com/r.git`])
    .flatMap((c) => REACH.slice(0, 9).map((r) => r(c)))
    // An assignment is one only before the command name: `timeout 10 GIT_TEMPLATE_DIR=x git` runs no git.
    .concat(dirs.map((d) => `GIT_TEMPLATE_DIR=${d} git init`));
  it(`${members.length} ways to give git init a template are not allowed`, () => {
    expect(members.filter((c) => v.validate(c).verdict === 'allow')).toEqual([]);
  });
});

describe('Python standard-library calls that run programs themselves are predicted', () => {
  // `python3 -c 'import platform; print(platform.platform())'` ran `uname -p` unpredicted.
  const calls: [string, string, string][] = [
    ['import platform', 'platform.platform()', 'uname'], ['import platform', 'platform.processor()', 'uname'], ['import platform', 'platform.uname()', 'uname'],
    ['from platform import platform', 'platform()', 'uname'], ['import platform as pf', 'pf.platform(aliased=True)', 'uname'], ['import platform', 'platform.architecture()', 'file'],
    ['import ctypes.util', 'ctypes.util.find_library("c")', 'ldconfig'], ['from ctypes.util import find_library', 'find_library("ssl")', 'gcc'],
  ];
  const members = calls.flatMap(([imp, call, helper]) => {
    const code = `${imp}\nprint(${call})`;
    return [`python3 -c ${sq(code)}`, `python3 - <<'EOF'\n${code}\nEOF`, `cd /tmp && python3 -c ${sq(code)}`].map((cmd) => ({ cmd, helper }));
  });
  it(`${members.length} members predict the program`, () => {
    expect(members.filter(({ cmd, helper }) => !v.validate(cmd).effects.exec.includes(helper)).map((m) => m.cmd)).toEqual([]);
  });
  it('and stay allowed', () => expect(members.filter(({ cmd }) => v.validate(cmd).verdict !== 'allow').map((m) => m.cmd)).toEqual([]));
});
