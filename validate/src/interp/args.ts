import type { Word } from '../words.ts';

/** Languages whose code the chain analyses. */
export const CODE_LANGS = ['python', 'javascript', 'perl', 'ruby', 'php', 'lua', 'awk'] as const;
export type CodeLang = (typeof CODE_LANGS)[number];

/** What an interpreter's command line says it will run. */
export interface InterpPlan {
  /** Language of the code, or null for interpreters whose code is not analysed (Rscript, julia, …). */
  readonly lang: CodeLang | null;
  /** Inline code pieces in order (`-e a -e b`); a word whose value is null is only known at run time. */
  readonly code: Word[];
  /** Inline code given as part of a bundled or `=` option word: the text after the flag. */
  readonly attached: { word: Word; text: string }[];
  /** Modules loaded before the code (`perl -MIO::Socket`, `ruby -rsocket`, `node -r x`, `lua -l x`). */
  readonly preload: string[];
  /** A script file run (workspace code: not analysed here). */
  script: Word | null;
  /** Reads its program from stdin (`-`, or nothing else given). */
  stdin: boolean;
  /** `python -m mod` with its arguments. */
  module: { name: string; args: readonly Word[] } | null;
  /** An option word only known at run time, before the program was found. */
  dynamicOption: Word | null;
  /** `gawk -l ext` / `--load`: native code loaded. */
  nativeLoad: string | null;
  /** The interpreter was told to only check syntax or print its version (nothing runs). */
  noRun: boolean;
}

/** Language of an interpreter command name. */
export function langOf(name: string): CodeLang | null {
  if (/^(python|pypy)[0-9.]*$/.test(name)) return 'python';
  if (/^(node|nodejs|bun|deno)$/.test(name)) return 'javascript';
  if (/^perl[0-9.]*$/.test(name)) return 'perl';
  if (/^(ruby[0-9.]*|irb|jruby|truffleruby)$/.test(name)) return 'ruby';
  if (/^php[0-9.]*$/.test(name)) return 'php';
  if (/^(lua[0-9.]*|luajit)$/.test(name)) return 'lua';
  if (/awk$/.test(name)) return 'awk';
  return null;
}

function plan(lang: CodeLang | null): InterpPlan {
  return { lang, code: [], attached: [], preload: [], script: null, stdin: false, module: null, dynamicOption: null, nativeLoad: null, noRun: false };
}

/**
 * Parses an interpreter's arguments the way the interpreter does: which
 * options take a value, which consume the code (bundled `-ne`, `-Ic`, `=`
 * forms, attached `-e'…'`), and where the script path or `-` (stdin) is.
 * Code is never mistaken for a script path.
 */
export function parseInterpreterArgs(name: string, args: readonly Word[]): InterpPlan {
  const lang = langOf(name);
  switch (lang) {
    case 'python':
      return pythonArgs(args);
    case 'javascript':
      return name === 'deno' ? denoArgs(args) : nodeArgs(args, name === 'bun');
    case 'perl':
    case 'ruby':
      return perlRubyArgs(lang, args);
    case 'php':
      return phpArgs(args);
    case 'lua':
      return luaArgs(args);
    case 'awk':
      return awkArgs(args);
    default:
      return otherArgs(args);
  }
}

/** Shared end of option parsing: `--`, `-`, a dynamic word, or the script. Returns true when parsing stops. */
function positional(p: InterpPlan, args: readonly Word[], i: number): boolean {
  const a = args[i]!;
  if (a.value === null) {
    p.dynamicOption = a;
    return true;
  }
  if (a.value === '-') {
    p.stdin = true;
    return true;
  }
  if (a.value === '--') {
    const next = args[i + 1];
    if (next) p.script = next;
    else p.stdin = true;
    return true;
  }
  return false;
}

function takeValue(args: readonly Word[], i: number, rest: string): { text: string | null; word: Word | null; next: number } {
  if (rest !== '') return { text: rest, word: null, next: i };
  const w = args[i + 1];
  return { text: w ? w.value : null, word: w ?? null, next: i + 1 };
}

function pythonArgs(args: readonly Word[]): InterpPlan {
  const p = plan('python');
  for (let i = 0; i < args.length; i++) {
    if (positional(p, args, i)) return p;
    const a = args[i]!;
    const v = a.value!;
    if (v.startsWith('--')) {
      if (v === '--check-hash-based-pycs') i++;
      if (v === '--version' || v === '--help') p.noRun = true;
      continue;
    }
    if (v.startsWith('-')) {
      for (let j = 1; j < v.length; j++) {
        const ch = v[j]!;
        if (ch === 'c' || ch === 'm') {
          const rest = v.slice(j + 1);
          const t = takeValue(args, i, rest);
          if (ch === 'c') {
            if (rest !== '') p.attached.push({ word: a, text: rest });
            else if (t.word) p.code.push(t.word);
          } else if (t.text !== null) p.module = { name: t.text, args: args.slice(t.next + 1) };
          else if (t.word) p.dynamicOption = t.word;
          return p;
        }
        if (ch === 'W' || ch === 'X' || ch === 'Q') {
          if (j === v.length - 1) i++;
          break;
        }
        if (ch === 'V' || ch === 'h') p.noRun = true;
      }
      continue;
    }
    p.script = a;
    return p;
  }
  p.stdin = true;
  return p;
}

const NODE_VALUE_OPTS = new Set([
  '--require', '-r', '--import', '--loader', '--experimental-loader', '--input-type', '--title', '--env-file', '-C', '--conditions', '--redirect-warnings',
  '--secure-heap', '--openssl-config', '--icu-data-dir', '--diagnostic-dir', '--report-dir', '--cpu-prof-dir', '--heap-prof-dir', '--test-reporter',
  '--test-reporter-destination', '--watch-path', '--experimental-config-file', '--disable-warning', '--run', '--stack-size', '--max-old-space-size',
  '--env-file-if-exists', '--localstorage-file', '--test-name-pattern', '--test-skip-pattern', '--preload', '--cwd', '--config', '--tsconfig-override',
]);
const BUN_SUBCOMMANDS = new Set(['install', 'i', 'add', 'a', 'remove', 'rm', 'test', 'build', 'x', 'create', 'init', 'pm', 'upgrade', 'link', 'unlink', 'update', 'outdated', 'publish', 'patch', 'repl', 'exec', 'audit', 'info', 'why', 'ci']);

function nodeArgs(args: readonly Word[], bun: boolean): InterpPlan {
  const p = plan('javascript');
  for (let i = 0; i < args.length; i++) {
    if (positional(p, args, i)) return p;
    const a = args[i]!;
    const v = a.value!;
    if (v.startsWith('-')) {
      const eq = v.startsWith('--') ? v.indexOf('=') : -1;
      const opt = eq > 0 ? v.slice(0, eq) : v;
      if (opt === '--eval' || opt === '--print' || opt === '-e' || opt === '-p' || opt === '-pe' || opt === '-ep') {
        if (eq > 0) p.attached.push({ word: a, text: v.slice(eq + 1) });
        else if (args[i + 1]) p.code.push(args[++i]!);
        continue;
      }
      if (opt === '--require' || opt === '-r' || opt === '--import' || opt === '--preload' || opt === '--loader' || opt === '--experimental-loader') {
        const t = eq > 0 ? v.slice(eq + 1) : (args[++i]?.value ?? null);
        if (t === null) p.dynamicOption = args[i] ?? a;
        else p.preload.push(t);
        continue;
      }
      if (opt === '-c' || opt === '--check' || opt === '-v' || opt === '--version' || opt === '-h' || opt === '--help') p.noRun = true;
      if (eq < 0 && NODE_VALUE_OPTS.has(opt)) i++;
      continue;
    }
    if (p.code.length > 0 || p.attached.length > 0) return p; // arguments of the inline code
    if (bun && v === 'run') continue; // bun run [opts] <file|script>: without one it lists the package scripts
    if (bun && BUN_SUBCOMMANDS.has(v)) {
      p.noRun = true;
      return p;
    }
    p.script = a;
    return p;
  }
  // bun alone prints its help, `bun run` alone lists scripts; node alone is a REPL on stdin.
  if (bun) p.noRun = true;
  else if (p.code.length === 0 && p.attached.length === 0 && !p.noRun) p.stdin = true;
  return p;
}

function denoArgs(args: readonly Word[]): InterpPlan {
  const p = plan('javascript');
  const sub = args[0]?.value;
  if (sub === 'eval') {
    for (let i = 1; i < args.length; i++) {
      const v = args[i]!.value;
      if (v === null) {
        p.dynamicOption = args[i]!;
        return p;
      }
      if (v.startsWith('-')) continue;
      p.code.push(args[i]!);
      return p;
    }
    return p;
  }
  if (sub === 'run') {
    for (let i = 1; i < args.length; i++) {
      if (positional(p, args, i)) return p;
      const v = args[i]!.value!;
      if (v.startsWith('-')) continue;
      p.script = args[i]!;
      return p;
    }
    p.stdin = true;
    return p;
  }
  p.noRun = true; // deno fmt/lint/test/task/… run workspace code or tooling, not inline code
  return p;
}

/** Perl and Ruby share the switch-cluster syntax (`-lne`, `-Mstrict`, `-rjson`, `-i.bak`). */
function perlRubyArgs(lang: 'perl' | 'ruby', args: readonly Word[]): InterpPlan {
  const p = plan(lang);
  // Switches whose argument is the rest of the cluster or the next word.
  const valueNext = lang === 'perl' ? 'eEMmIx' : 'erICEFxTWK';
  for (let i = 0; i < args.length; i++) {
    if (positional(p, args, i)) return p;
    const a = args[i]!;
    const v = a.value!;
    if (v.startsWith('--')) {
      if (/^--(version|help)$/.test(v)) p.noRun = true;
      continue;
    }
    if (!v.startsWith('-')) {
      if (p.code.length === 0 && p.attached.length === 0) p.script = a;
      return p;
    }
    for (let j = 1; j < v.length; j++) {
      const ch = v[j]!;
      const rest = v.slice(j + 1);
      if (valueNext.includes(ch)) {
        // Perl -M/-m/-I/-x and Ruby -r/-I/-C/-E/-F/-W/-T/-K: attached value only when something follows.
        const optional = (lang === 'perl' && ch === 'x') || (lang === 'ruby' && /[xWTKF]/.test(ch));
        if (ch === 'e' || ch === 'E') {
          if (lang === 'ruby' && ch === 'E') {
            if (rest === '') i++;
            break;
          }
          if (rest !== '') p.attached.push({ word: a, text: rest });
          else if (args[i + 1]) p.code.push(args[++i]!);
          break;
        }
        if (optional && rest === '') break;
        const t = takeValue(args, i, rest);
        i = t.next;
        if ((lang === 'perl' && (ch === 'M' || ch === 'm')) || (lang === 'ruby' && ch === 'r')) {
          if (t.text === null) p.dynamicOption = t.word ?? a;
          else p.preload.push(t.text.replace(/^-/, '').replace(/=.*$/s, ''));
        }
        break;
      }
      if (lang === 'perl' && ch === 'd') {
        // `-d`, `-dt`, `-d:Mod[=args]`: only `:` takes the rest of the cluster (`-de 0` is -d then -e).
        if (v[j + 1] === ':') break;
        if (v[j + 1] === 't') j++;
        continue;
      }
      if (lang === 'perl' && (ch === 'i' || ch === 'F' || ch === 'D' || ch === 'C' || ch === 'l' || ch === '0' || ch === 'V')) {
        if (ch === 'V') p.noRun = true;
        if (ch === 'l' || ch === '0' || ch === 'C') {
          // What each switch's attached value may be (perlrun): `-l[octal]`, `-0[octal]` or `-0x[hex]`,
          // `-C[number|IOEioSDALa]`. Anything else starts the next switch (`-le CODE` is -l then -e).
          const val = ch === 'l' ? /[0-7]/ : ch === 'C' ? /[0-9IOEioSDALa]/ : v[j + 1] === 'x' || v[j + 1] === 'X' ? /[0-9a-fA-FxX]/ : /[0-7]/;
          while (j + 1 < v.length && val.test(v[j + 1]!)) j++;
          continue;
        }
        break; // the rest of the cluster is this switch's value
      }
      if (lang === 'ruby' && (ch === 'i' || ch === '0' || ch === 'l')) {
        if (ch === 'i') break;
        while (j + 1 < v.length && /[0-9]/.test(v[j + 1]!)) j++;
        continue;
      }
      if (ch === 'v' || ch === 'h' || (ch === 'c' && lang === 'ruby')) p.noRun = true;
    }
  }
  if (p.code.length === 0 && p.attached.length === 0 && !p.noRun) p.stdin = true;
  return p;
}

function phpArgs(args: readonly Word[]): InterpPlan {
  const p = plan('php');
  for (let i = 0; i < args.length; i++) {
    if (positional(p, args, i)) return p;
    const a = args[i]!;
    const v = a.value!;
    const m = /^-([rBRE])(.*)$/s.exec(v);
    if (m) {
      if (m[2] !== '') p.attached.push({ word: a, text: m[2]! });
      else if (args[i + 1]) p.code.push(args[++i]!);
      continue;
    }
    if (v === '--run' || v === '--process-begin' || v === '--process-code' || v === '--process-end') {
      if (args[i + 1]) p.code.push(args[++i]!);
      continue;
    }
    if (/^-[fF]$|^--file$/.test(v)) {
      p.script = args[i + 1] ?? null;
      return p;
    }
    if (/^-[dcztS]$/.test(v)) {
      i++;
      continue;
    }
    if (v === '-a' || v === '--interactive') {
      p.stdin = true;
      return p;
    }
    if (/^-[vhlim]$|^--(version|help|info|modules|syntax-check)$/.test(v)) p.noRun = true;
    if (v.startsWith('-')) continue;
    if (p.code.length === 0 && p.attached.length === 0) p.script = a;
    return p;
  }
  if (p.code.length === 0 && p.attached.length === 0 && !p.noRun) p.stdin = true;
  return p;
}

function luaArgs(args: readonly Word[]): InterpPlan {
  const p = plan('lua');
  for (let i = 0; i < args.length; i++) {
    if (positional(p, args, i)) return p;
    const a = args[i]!;
    const v = a.value!;
    const m = /^-([el])(.*)$/s.exec(v);
    if (m) {
      const t = takeValue(args, i, m[2]!);
      i = t.next;
      if (m[1] === 'e') {
        if (m[2] !== '') p.attached.push({ word: a, text: m[2]! });
        else if (t.word) p.code.push(t.word);
      } else if (t.text !== null) p.preload.push(t.text.replace(/^\w+=/, ''));
      else p.dynamicOption = t.word ?? a;
      continue;
    }
    if (v === '-v') p.noRun = true;
    if (v.startsWith('-')) continue;
    p.script = a;
    return p;
  }
  if (p.code.length === 0 && p.attached.length === 0 && !p.noRun) p.stdin = true;
  return p;
}

function awkArgs(args: readonly Word[]): InterpPlan {
  const p = plan('awk');
  let programFile = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = a.value;
    if (v === null) {
      if (!programFile && p.code.length === 0 && p.attached.length === 0) p.dynamicOption = a;
      return p;
    }
    if (v === '--') {
      if (!programFile && args[i + 1]) p.code.push(args[i + 1]!);
      return p;
    }
    const m = /^(-[fFvEeil]|--(?:file|field-separator|assign|exec|source|include|load))(?:=(.*))?$/s.exec(v) ?? /^(-[fFvEeil])(.+)$/s.exec(v);
    if (m) {
      const opt = m[1]!;
      const t = m[2] !== undefined ? { text: m[2], word: a, next: i } : takeValue(args, i, '');
      i = t.next;
      if (/^(-f|--file|-E|--exec|-i|--include)$/.test(opt)) programFile = true;
      else if (/^(-e|--source)$/.test(opt)) {
        if (m[2] !== undefined) p.attached.push({ word: a, text: m[2] });
        else if (t.word) p.code.push(t.word);
      } else if (/^(-l|--load)$/.test(opt)) p.nativeLoad = t.text ?? '?';
      continue;
    }
    if (v.startsWith('-') && v !== '-') {
      if (/^--(version|help)$|^-[Vh]$/.test(v)) p.noRun = true;
      continue;
    }
    if (!programFile && p.code.length === 0 && p.attached.length === 0) p.code.push(a);
    return p;
  }
  return p;
}

/** Interpreters whose code is not analysed: find inline code words so they can be reported. */
function otherArgs(args: readonly Word[]): InterpPlan {
  const p = plan(null);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = a.value ?? '';
    if (/^(-c|-e|-E|--eval|-p|--print|-Command|-command|-ex|-x|-exec|--execute|-eval|-EncodedCommand|-enc|-e?c)$/i.test(v) && args[i + 1]) {
      p.code.push(args[++i]!);
      continue;
    }
    if (/^-(e|c)(.+)$/s.test(v)) {
      p.attached.push({ word: a, text: v.slice(2) });
      continue;
    }
    if (v.startsWith('-')) continue;
    if (p.code.length === 0 && p.attached.length === 0) p.script = a;
    return p;
  }
  return p;
}

/**
 * Standard-library modules whose arguments are Python code (`python -m timeit -s SETUP STMT…`,
 * `python -m pdb -c CMD`, where a pdb command that is not one of its own, or one after `!`, is Python).
 * Without this the statements of `python -m timeit 'os.system(…)'` ran unchecked.
 */
export function pythonModuleCode(module: string, args: readonly Word[]): { code: string[]; dynamic: Word | null } {
  const out = { code: [] as string[], dynamic: null as Word | null };
  const spec = MODULE_CODE[module];
  if (!spec) return out;
  const put = (w: Word | undefined, text: string | null): void => {
    if (text === null) out.dynamic = w ?? out.dynamic;
    else out.code.push(spec.strip ? text.replace(spec.strip, '') : text);
  };
  let positionalsAreCode = spec.positionals;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = a.value;
    if (v === null) {
      if (positionalsAreCode) put(a, null);
      continue;
    }
    if (v === '--') {
      if (positionalsAreCode) for (const w of args.slice(i + 1)) put(w, w.value);
      return out;
    }
    const m = /^(--[\w-]+)(?:=(.*))?$|^(-\w)(.*)$/s.exec(v);
    if (!m) {
      if (!positionalsAreCode) return out; // the script: its own arguments follow
      put(a, v);
      continue;
    }
    const opt = m[1] ?? m[3]!;
    const attached = m[1] ? m[2] : m[4] || undefined;
    if (spec.code.includes(opt)) {
      if (attached !== undefined) put(a, attached);
      else put(args[i + 1], args[i + 1]?.value ?? null), i++;
    } else if (spec.values.includes(opt) && attached === undefined) i++;
    else if (opt === '-m' && module === 'pdb') positionalsAreCode = false;
  }
  return out;
}

const MODULE_CODE: Readonly<Record<string, { code: readonly string[]; values: readonly string[]; positionals: boolean; strip?: RegExp }>> = {
  timeit: { code: ['-s', '--setup'], values: ['-n', '--number', '-r', '--repeat', '-u', '--unit'], positionals: true },
  pdb: { code: ['-c', '--command'], values: [], positionals: false, strip: /^\s*!/ },
};
