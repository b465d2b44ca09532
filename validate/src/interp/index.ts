import { add, nestedText, opaque, pastDeadline, recordExec, recordNet, DeadlineError, type Ctx, type Scope } from '../analyze.ts';
import type { Cmd } from '../walk.ts';
import { UNKNOWN, WordFlag, type Word } from '../words.ts';
import { parseInterpreterArgs, pythonModuleCode, type CodeLang } from './args.ts';
import { newFacts, type Facts } from './facts.ts';
import { analyzeJavaScript, JS_ROOTS } from './javascript.ts';
import { analyzePython, PYTHON_ROOTS } from './python.ts';
import { analyzeScripting } from './scripting.ts';
import { loadGrammar, parseCode } from './tree.ts';

export { parseInterpreterArgs, langOf, type CodeLang, type InterpPlan } from './args.ts';
export { tokenize } from './scripting.ts';

/**
 * Checks the chain needs from analyze.ts for what interpreter code does
 * (path rules, destructive targets, hosts, stdin sources, package installs).
 * Passed in rather than imported so this module stays a leaf.
 */
export interface InterpHost {
  path(ctx: Ctx, sc: Scope, cmd: Cmd, path: string, access: 'read' | 'write', tool: string, at: Span): void;
  recursiveDelete(ctx: Ctx, sc: Scope, cmd: Cmd, path: string, tool: string, at: Span): void;
  host(ctx: Ctx, sc: Scope, cmd: Cmd, host: string, tool: string, at: Span): void;
  stdinScript(ctx: Ctx, sc: Scope, cmd: Cmd, who: string): void;
  dynamicScript(ctx: Ctx, sc: Scope, w: Word, label: string): void;
  /** Inline code only known at run time: deny when downloaded or decoded, else opaque. */
  dynamicCode(ctx: Ctx, sc: Scope, w: Word, label: string): void;
  pythonModule(ctx: Ctx, sc: Scope, cmd: Cmd, module: string, args: readonly Word[]): void;
}

interface Span {
  readonly start: number;
  readonly end: number;
}

/** Most nested shell strings / code strings analysed per piece of code (more is opaque). */
const MAX_NESTED = 32;

/**
 * An interpreter command: finds its code the way the interpreter parses its
 * options, then analyses inline code, flags dynamic code, and sends stdin
 * programs to `host.stdinScript`.
 */
export function checkInterpreter(ctx: Ctx, sc: Scope, cmd: Cmd, name: string, args: readonly Word[], host: InterpHost): void {
  const p = parseInterpreterArgs(name, args);
  if (p.module) {
    host.pythonModule(ctx, sc, cmd, p.module.name, p.module.args);
    const mc = pythonModuleCode(p.module.name, p.module.args);
    const span: Span = p.module.args[0] ?? args[0] ?? cmd;
    if (mc.dynamic) host.dynamicCode(ctx, sc, mc.dynamic, `python -m ${p.module.name} code`);
    if (mc.code.length > 0) checkCode(ctx, sc, cmd, `python -m ${p.module.name}`, 'python', mc.code.join('\n'), { start: span.start, end: span.end }, host);
    return;
  }
  const at: Span = args[0] ?? cmd;
  if (p.nativeLoad !== null) opaque(ctx, sc, 'interp_code', `${name} loads a native extension (${p.nativeLoad})`, at.start, at.end);
  const pieces: string[] = [];
  let dynamicWord: Word | null = null;
  for (const w of p.code) {
    const text = w.value ?? topLevelPositionalsEmpty(sc, cmd, w);
    if (text === null) dynamicWord = w;
    else pieces.push(text);
  }
  for (const a of p.attached) pieces.push(a.text);
  if (p.preload.length > 0 && p.lang !== null) pieces.unshift(...p.preload.map((m) => preloadCode(p.lang!, m)));
  for (const m of p.preload) {
    // `node --import=data:text/javascript,CODE`: the module is the URL's text, which runs first.
    const code = /^data:/i.test(m) ? dataUrlText(m) : undefined;
    if (code === null) opaque(ctx, sc, 'interp_code', `${name} loads a data: URL module that does not decode`, at.start, at.end);
    else if (code !== undefined) pieces.unshift(code);
  }
  const codeWord = p.code[0] ?? p.attached[0]?.word ?? null;
  if (dynamicWord) host.dynamicCode(ctx, sc, dynamicWord, `${name} inline code`);
  if (p.dynamicOption) opaque(ctx, sc, 'interp_code', `${name} argument only known at run time (${truncate(p.dynamicOption.raw, 40)}): cannot tell code from a script path`, p.dynamicOption.start, p.dynamicOption.end);
  if (pieces.length > 0 && (codeWord !== null || p.preload.length > 0)) {
    const span = codeWord ?? at;
    checkCode(ctx, sc, cmd, name, p.lang, pieces.join('\n'), { start: span.start, end: span.end }, host);
    return;
  }
  if (p.script) {
    const sv = p.script.value ?? '';
    if (/^\/dev\/(stdin|fd\/\d+)$|^\/proc\/self\/fd\//.test(sv)) host.stdinScript(ctx, sc, cmd, name);
    else if (p.script.value === null) host.dynamicScript(ctx, sc, p.script, `${name} <(…)`);
    return;
  }
  if (p.noRun || p.dynamicOption) return;
  if (p.stdin || cmd.stdin !== null) host.stdinScript(ctx, sc, cmd, name);
}

/** The text of a `data:` URL (`data:text/javascript,…` percent-encoded or `;base64,`), null when it does not decode. */
export function dataUrlText(url: string): string | null {
  const m = /^data:([^,]*),(.*)$/is.exec(url);
  if (!m) return null;
  try {
    const body = decodeURIComponent(m[2]!);
    return /;base64$/i.test(m[1]!) ? Buffer.from(body, 'base64').toString('utf8') : body;
  } catch {
    return null;
  }
}

function preloadCode(lang: CodeLang, m: string): string {
  if (/^data:/i.test(m)) return '';
  switch (lang) {
    case 'perl':
      return `use ${m.replace(/[^\w:]/g, '')};`;
    case 'ruby':
      return `require '${m.replace(/'/g, '')}'`;
    case 'lua':
      return `require '${m.replace(/'/g, '')}'`;
    case 'javascript':
      return `require('${m.replace(/'/g, '')}')`;
    default:
      return '';
  }
}

/**
 * Analyses interpreter source (inline, heredoc, piped) and turns what it does
 * into findings: shell strings and argv lists become nested bash, literal paths
 * go to the path rules, hosts to the network checks, and whatever is only
 * known at run time is `opaque.interp_code` (or `interp.obfuscated_exec` when
 * decoded data is executed). Policy `code` rules still apply on top.
 */
export function checkCode(ctx: Ctx, sc: Scope, cmd: Cmd, who: string, lang: CodeLang | null, code: string, at: Span, host: InterpHost): void {
  for (const { rule, all } of ctx.p.codeRules) {
    if (all.every((re) => re.test(code))) add(ctx, sc, rule.verdict, rule.id, `${rule.reason} (${who})`, at.start, at.end);
  }
  if (lang === null) {
    opaque(ctx, sc, 'interp_code', `${who} runs inline code in a language the validator does not analyse`, at.start, at.end);
    return;
  }
  const f = newFacts();
  const ok = collect(ctx, lang, code, f, 0);
  // Code that does not parse does not run (Python and JavaScript compile the whole program first); when the
  // grammar is wrong instead, code naming no capability is not parsed at all (see collect).
  if (!ok) opaque(ctx, sc, 'interp_code', `${who} code does not parse as ${lang}: cannot tell what it runs`, at.start, at.end);
  report(ctx, sc, cmd, who, f, at, host, code);
}

/** Fills `f` from `code`, following literal eval/exec strings; false when the code did not parse. */
function collect(ctx: Ctx, lang: CodeLang, code: string, f: Facts, depth: number): boolean {
  let ok = true;
  if ((lang === 'python' || lang === 'javascript') && !namesCapability(lang, code)) {
    // Names none of the modules, builtins or globals the analyser follows: nothing to find, skip the parse.
    ok = true;
  } else if (lang === 'python' || lang === 'javascript') {
    // The grammar's one-time load (a few ms, first interpreter code in the process) does not count against the budget.
    const loadMs = loadGrammar(lang);
    if (loadMs > 0) ctx.deadline += loadMs;
    let t = parseCode(lang, code, ctx.deadline);
    // Cancelled only because the process was starved: the budget is not spent, parse again.
    while (t === null && !pastDeadline(ctx)) t = parseCode(lang, code, ctx.deadline);
    if (t === null) throw new DeadlineError('interpreter code parse ran past the validation deadline');
    ok = !t.hasError;
    if (lang === 'python') analyzePython(t, f);
    else analyzeJavaScript(t, f);
  } else analyzeScripting(lang, code, f);
  const nestedCode = f.literalCode.splice(0);
  for (const c of nestedCode.slice(0, MAX_NESTED)) {
    if (depth >= ctx.p.policy.validation.maxDepth) {
      f.dynamicCode.push('code nested too deep');
      break;
    }
    if (!collect(ctx, c.lang as CodeLang, c.text, f, depth + 1)) ok = false;
  }
  if (nestedCode.length > MAX_NESTED) f.dynamicCode.push('too many evaluated strings');
  return ok;
}

/** Secret locations (relative to a home directory) as they appear inside code text; see secrets.ts for the path rules. */
const SECRET_LOCATION = /(?:^|[/'"`\s])(\.ssh\/(?:id_[\w.*-]*|[\w.*-]*_(?:rsa|ed25519|ecdsa|dsa)\b[\w.-]*)|\.aws\/credentials|\.netrc|\.git-credentials|\.docker\/config\.json|\.kube\/config|\.config\/gh\/hosts\.yml|\.pypirc|\.vault-token|\.gnupg\/[\w.*/-]+)/g;

/** Each distinct secret location named in `code` (at most 8). */
function secretLocations(code: string): string[] {
  if (!/\.(ssh|aws|netrc|git-cred|docker|kube|config\/gh|pypirc|vault|gnupg)/.test(code)) return [];
  return [...new Set([...code.matchAll(SECRET_LOCATION)].map((m) => m[1]!))].slice(0, 8);
}

const SHELL_PROGRAM = /(^|\/)(sh|bash|dash|zsh|ksh|ash|mksh|fish|csh|tcsh|busybox)$/;
const INTERACTIVE_SHELL = /(^|[\s/'"])(ba|z|da|k|mk|tc|c)?sh(\s+-i\b|['"\s]*$)|\/bin\/(ba|z|da|k)?sh\b/;
const SECRETISH = /(^|\/)\.env(\.|$)|\.ssh\/|\.aws\/|\.netrc|\.git-credentials|credentials|\/proc\/[^/]+\/environ|\.npmrc|\.pypirc|\.docker\/config/;

function report(ctx: Ctx, sc: Scope, cmd: Cmd, who: string, f: Facts, at: Span, host: InterpHost, code: string): void {
  const usesNet = f.netApis.length > 0 || f.hosts.length > 0;
  const decoded = f.decoders.length > 0;
  const runsShell = f.argvs.some((a) => SHELL_PROGRAM.test(a.argv[0]!)) || f.shells.some((s) => INTERACTIVE_SHELL.test(s.text));
  // A command built at run time next to a socket, with a shell named in the code, is the reverse-shell shape too.
  const dynamicShell = f.dynamicExec.length > 0 && INTERACTIVE_SHELL.test(code);
  if (usesNet && (f.dup2 || runsShell || dynamicShell)) {
    add(ctx, sc, 'deny', 'interp.reverse_shell', `${who} code connects a socket to a shell`, at.start, at.end);
  }
  if (f.shells.length > 0 || f.argvs.length > 0) {
    const first = f.shells[0]?.api ?? f.argvs[0]!.api;
    add(ctx, sc, 'ask', 'interp.shell_escape', `${who} code runs programs (${first}); each is checked like a shell command`, at.start, at.end);
  }
  const seen = new Set<string>();
  let n = 0;
  for (const s of f.shells) {
    if (seen.has(s.text)) continue;
    seen.add(s.text);
    if (++n > MAX_NESTED) break;
    nestedText(ctx, sc, cmd, s.text, at, `shell command inside ${who} code (${s.api})`);
  }
  for (const a of f.argvs) {
    const text = a.argv.map(shellQuote).join(' ');
    if (seen.has(text)) continue;
    seen.add(text);
    if (++n > MAX_NESTED) break;
    nestedText(ctx, sc, cmd, text, at, `program run by ${who} code (${a.api})`);
  }
  if (n > MAX_NESTED) opaque(ctx, sc, 'interp_code', `${who} code runs more than ${MAX_NESTED} commands`, at.start, at.end);
  const dyn = [...new Set([...f.dynamicExec, ...f.dynamicCode])];
  if (dyn.length > 0) {
    if (decoded) add(ctx, sc, 'deny', 'interp.obfuscated_exec', `${who} code decodes data (${f.decoders[0]}) and runs code or commands only known at run time (${dyn[0]})`, at.start, at.end);
    else if (f.dynamicExec.length > 0) opaque(ctx, sc, 'interp_code', `${who} code runs a command only known at run time (${f.dynamicExec[0]})`, at.start, at.end);
    else opaque(ctx, sc, 'interp_code', `${who} code evaluates code only known at run time (${f.dynamicCode[0]})`, at.start, at.end);
  }
  const tool = who.replace(/[0-9.]+$/, '');
  for (const p of f.reads) host.path(ctx, sc, cmd, p, 'read', tool, at);
  // A secret location named in the code while the rest of its path is built at run time (`Dir.home + "/.ssh/id_rsa"`,
  // `glob('/home/*/.ssh/id_*')`): judged as a read of that location under the home directory.
  for (const frag of secretLocations(code)) if (!f.reads.some((p) => p.includes(frag))) host.path(ctx, sc, cmd, `~/${frag}`, 'read', tool, at);
  homeHunt(ctx, sc, who, f, at);
  for (const h of f.helperExecs) recordExec(ctx, h);
  for (const p of f.writes) host.path(ctx, sc, cmd, p, 'write', tool, at);
  for (const d of f.deletes) {
    host.path(ctx, sc, cmd, d.path, 'write', tool, at);
    if (d.recursive) host.recursiveDelete(ctx, sc, cmd, d.path, tool, at);
  }
  for (const h of new Set(f.hosts)) host.host(ctx, sc, cmd, h, tool, at);
  if (f.netUnknown) {
    recordNet(ctx, '*');
    // Programs compute their URLs (a test suite's `requests.get(url)`, an HTTP adapter): with nothing read
    // to send, that is a download like bash's plain fetch (policy network.fetch); code that also reads
    // files or the environment is a question (network.external), and secrets with network are denied below.
    const carries = f.reads.length > 0 || f.envDumps.length > 0;
    const verdict = carries ? ctx.p.policy.network.external : (ctx.p.policy.network.fetch ?? ctx.p.policy.network.external);
    add(ctx, sc, verdict, 'interp.network', `${who} code opens network connections to a host only known at run time (${f.netApis[0] ?? 'socket'})`, at.start, at.end);
  }
  if (f.envDumps.length > 0) {
    if (usesNet) add(ctx, sc, 'deny', 'interp.secret_exfil', `${who} code reads the whole environment (${f.envDumps[0]}) and uses the network`, at.start, at.end);
    else add(ctx, sc, 'ask', 'exfil.env_dump', `${who} code reads every environment variable, secrets included (${f.envDumps[0]})`, at.start, at.end);
  }
  if (usesNet && f.reads.some((p) => SECRETISH.test(p))) {
    add(ctx, sc, 'deny', 'interp.secret_exfil', `${who} code reads credentials and uses the network`, at.start, at.end);
  }
  recordExec(ctx, who);
}

/**
 * Roots whose trees hold the home directory's secrets: the home itself, every home, the whole file system, and
 * a home's hidden directories (`~/.ssh`, `~/.config`, `~/.aws`: where credential files live).
 */
const HOME_ROOT = /^(?:~|\/|\/home(?:\/[^/]+)?|\/root|\/Users(?:\/[^/]+)?)(?:\/\.[^/]+)?\/*$/;

/**
 * Code that lists or walks the home directory (or `/`, `/home`, `/root`) and opens files at paths only known at run
 * time reads whatever it finds there, secrets included (`for r, _, fs in os.walk(Path.home()): open(join(r, f))`):
 * which files it reads the chain cannot know, so it is opaque, never allowed.
 */
function homeHunt(ctx: Ctx, sc: Scope, who: string, f: Facts, at: Span): void {
  if (f.runtimeReads === 0) return;
  // A glob's root is its directory part before the first wildcard (`/home/*/**` lists /home).
  const root = f.listed.map((p) => p.replace(/\/[^/]*[*?[][\s\S]*$/, '') || '/').find((p) => HOME_ROOT.test(p));
  if (root === undefined) return;
  opaque(ctx, sc, 'interp_code', `${who} code opens files it finds by listing ${root} at run time, secrets included`, at.start, at.end);
}

/** Identifiers through which code can reach what the analysers model (derived from their tables). */
const CAPABILITY_WORDS: Partial<Record<CodeLang, ReadonlySet<string>>> = { python: PYTHON_ROOTS, javascript: JS_ROOTS };

/** Attribute names that reach capabilities whatever object they are read from. */
const CAPABILITY_ATTRS = new Set([
  'system', 'popen', 'spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork', 'rmtree', 'unlink', 'remove', 'environ', 'env',
  '__import__', '__builtins__', '__subclasses__', '__globals__', '__code__', '__class__', '__bases__', '__mro__', '__getattribute__', '__dict__',
  '__loader__', '__reduce__', 'constructor', '__proto__', 'mainModule', 'binding',
]);

function namesCapability(lang: CodeLang, code: string): boolean {
  const words = CAPABILITY_WORDS[lang];
  if (!words) return true;
  for (const m of code.matchAll(/[A-Za-z_$][\w$]*/g)) {
    const w = m[0];
    // After a dot only the dangerous attribute names count (re.compile, x.format are ordinary methods).
    const attr = m.index > 0 && code[m.index - 1] === '.';
    if (attr ? CAPABILITY_ATTRS.has(w) : words.has(w) || CAPABILITY_ATTRS.has(w)) return true;
  }
  return false;
}

/**
 * The runner runs each command as `bash -c <cmd>` with no further arguments,
 * so at the top level of a command (not inside a function or a nested
 * script) `$1`…`$9`, `$@` and `$*` expand to nothing. A code word whose only
 * unknown parts are those has a known value.
 */
function topLevelPositionalsEmpty(sc: Scope, cmd: Cmd, w: Word): string | null {
  if (sc.depth !== 0 || cmd.inFunction !== null || w.vars.length === 0) return null;
  if (w.flags & (WordFlag.substitution | WordFlag.glob | WordFlag.arithmetic | WordFlag.brace | WordFlag.indirect | WordFlag.paramOp | WordFlag.transform)) return null;
  if (!w.vars.every((v) => /^[1-9@*]$/.test(v))) return null;
  let unknowns = 0;
  for (const ch of w.pattern) if (ch === UNKNOWN) unknowns++;
  if (unknowns !== w.vars.length) return null;
  return w.pattern.replace(/\\([\s\S])|\u0001/g, (_m, c: string | undefined) => c ?? '');
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
