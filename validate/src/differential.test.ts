import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { backtickInner, bashContinuationView, isCodeSubscript } from './differential.ts';
import { DIFFERENTIAL_FAMILIES, differentialCases, MARK } from './differential-families.ts';
import { createValidator, type Validator } from './index.ts';

/** What real bash did with each member (recorded by test/integration/differential-bash.test.ts). */
const truth = JSON.parse(readFileSync(new URL('./differential-truth.json', import.meta.url), 'utf8')) as { marker: string; ran: Record<string, 0 | 1> };
const cases = differentialCases();

let v: Validator;
beforeAll(async () => {
  v = await createValidator();
});

describe('parser-differential families (generated, bash ground truth)', () => {
  it('the recording covers every generated member and the current marker', () => {
    expect(truth.marker).toBe(MARK);
    expect(cases.filter((c) => truth.ran[c.cmd] === undefined).map((c) => c.cmd)).toEqual([]);
  });

  it('the marker is denied when the chain sees it (so a hidden marker is what each member tests)', () => {
    expect(v.validate(MARK).verdict).toBe('deny');
  });

  it.each(DIFFERENTIAL_FAMILIES.map((f) => [f]))('%s: bash runs the marker in some members, and the chain never allows one of them', (family) => {
    const members = cases.filter((c) => c.family === family);
    const ran = members.filter((c) => truth.ran[c.cmd] === 1);
    expect(ran.length, `${family}: no member runs the marker in bash, the family tests nothing`).toBeGreaterThan(0);
    const allowed = ran.filter((c) => v.validate(c.cmd).verdict === 'allow').map((c) => c.cmd);
    expect(allowed, `${family}: members bash runs the marker in, allowed by the chain`).toEqual([]);
  });
});

describe('bash reading of line continuations', () => {
  // Each pair: text, what bash reads (null: no continuation changes how the text splits).
  it.each([
    ['echo a \\\n  b', null],
    ['cmd \\\n  --flag x \\\n  --other', null],
    ['echo foo\\\n#x', 'echo foo#x'],
    ['echo "$\\\n(id)"', 'echo "$(id)"'],
    ['echo "a\\\nb"', null],
    ["echo 'a\\\nb'x\\\ny", "echo 'a\\\nb'xy"],
    ['# c \\\necho x', null],
    ['true &\\\n& id', 'true && id'],
    ['cat <<EOF\nEO\\\nF\nid\nEOF\n', 'cat <<EOF\nEOF\nid\nEOF\n'],
    ["cat <<'EOF'\nEO\\\nF\nid\nEOF\n", null],
    ['cat <<EO\\\nF\nx\nEOF\n', 'cat <<EOF\nx\nEOF\n'],
    ['echo $(echo a\\\n#b)', 'echo $(echo a#b)'],
    ["echo $'a\\\nb'", null],
    ['echo a\\\\\nb', null],
  ])('%j → %j', (src, want) => {
    expect(bashContinuationView(src)).toBe(want);
  });
});

describe('backtick text as bash unescapes it', () => {
  it.each([
    ['`echo \\`id\\``', false, 'echo `id`'],
    ['`echo \\$(id)`', false, 'echo $(id)'],
    ['`echo \\\\x`', false, 'echo \\x'],
    ['`echo \\"x\\"`', true, 'echo "x"'],
    ['`echo \\"x\\"`', false, null],
    ['`echo x`', false, null],
  ] as const)('%j (in "…": %s) → %j', (raw, dq, want) => {
    expect(backtickInner(raw, dq)).toBe(want);
  });
});

describe('text bash evaluates as an array subscript', () => {
  it.each([
    ['a[$(id)]', true],
    ['a[`id`]', true],
    ['x[1+$(id)]', true],
    ['a[<(id)]', true],
    ['a[$i]', false],
    ['a[1]', false],
    ['if [ $(wc -c < f) -le 1 ]', false],
    ['$(id)', false],
  ] as const)('%j → %s', (text, want) => {
    expect(isCodeSubscript(text)).toBe(want);
  });
});
