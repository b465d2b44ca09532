/**
 * Generated members of the parser-differential families (issue 12, point 2):
 * constructs where tree-sitter-bash and bash may read the same text
 * differently. Each member hides a marker command; real bash decides whether
 * the marker runs (recorded in `differential-truth.json` by
 * `test/integration/differential-bash.test.ts`), and the unit test
 * `differential.test.ts` requires the chain never to `allow` a member whose
 * marker bash ran.
 *
 * The families are built as cross products of small tables (contexts ×
 * spellings), not as hand-picked lines, so a new spelling or context is one
 * table entry and every combination with it is checked against bash.
 */

/**
 * The marker. The chain denies it when it sees it (`privesc.setuid`), and its
 * text names no protected path, so a member caught only because the hidden
 * text happened to look like a secret path cannot pass for a detection.
 * The runner creates `/tmp/m` and checks its setuid bit afterwards.
 */
export const MARK = 'chmod u+s /tmp/m';

/** One generated member. */
export interface DifferentialCase {
  readonly family: DifferentialFamily;
  readonly cmd: string;
}

export const DIFFERENTIAL_FAMILIES = [
  'continuation',
  'heredoc_delimiter',
  'nested_backticks',
  'subscript_literal',
  'name_context',
  'arithmetic_value',
] as const;
export type DifferentialFamily = (typeof DIFFERENTIAL_FAMILIES)[number];

const NL = '\n';
const BSNL = '\\\n';

/** `\` + newline joining text the way bash's reader does, placed inside words, operators and `$` constructs. */
function continuation(): string[] {
  const out: string[] = [];
  const prefixes = ['echo foo', "echo 'foo'", 'echo "foo"', 'echo $HOME', 'echo x}', 'echo foo\\\\', 'echo $(echo foo)', ':'];
  const joins = [BSNL, BSNL + BSNL];
  const tails = [`#; ${MARK}`, `#${NL}${MARK}`, `# ; ${MARK} #`];
  for (const p of prefixes) for (const j of joins) for (const t of tails) out.push(p + j + t);
  // Joins that form `$(`, `${`, `<(`, `&&`, `||`, `;;` and `$((` only after the continuation is removed.
  const formed = [
    `echo "$${BSNL}(${MARK})"`,
    `echo $${BSNL}(${MARK})`,
    `echo "$${BSNL}{x:-$${BSNL}(${MARK})}"`,
    `echo $${BSNL}(${BSNL}${MARK})`,
    `cat <${BSNL}(${MARK})`,
    `true &${BSNL}& ${MARK}`,
    `false |${BSNL}| ${MARK}`,
    `echo "$(${BSNL}${MARK})"`,
    `echo $(echo foo${BSNL}#; ${MARK})`,
    `echo "$(echo foo${BSNL}#); ${MARK}"`,
    `# comment ${BSNL}${MARK}`,
    `echo 'a${BSNL}' #; ${MARK}`,
    `echo "a${BSNL}" #; ${MARK}`,
    `echo $'a${BSNL}' #; ${MARK}`,
    `ec${BSNL}ho x; ${MARK.replace('chmod', `ch${BSNL}mod`)}`,
    `x=1${BSNL}#; ${MARK}`,
    `echo \`echo foo${BSNL}#; ${MARK}\``,
  ];
  out.push(...formed);
  return out;
}

/** Heredoc delimiters spelled with quotes, escapes and continuations, against end lines spelled the same ways. */
function heredocDelimiter(): string[] {
  const out: string[] = [];
  const delims = ['EOF', "'EOF'", '"EOF"', '\\EOF', 'E"O"F', "'E'OF", 'E\\OF', `EO${BSNL}F`, `"EO${BSNL}F"`, "$'EOF'", '"$EOF"', 'E$F'];
  const ends = ['EOF', `EO${BSNL}F`, '\tEOF', "'EOF'", 'E"O"F', 'EOF ', "$'EOF'", '"EOF"', '\\EOF', 'E$F', '$EOF', 'EOF\\'];
  for (const op of ['<<', '<<-']) {
    for (const d of delims) {
      for (const e of ends) out.push(`cat ${op}${d}${NL}x${NL}${e}${NL}${MARK}${NL}EOF${NL}`);
    }
  }
  return out;
}

/** Backticks inside backticks (`\``), and `\$(…)` inside backticks. */
function nestedBackticks(): string[] {
  return [
    `echo \`echo \\\`${MARK}\\\`\``,
    `echo \`echo \\\`echo \\\\\\\`${MARK}\\\\\\\`\\\`\``,
    `echo \`echo \\$(${MARK})\``,
    `echo "\`echo \\"x\\"; ${MARK}\`"`,
    `echo "\`echo \\\`${MARK}\\\`\`"`,
    `echo \`echo \\\\\`${MARK}\`\``,
    `echo \`echo \\\\; ${MARK}\``,
    `echo \`: \\\`#\\\`; ${MARK}\``,
    `x=\`echo \\\`${MARK}\\\`\``,
    `echo \`printf '%s' '\\\`${MARK}\\\`'\``,
  ];
}

const SUBS = [`$(${MARK})`, `"$(${MARK})"`, `\`${MARK}\``];

/** Subscripts and arithmetic written literally (tree-sitter sees the substitution; the walk must too). */
function subscriptLiteral(): string[] {
  const ctx = [
    'a[S]=1',
    'a[S]+=1',
    'declare a[S]=1',
    'declare -A a; a[S]=1',
    'echo ${a[S]}',
    'echo "${a[S]}"',
    'echo ${#a[S]}',
    'echo ${a[S]:-x}',
    '(( a[S] ))',
    'echo $(( a[S] ))',
    'a=( [S]=1 )',
    'for ((i=a[S];0;)); do :; done',
    '[[ a[S] -eq 1 ]]',
    'let a[S]=1',
    'echo $[ a[S] ]',
  ];
  return ctx.flatMap((c) => SUBS.map((s) => c.replace('S', s)));
}

/** Quoted text naming a variable that bash reads as `name[subscript]` and evaluates. */
function nameContext(): string[] {
  const names = [`'a[$(${MARK})]'`, `"a[\\$(${MARK})]"`, `a\\[\\$\\(${MARK.replace(/ /g, '\\ ')}\\)\\]`, `$'a[$(${MARK})]'`, `'a[\`${MARK}\`]'`];
  const ctx = [
    'unset N',
    'unset -v N',
    'printf -v N x',
    'read N <<< 1',
    'read -r N <<< 1',
    'read -a N <<< 1',
    'test -v N',
    '[ -v N ]',
    '[[ -v N ]]',
    'export N',
    'readonly N',
    'f() { local N; }; f',
    'mapfile N < /dev/null',
    'readarray -t N < /dev/null',
    'getopts a N -a',
    'let N',
    'declare -p N',
    'typeset N',
    'wait -p N',
    'printf -v N %s x',
  ];
  const out: string[] = [];
  for (const pre of ['a=(1); ', 'declare -A a; ']) for (const c of ctx) for (const n of names) out.push(pre + c.replace('N', n));
  return out;
}

/** Arithmetic contexts whose operand is a variable whose VALUE is an array reference with a substitution. */
function arithmeticValue(): string[] {
  const src = [
    `x='a[$(${MARK})]'`,
    `x="a[\\$(${MARK})]"`,
    `read -r x <<< 'a[$(${MARK})]'`,
    `x=$(echo 'a[$(${MARK})]')`,
    `printf -v x %s 'a[$(${MARK})]'`,
    `declare x='a[$(${MARK})]'`,
    `y='a[$(${MARK})]'; x=y`,
    `for x in 'a[$(${MARK})]'; do :; done`,
    // Values the chain cannot know statically (built at run time): arithmetic on them is opaque.
    `x=$(printf 'a\\x5b$(${MARK})]')`,
    `read -r x < <(printf 'a\\x5b$(${MARK})]')`,
    `x=$(echo ${Buffer.from(`a[$(${MARK})]`).toString('base64')} | base64 -d)`,
  ];
  const ctx = [
    '(( x ))',
    '(( $x ))',
    'echo $(( x ))',
    'echo $(( $x ))',
    'echo $[ x ]',
    'let x',
    'let "y=x"',
    '[[ $x -eq 1 ]]',
    '[[ x -eq 1 ]]',
    '[[ $x -lt 1 ]]',
    '[ "$x" -eq 1 ]',
    'test "$x" -gt 1',
    'declare -i y; y=x',
    'declare -i y=x',
    's=abc; echo ${s:x}',
    's=abc; echo ${s:$x:1}',
    'echo ${b[x]}',
    'b[x]=1',
    'for ((i=x;0;)); do :; done',
    "printf '%d' \"$x\"",
    'echo $(( b[$x] ))',
    'declare -i y; y+=x',
  ];
  return src.flatMap((s) => ctx.map((c) => `${s}; ${c}`));
}

/** Every generated member, in a stable order. */
export function differentialCases(): DifferentialCase[] {
  const gen: Record<DifferentialFamily, () => string[]> = {
    continuation,
    heredoc_delimiter: heredocDelimiter,
    nested_backticks: nestedBackticks,
    subscript_literal: subscriptLiteral,
    name_context: nameContext,
    arithmetic_value: arithmeticValue,
  };
  const out: DifferentialCase[] = [];
  const seen = new Set<string>();
  for (const family of DIFFERENTIAL_FAMILIES) {
    for (const cmd of gen[family]()) {
      if (seen.has(cmd)) continue;
      seen.add(cmd);
      out.push({ family, cmd });
    }
  }
  return out;
}

/**
 * Shell program run inside the throwaway container: reads NUL-separated
 * members on stdin and prints `<index> <1|0>` per member (1: the marker ran).
 * Each member runs in a fresh directory with a fresh marker file.
 */
export const BASH_RUNNER = `
i=0
while IFS= read -r -d '' c; do
  rm -rf /tmp/m /tmp/h; mkdir -p /tmp/h; : > /tmp/m; chmod 644 /tmp/m; d=$(mktemp -d)
  (cd "$d" && HOME=/tmp/h timeout 5 bash -c "$c" </dev/null >/dev/null 2>&1)
  if [ -u /tmp/m ]; then echo "$i 1"; else echo "$i 0"; fi
  rm -rf "$d"; i=$((i+1))
done
`;
