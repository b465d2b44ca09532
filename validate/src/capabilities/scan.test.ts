import { beforeAll, describe, expect, it } from 'vitest';
import { loadBashGrammar, walkScript, type BashGrammar } from '../index.ts';
import { extract } from './lang.ts';
import { scanArgv, toolFor, type Action } from './scan.ts';

let grammar: BashGrammar;
beforeAll(async () => {
  grammar = await loadBashGrammar();
});

function scan(cmd: string): Action[] {
  const p = grammar.parse(cmd, 1000);
  const c = walkScript(p.root, cmd, '/work').cmds[0]!;
  const name = c.name!.value!;
  return scanArgv(toolFor(name)!, name, c.args);
}

const kinds = (a: readonly Action[]) => a.map((x) => (x.kind === 'opaque' ? `opaque.${x.what}` : x.kind));
const texts = (a: readonly Action[]) => a.map((x) => ('text' in x ? x.text : 'words' in x ? x.words.map((w) => w.value).join(' ') : null));

describe('option parsing from the table', () => {
  it('GNU long options: exact, `=value`, separate value, and unambiguous prefixes', () => {
    expect(texts(scan("tar --to-command='id' -xf a.tar"))).toEqual(['id']);
    expect(texts(scan("tar --to-command 'id' -xf a.tar"))).toEqual(['id']);
    expect(kinds(scan("tar --checkpoint-act=exec='id' -cf x.tar ."))).toEqual(['shell']);
    expect(texts(scan("tar --checkpoint-act=exec='id' -cf x.tar ."))).toEqual(['id']);
    // --checkpoint=1 is a plain value; only exec= actions run something.
    expect(kinds(scan('tar --checkpoint=1 --checkpoint-action=dot -cf x.tar .'))).toEqual([]);
  });

  it('bundled short options with attached or following values', () => {
    expect(texts(scan("tar -xzI'zstd -d' -f a.tar"))).toEqual(['zstd -d']);
    expect(texts(scan("tar -xzf a.tar -I 'gzip -d'"))).toEqual(['gzip -d']);
    expect(texts(scan("ssh -oProxyCommand='nc %h %p' host"))).toEqual(['nc %h %p', 'host']);
    expect(kinds(scan('xargs -0 -I{} echo {}'))).toEqual(['argv']);
    expect(texts(scan('xargs -0 -I{} echo {}'))).toEqual(['echo {}']);
  });

  it('wrappers: argv starts at the configured positional; options after it belong to the program', () => {
    expect(texts(scan('timeout -s KILL 5s npm test --watch'))).toEqual(['npm test --watch']);
    expect(texts(scan('chrt -o 0 make -j4'))).toEqual(['make -j4']);
    expect(texts(scan('flock /tmp/l -c "make x"'))).toEqual(['make x']);
    expect(kinds(scan('flock /tmp/l -c "make x"'))).toEqual(['shell']);
    expect(texts(scan('sudo -u bob FOO=1 env'))).toEqual(['FOO=1 env']);
    expect(texts(scan('nice -n 5 -- ls -l'))).toEqual(['ls -l']);
  });

  it('mode flags that run nothing stop the argv (`command -v`, `taskset -p`, `ionice -p`)', () => {
    expect(kinds(scan('command -v node'))).toEqual([]);
    expect(kinds(scan('taskset -p 1234'))).toEqual([]);
    expect(kinds(scan('ionice -c3 -p 1'))).toEqual([]);
    expect(kinds(scan('prlimit --pid 1 --nofile=10'))).toEqual([]);
  });

  it('unknown options of an execution-capable tool are opaque; of a non-strict tool they are not', () => {
    expect(kinds(scan('timeout --frobnicate 5 ls'))).toEqual(['opaque.unknown_option', 'argv']);
    expect(kinds(scan('xargs --new-exec-thing=x echo'))).toEqual(['opaque.unknown_option', 'argv']);
    expect(kinds(scan('tar -xQf a.tar'))).toEqual(['opaque.unknown_option']);
    expect(kinds(scan('valgrind --frobnicate=1 ./a.out'))).toEqual(['argv']);
  });

  it('dynamic words: an unquoted expansion may split into options; a quoted one only where one word can execute', () => {
    expect(kinds(scan('xargs $OPTS echo'))).toEqual(['opaque.dynamic_option', 'argv']);
    expect(kinds(scan('tar -cf x.tar "$F"'))).toEqual(['opaque.dynamic_option']);
    expect(kinds(scan('find "$D" -name x'))).toEqual([]);
    expect(kinds(scan('tar -cf x.tar *'))).toEqual(['opaque.dynamic_option']);
    expect(kinds(scan('tar -cf x.tar ./*'))).toEqual([]);
    expect(kinds(scan('tar -cf x.tar "*"'))).toEqual([]);
    expect(kinds(scan('find $D -name x'))).toEqual(['opaque.dynamic_option']);
    // The value is returned unknown (text null); apply.ts makes it opaque.
    expect(kinds(scan('tar --to-command="$C" -xf a.tar'))).toEqual(['shell']);
    expect(texts(scan('tar --to-command="$C" -xf a.tar'))).toEqual([null]);
    expect(kinds(scan('ssh -o "ProxyCommand=$C" h'))).toEqual(['opaque.dynamic_exec', 'net']);
    expect(kinds(scan('ssh -o "Port=$P" h'))).toEqual(['net']);
  });

  it('find: -exec argv ends at ; or +, and scanning continues after it', () => {
    const a = scan("find . -exec grep -l x {} \\; -exec rm {} + -name '*.py'");
    expect(kinds(a)).toEqual(['argv', 'argv']);
    expect(texts(a)).toEqual(['grep -l x {}', 'rm {}']);
  });

  it('subcommands have their own options and positionals (docker, kubectl, tmux with ; chains)', () => {
    expect(texts(scan('docker run --rm -e A=1 -v /x:/y --name n alpine ls -la'))).toEqual(['ls -la']);
    expect(texts(scan('kubectl exec -n ns pod -c app -- sh -c id'))).toEqual(['sh -c id']);
    expect(texts(scan("tmux new-session -d -s x 'make' \\; split-window 'npm test'"))).toEqual(['make', 'npm test']);
    expect(kinds(scan('tmux ls'))).toEqual([]);
    expect(kinds(scan('git status --porcelain=v2 --frob'))).toEqual([]);
    expect(kinds(scan('git --frob status'))).toEqual(['opaque.unknown_option']);
  });

  it('positional settings and languages', () => {
    expect(texts(scan("socat - 'EXEC:id,pty,stderr'"))).toEqual(['id']);
    expect(texts(scan("make SHELL='/bin/bash -x' all"))).toEqual(['/bin/bash -x']);
    expect(kinds(scan("sqlite3 db '.shell id'"))).toEqual(['bang']);
    expect(kinds(scan("vim '+!id' f"))).toEqual(['bang']);
    expect(texts(scan("parallel ::: 'echo a' 'echo b'"))).toEqual(['echo a', 'echo b']);
    expect(texts(scan("parallel gzip ::: a b"))).toEqual(['gzip']);
  });

  it('tools that start a shell without a command read it from stdin', () => {
    expect(kinds(scan('unshare -r'))).toEqual(['stdin']);
    expect(kinds(scan('unshare -r id'))).toEqual(['argv']);
    expect(kinds(scan('at now'))).toEqual(['stdin']);
  });
});

describe('tool command languages', () => {
  it.each([
    ['ex', ':!id', ['id'], false],
    ['ex', 'silent !id', ['id'], false],
    ['ex', ':r !curl x', ['curl x'], false],
    ['ex', 'wq', [], false],
    ['ex', '%s/a/b/g | wq', [], false],
    ['ex', 'call system("id")', [], true],
    ['ex', 'py3 import os', [], true],
    ['gdb', '!id', ['id'], false],
    ['gdb', 'shell id', ['id'], false],
    ['gdb', 'pipe bt | sh', [' sh'], false],
    ['gdb', 'bt full', [], false],
    ['gdb', 'python import os', [], true],
    ['sqlite', '.shell id', ['id'], false],
    ['sqlite', '.system id', ['id'], false],
    ['sqlite', '.once |id', ['id'], false],
    ['sqlite', 'SELECT 1;', [], false],
    ['sqlite', '.load /tmp/x.so', [], true],
    ['psql', '\\! id', ['id'], false],
    ['psql', "COPY t FROM PROGRAM 'id'", ['id'], false],
    ['psql', '\\o |id', ['id'], false],
    ['psql', 'select 1', [], false],
    ['psql', '\\i /tmp/x.sql', [], true],
    ['mysql', '\\! id', ['id'], false],
    ['mysql', 'select 1; system id', ['id'], false],
    ['mysql', 'source /tmp/x.sql', [], true],
    ['bangline', '!id', ['id'], false],
    ['bangline', '1p!id', [], true],
    ['less', '!id', ['id'], false],
    ['less', 'G', [], false],
    ['m4', 'esyscmd(id)', ['id'], false],
    ['m4', 'define(x, 1)', [], false],
    ['tcl', 'spawn /bin/sh; interact', ['/bin/sh'], true],
    ['tcl', 'set x 1\nexec ls -la', ['ls -la'], true],
    ['make', 'x:;id', ['id'], true],
    ['make', 'y := $(shell uname)', ['uname'], true],
    ['elisp', '(shell-command "id")', ['id'], true],
    ['rpm', '%(id)', ['id'], true],
    ['calls', 'system("id")', ['id'], true],
    ['calls', '(system "id")', ['id'], true],
    ['keys', 'Enter', [], false],
    ['keys', 'npm test', ['npm test'], true],
    ['screen', 'stuff', [], true],
    ['screen', 'detach', [], false],
  ] as const)('%s: %j', (lang, text, cmds, opaque) => {
    const r = extract(lang, text);
    expect(r.cmds).toEqual(cmds);
    expect(r.opaque !== null).toBe(opaque);
  });
});
