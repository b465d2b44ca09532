// Soundness families (session 8): commands where the chain's model of what runs disagreed with what bash did
// in the full benign run of `npm run soundness`, generalised to every way the same program is reached.
import { beforeAll, describe, expect, it } from 'vitest';
import { OWN_HELPERS } from './helpers.ts';
import { createValidator, type Validator } from './index.ts';

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
