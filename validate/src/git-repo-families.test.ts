// git in a repository only known at run time: its .git/config, hooks and attributes are start-up files for git
// (core.fsmonitor, hooks, filters, diff drivers, gpg.program) the chain cannot see. Every way of pointing git at
// such a repository, crossed with every subcommand that can run them, is opaque; read-only plumbing stays allowed.
import { beforeAll, describe, expect, it } from 'vitest';
import { createValidator, type Validator } from './index.ts';

let v: Validator;
beforeAll(async () => {
  v = await createValidator();
});

/** Ways to run git in a directory only known at run time ({G}: the git arguments). */
const WHERE: readonly string[] = [
  'git -C "$d" {G}', 'git -C $d {G}', 'git -C "$(ls -d /tmp/*/ | head -1)" {G}', 'git --git-dir="$d/.git" {G}', 'git --work-tree "$d" {G}',
  'cd "$d" && git {G}', 'cd $d; git {G}', 'cd "$(mktemp -d)" && git {G}', 'pushd "$d" && git {G}', 'for d in /tmp/*/; do git -C "$d" {G}; done',
  'for d in /tmp/*/; do (cd "$d" && git {G}); done', 'find /tmp -name .git -execdir git {G} \\;'.replace('-execdir git {G} \\;', '-type d') + '; cd "$d" && git {G}',
  'd=$(dirname "$f"); cd "$d" && git {G}', 'cd "${REPO:-/tmp/r}" && git {G}', 'timeout 10 git -C "$d" {G}', 'env -u GIT_DIR git -C "$d" {G}',
];

/** Subcommands that read keys or hooks that run programs (fsmonitor, hooks, filters, diff/textconv drivers, signatures). */
const RUNS: readonly string[] = ['status', 'diff', 'diff --stat', 'log -p', 'log --oneline', 'show HEAD', 'add .', 'commit -m x', 'checkout main', 'merge x', 'pull', 'fetch', 'push', 'stash', 'rebase main', 'am x.patch', 'apply x.patch', 'blame f', 'reset --hard', 'switch main', 'tag -s v1 -m v1', 'cat-file --textconv HEAD:f', 'remote update'];

/** Plumbing that runs no program the repository names. */
const READS: readonly string[] = ['rev-parse --show-toplevel', 'rev-parse HEAD', 'config --get remote.origin.url', 'branch --show-current', 'remote -v', 'ls-tree HEAD', 'show-ref', 'for-each-ref refs/heads', 'describe --tags', 'rev-list --count HEAD', 'merge-base HEAD main', 'check-ignore x'];

const members = (subs: readonly string[]): string[] => WHERE.flatMap((w) => subs.map((g) => w.replace('{G}', g).replace('{G}', g)));

describe('git in a repository only known at run time', () => {
  const risky = members(RUNS);
  it(`${risky.length} members whose subcommand can run the repository's programs are not allowed`, () => {
    expect(risky.length).toBeGreaterThan(300);
    const allowed = risky.filter((c) => v.validate(c).verdict === 'allow');
    expect(allowed).toEqual([]);
    const notOpaque = risky.filter((c) => v.validate(c).effects.opaque.length === 0);
    expect(notOpaque).toEqual([]);
  });
  it('read-only plumbing there stays allowed', () => {
    const plain = WHERE.filter((w) => !/mktemp|find|ls -d/.test(w)).flatMap((w) => READS.map((g) => w.replace('{G}', g).replace('{G}', g)));
    expect(plain.filter((c) => v.validate(c).verdict !== 'allow')).toEqual([]);
  });
  it('the workspace and its subdirectories stay allowed', () => {
    const ok = RUNS.filter((g) => !/^(push|pull|fetch|tag -s|remote update|reset --hard|cat-file)/.test(g)).flatMap((g) => [`git ${g}`, `cd src && git ${g}`, `cd /workspace && git ${g}`, `git -C src ${g}`]);
    expect(ok.filter((c) => v.validate(c).verdict !== 'allow')).toEqual([]);
  });
});
