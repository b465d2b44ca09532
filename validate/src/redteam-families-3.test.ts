// Red-team families, third round (session 8): generated from the capability table itself, so a tool whose
// option spellings are judged by different code (the table for one spelling, an older analyser for its
// twin) fails here for the spelling that slips.
import { beforeAll, describe, expect, it } from 'vitest';
import { TOOLS } from './capabilities/table.ts';
import { createValidator, type Validator } from './index.ts';

let v: Validator;
beforeAll(async () => {
  v = await createValidator();
});

/** Every member that is allowed (empty when the family holds). */
function allowed(cmds: readonly string[]): string[] {
  return cmds.filter((c) => v.validate(c).verdict === 'allow');
}

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Spellings whose letter means something else for that tool name: vim's `-s FILE` reads keystrokes from FILE, but
 * started as `ex` `-s` is silent mode and takes no value (the table shares one entry for the vi family).
 */
const NOT_A_SCRIPT_OPTION = new Set(['ex -s']);

/** `TOOL SPELLING FILE` for every tool name and every spelling of every option the table says runs a script file. */
function scriptOptionMembers(file: string): string[] {
  const out: string[] = [];
  for (const e of TOOLS) {
    for (const [key, cap] of Object.entries(e.opts ?? {})) {
      if (cap !== 'script') continue;
      for (const raw of key.split(' ')) {
        const spelling = raw.replace(/\?$/, '');
        for (const name of e.names) {
          if (NOT_A_SCRIPT_OPTION.has(`${name} ${spelling}`)) continue;
          out.push(`${name} ${spelling} ${file}`);
          if (spelling.startsWith('--')) out.push(`${name} ${spelling}=${file}`);
          // Short options written with their value attached (`awk -f/tmp/x`), where the tool reads them so.
          else if (/^-[A-Za-z]$/.test(spelling) && e.names.some((n) => /awk$/.test(n))) out.push(`${name} ${spelling}${file}`);
        }
      }
    }
  }
  return out;
}

describe('a tool script from a temporary directory, in every spelling of every script option of the table', () => {
  // awk's -f/-E/-i were judged by the interpreter analyser, which allowed them; their long twins by the table, which asked.
  const members = [...scriptOptionMembers('/tmp/x.f'), ...scriptOptionMembers('/dev/shm/.s'), ...scriptOptionMembers('/var/tmp/p')];
  it(`${members.length} members are not allowed`, () => {
    expect(members.length).toBeGreaterThan(900);
    expect(allowed(members)).toEqual([]);
  });
  it('the same options with a workspace file stay allowed', () => {
    const ordinary = ['awk -f prog.awk data.txt', 'gawk -f ./lib/report.awk -v OFS=, data.csv', 'awk --file=scripts/sum.awk x', 'gawk -i inplace \'{print}\' f', 'gawk --include=lib.awk \'BEGIN{}\'', 'make -f build/Makefile all'];
    expect(allowed(ordinary)).toEqual(ordinary);
  });
});

describe('Python code that lists the home directory (or /, /home, /root) and reads what it finds', () => {
  // The files read are chosen at run time from the listing, secrets included: the chain cannot say which, so opaque.
  const roots = ["os.path.expanduser('~')", "os.environ['HOME']", "os.getenv('HOME')", 'str(Path.home())', "'/'", "'/home'", "'/root'", "'/home/agent'"];
  const globRoots = ["os.path.expanduser('~/**')", "'/home/*/**'", "'/**'", "os.path.expanduser('~') + '/**'"];
  const reads = ['open(p).read()', "open(p, 'rb').read()", 'io.open(p).read()'];
  const walks = (root: string, read: string): string[] => [
    `for r, d, fs in os.walk(${root}):\n    for n in fs:\n        p = os.path.join(r, n)\n        print(${read})`,
    `for n in os.listdir(${root}):\n    p = os.path.join(${root}, n)\n    print(${read})`,
    `for e in os.scandir(${root}):\n    p = e.path\n    print(${read})`,
    `for p in Path(${root}).rglob('*'):\n    print(${read})`,
    `for p in Path(${root}).iterdir():\n    print(${read})`,
  ];
  const globs = (root: string, read: string): string[] => [`for p in glob.glob(${root}, recursive=True):\n    print(${read})`, `for p in glob.iglob(${root}, recursive=True):\n    print(${read})`];
  const header = 'import os, io, glob\nfrom pathlib import Path\n';
  const programs = [...roots.flatMap((r) => reads.flatMap((x) => walks(r, x))), ...globRoots.flatMap((r) => reads.flatMap((x) => globs(r, x)))];
  const members = programs.flatMap((code) => [`python3 -c ${sq(header + code)}`, `python3 - <<'EOF'\n${header}${code}\nEOF`]);
  it(`${members.length} members are not allowed`, () => {
    expect(members.length).toBeGreaterThan(250);
    expect(allowed(members)).toEqual([]);
  });
  it('listing and reading the workspace, or listing the home without reading, stay allowed', () => {
    const ordinary = [
      `python3 -c ${sq(`${header}for r, d, fs in os.walk('.'):\n    for n in fs:\n        p = os.path.join(r, n)\n        print(open(p).read())`)}`,
      `python3 -c ${sq(`${header}for p in Path('src').rglob('*.py'):\n    print(open(p).read())`)}`,
      `python3 -c ${sq(`${header}print(os.listdir(os.path.expanduser('~')))`)}`,
      `python3 -c ${sq(`${header}for p in glob.glob('tests/**/*.py', recursive=True):\n    print(open(p).read())`)}`,
    ];
    expect(allowed(ordinary)).toEqual(ordinary);
  });
});

describe('JavaScript code that lists the home directory (or /, /home, /root) and reads what it finds', () => {
  const roots = ['os.homedir()', 'process.env.HOME', "'/'", "'/home'", "'/root'", "os.homedir() + '/.config'"];
  const lists = ['fs.readdirSync({R})', 'fs.readdirSync({R}, { recursive: true })', 'require("fs").readdirSync({R})'];
  const reads = ['fs.readFileSync(path.join({R}, f), "utf8")', 'fs.readFileSync({R} + "/" + f)', 'fs.createReadStream(path.join({R}, f)).pipe(process.stdout)', 'fs.copyFileSync(path.join({R}, f), "out/" + f)'];
  const header = 'const fs = require("fs"), os = require("os"), path = require("path");';
  const programs = roots.flatMap((r) => lists.flatMap((l) => reads.map((x) => `${header} for (const f of ${l.replaceAll('{R}', r)}) { try { ${x.replaceAll('{R}', r)}; } catch {} }`)));
  const members = programs.flatMap((code) => [`node -e ${sq(code)}`, `node <<'EOF'\n${code}\nEOF`]);
  it(`${members.length} members are not allowed`, () => {
    expect(members.length).toBeGreaterThan(100);
    expect(allowed(members)).toEqual([]);
  });
  it('listing and reading the workspace stays allowed', () => {
    const ordinary = [`node -e ${sq(`${header} for (const f of fs.readdirSync("src")) console.log(fs.readFileSync(path.join("src", f), "utf8").length)`)}`, `node -e ${sq(`${header} console.log(fs.readdirSync(os.homedir()).length)`)}`];
    expect(allowed(ordinary)).toEqual(ordinary);
  });
});
