/**
 * Generated path-tracking families (issue 12, "Paths"): a protected file
 * reached through variables, `cd` (with `&&`, `||`, `;`, `pushd`), globs
 * resolved against the tracked directory, symbolic links made earlier in the
 * command, loops, run-time text, and writes into protected agent/CI/start-up
 * config through `cp`/`mv`/`install`/`ln`/`rsync` into a directory, `-t`,
 * `tee`, `sponge`. Every spelling is combined with every target; the expected
 * outcome follows from how bash resolves the path, so each member is a test
 * that fails if the chain lets it through (or, for the controls, stops it).
 */

/** A protected file, split into directory and name so spellings can take it apart. */
interface Target {
  readonly dir: string;
  readonly leaf: string;
}

/** Files reading which the default policy denies or asks about. */
const READ_TARGETS: readonly Target[] = [
  { dir: '~/.ssh', leaf: 'id_rsa' },
  { dir: '~/.ssh', leaf: 'identity' },
  { dir: '~/.aws', leaf: 'credentials' },
  { dir: '~/.config/gh', leaf: 'hosts.yml' },
  { dir: '/etc', leaf: 'shadow' },
  { dir: '~/.docker', leaf: 'config.json' },
];

/** Files writing which the default policy denies or asks about (agent/CI config, start-up files, keys). */
const WRITE_TARGETS: readonly Target[] = [
  { dir: '.github/workflows', leaf: 'ci.yml' },
  { dir: '.claude', leaf: 'settings.json' },
  { dir: '.git/hooks', leaf: 'pre-commit' },
  { dir: '~', leaf: '.bashrc' },
  { dir: '~/.ssh', leaf: 'authorized_keys' },
  { dir: '.vscode', leaf: 'tasks.json' },
];

/** Ways to read `dir/leaf`. `{D}`, `{L}` and `{P}` stand for the directory, the name and the whole path. */
const READ_SPELLINGS: readonly string[] = [
  'cat {P}',
  'f={P}; cat "$f"',
  'f={P}; cat $f',
  'd={D}; cat "$d/{L}"',
  'd={D}; n={L}; cat "$d/$n"',
  'cd {D} && cat {L}',
  'cd {D}; cat {L}',
  'cd {D} || exit 1; cat {L}',
  'cd /tmp && cd {D} && cat ./{L}',
  'pushd {D} >/dev/null; cat {L}',
  'cd {D} && cat *',
  'cd {D} && cat ./*',
  'cd {D} && head -n 5 {L}*',
  'ln -s {D} k; cat k/{L}',
  'ln -sf {D} k && cat k/{L}',
  'ln -s {P} k; cat k',
  'ln -s {P} k; cp k /tmp/out',
  'mkdir -p w && ln -s {D} w/k && cat w/k/{L}',
  'for f in {P}; do cat "$f"; done',
  'for d in /tmp {D}; do cat "$d/{L}"; done',
  'cat "$(printf %s {P})"',
  'cat $(echo {P})',
  'read -r f <<< {P}; cat "$f"',
  'f=$(cat list.txt); cat "$f"',
  'cat "$(cat list.txt)"',
  'while read -r f; do cat "$f"; done < list.txt',
  'd=$(dirname {P}); cat "$d/{L}"',
];

/** Ways to write `dir/leaf` from a workspace file `x`/`L`. */
const WRITE_SPELLINGS: readonly string[] = [
  'cp x {P}',
  'cp {L} {D}/',
  'cp {L} {D}',
  'cp -t {D} {L}',
  'cp --target-directory={D} {L}',
  'cp -t{D} {L}',
  'install -t {D} {L}',
  'install -m 644 {L} {D}/',
  'mv {L} {D}/',
  'rsync {L} {D}/',
  'echo x | tee {P}',
  'echo x | tee -a {P} >/dev/null',
  'echo x | sponge {P}',
  'ln -sf /tmp/x {P}',
  'cd {D} && cp /tmp/{L} .',
  'cd {D}; cp /tmp/{L} ./',
  'ln -s {D} k; cp {L} k/',
  'd={D}; cp {L} "$d/"',
  'for t in {D}; do cp {L} "$t"; done',
];

/** Controls: the protected directory only appears where bash does not use it for the read (subshells, pipes, functions). */
const CONTROL_SPELLINGS: readonly string[] = [
  '(cd {D}); cat {L}',
  '(cd {D} && true); cat {L}',
  'cd {D} | true; cat {L}',
  'f() { cd {D}; }; cat {L}',
  'x=$(cd {D} && pwd); cat {L}',
];

export interface PathCase {
  readonly family: 'read' | 'write' | 'control';
  readonly cmd: string;
  /** The chain must not allow it (read/write), or must allow it (control). */
  readonly expect: 'not_allow' | 'allow';
}

function fill(spelling: string, t: Target): string {
  const path = t.dir === '~' ? `~/${t.leaf}` : `${t.dir}/${t.leaf}`;
  return spelling.replaceAll('{P}', path).replaceAll('{D}', t.dir).replaceAll('{L}', t.leaf);
}

/** Every generated member. Control names are ordinary workspace files (`notes.txt`). */
export function pathCases(): PathCase[] {
  const out: PathCase[] = [];
  for (const t of READ_TARGETS) for (const s of READ_SPELLINGS) out.push({ family: 'read', cmd: fill(s, t), expect: 'not_allow' });
  for (const t of WRITE_TARGETS) for (const s of WRITE_SPELLINGS) out.push({ family: 'write', cmd: fill(s, t), expect: 'not_allow' });
  for (const t of READ_TARGETS) for (const s of CONTROL_SPELLINGS) out.push({ family: 'control', cmd: fill(s, { dir: t.dir, leaf: 'notes.txt' }), expect: 'allow' });
  return out;
}
