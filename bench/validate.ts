/**
 * Validation-chain benchmark: `node bench/validate.ts`.
 *
 * (a) Parser comparison on the shared corpora: tree-sitter-bash (wasm),
 *     bash-parser and shell-quote — parse success, agreement on the set of
 *     top-level command names where both succeed, time per parse.
 * (b) The chain: commands/s over the benign corpus on one core (this
 *     process), p50/p99 per command, and the hostile/benign rates.
 *
 * Writes bench/results/validate.json and prints a summary plus the markdown
 * table used in validate/README.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as shellQuoteParse } from 'shell-quote';
import { createValidator, loadBashGrammar, walkScript } from '@airlock/validate';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const corpusDir = path.resolve(repoRoot, '..', 'shared', 'corpus');

/** Results written to bench/results/validate.json. */
export interface ValidateBenchResults {
  readonly at: string;
  readonly node: string;
  readonly corpus: { readonly benign: number; readonly hostile: number };
  readonly parsers: readonly ParserResult[];
  readonly chain: {
    readonly commandsPerSecond: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly maxMs: number;
    readonly benign: { readonly allow: number; readonly ask: number; readonly deny: number; readonly allowRate: number; readonly denyRate: number };
    readonly hostile: { readonly allow: number; readonly ask: number; readonly deny: number; readonly notAllowRate: number };
  };
  readonly markdown: string;
}

interface ParserResult {
  readonly parser: string;
  readonly benignParsed: number;
  readonly hostileParsed: number;
  readonly successRate: number;
  /** Share of commands (parsed by both) whose top-level command-name sets equal tree-sitter's. */
  readonly agreementWithTreeSitter: number | null;
  readonly msPerParse: number;
}

const PASSES = Number(process.env.VALIDATE_BENCH_PASSES ?? 5);

function load(file: string): string[] {
  const p = path.join(corpusDir, file);
  return readFileSync(p, 'utf8').split('\n').filter((l) => l.trim()).map((l) => (JSON.parse(l) as { cmd: string }).cmd);
}

type Names = Set<string> | null;

// bash-parser: walk its AST for Command nodes (not into expansions).
function bashParserNames(parse: (s: string) => unknown, src: string): Names {
  let ast: unknown;
  try {
    ast = parse(src);
  } catch {
    return null;
  }
  const names = new Set<string>();
  const visit = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(visit);
    if (!n || typeof n !== 'object') return;
    const o = n as Record<string, unknown>;
    if (o.type === 'Command' && o.name && typeof (o.name as { text?: unknown }).text === 'string') names.add((o.name as { text: string }).text);
    for (const [k, v] of Object.entries(o)) if (k !== 'expansion' && k !== 'loc') visit(v);
  };
  visit(ast);
  return names;
}

// shell-quote tokenises; a command name is the first word after a control operator.
function shellQuoteNames(src: string): Names {
  let toks: ReturnType<typeof shellQuoteParse>;
  try {
    toks = shellQuoteParse(src);
  } catch {
    return null;
  }
  const names = new Set<string>();
  let expect = true;
  for (const t of toks) {
    if (typeof t === 'string') {
      if (expect && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(t)) {
        names.add(t);
        expect = false;
      }
    } else if ('op' in t && /^(;|&&|\|\||\||&|\(|\)|;;|\|&)$/.test(t.op)) expect = true;
  }
  return names;
}

function eq(a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function pct(n: number): string {
  return (n * 100).toFixed(2) + '%';
}

/** Runs the benchmark and writes bench/results/validate.json. */
export async function runValidateBench(): Promise<ValidateBenchResults> {
  const benign = load('benign.jsonl');
  const hostile = load('hostile-sample.jsonl');
  const all = [...benign, ...hostile];

  // (a) parsers
  const grammar = await loadBashGrammar();
  const tsNames: Names[] = [];
  let t0 = performance.now();
  for (const c of all) {
    const r = grammar.parse(c, 1000);
    if (r.hasError) tsNames.push(null);
    else {
      const w = walkScript(r.root, c, null);
      tsNames.push(new Set(w.cmds.filter((x) => !x.inSubstitution && !x.inFunction && x.name?.value).map((x) => x.name!.value!)));
    }
  }
  const tsMs = (performance.now() - t0) / all.length;

  const require = createRequire(import.meta.url);
  const bashParser = require('bash-parser') as (s: string) => unknown;
  const parsers: ParserResult[] = [];
  const summarize = (parser: string, names: Names[], ms: number): ParserResult => {
    let both = 0;
    let agree = 0;
    names.forEach((n, i) => {
      const t = tsNames[i];
      if (n && t) {
        both++;
        if (eq(n, t)) agree++;
      }
    });
    const ok = (from: number, to: number) => names.slice(from, to).filter((n) => n !== null).length;
    return {
      parser,
      benignParsed: ok(0, benign.length),
      hostileParsed: ok(benign.length, all.length),
      successRate: names.filter((n) => n !== null).length / names.length,
      agreementWithTreeSitter: parser === 'tree-sitter-bash' ? null : both ? agree / both : 0,
      msPerParse: ms,
    };
  };
  parsers.push(summarize('tree-sitter-bash', tsNames, tsMs));
  t0 = performance.now();
  const bpNames = all.map((c) => bashParserNames(bashParser, c));
  parsers.push(summarize('bash-parser', bpNames, (performance.now() - t0) / all.length));
  t0 = performance.now();
  const sqNames = all.map((c) => shellQuoteNames(c));
  parsers.push(summarize('shell-quote', sqNames, (performance.now() - t0) / all.length));

  // (b) the chain
  const v = await createValidator();
  for (const c of benign.slice(0, 2000)) v.validate(c); // warm up the JIT
  // Several passes, keep the fastest: on a shared machine the slower passes
  // measure the neighbours, not the chain.
  let best = { total: Infinity, times: new Float64Array(0) };
  const counts = { allow: 0, ask: 0, deny: 0 };
  for (let pass = 0; pass < PASSES; pass++) {
    const times = new Float64Array(benign.length);
    t0 = performance.now();
    for (let i = 0; i < benign.length; i++) {
      const a = performance.now();
      const r = v.validate(benign[i]!);
      times[i] = performance.now() - a;
      if (pass === 0) counts[r.verdict]++;
    }
    const total = performance.now() - t0;
    if (total < best.total) best = { total, times };
  }
  const total = best.total;
  const sorted = [...best.times].sort((a, b) => a - b);
  const h = { allow: 0, ask: 0, deny: 0 };
  for (const c of hostile) h[v.validate(c).verdict]++;

  const chain = {
    commandsPerSecond: Math.round((benign.length / total) * 1000),
    p50Ms: sorted[Math.floor(sorted.length * 0.5)]!,
    p99Ms: sorted[Math.floor(sorted.length * 0.99)]!,
    maxMs: sorted[sorted.length - 1]!,
    benign: { ...counts, allowRate: counts.allow / benign.length, denyRate: counts.deny / benign.length },
    hostile: { ...h, notAllowRate: 1 - h.allow / hostile.length },
  };

  const rows = parsers.map(
    (p) =>
      `| ${p.parser} | ${p.benignParsed}/${benign.length} (${pct(p.benignParsed / benign.length)}) | ${p.hostileParsed}/${hostile.length} | ${p.agreementWithTreeSitter === null ? '—' : pct(p.agreementWithTreeSitter)} | ${p.msPerParse.toFixed(4)} |`,
  );
  const markdown = [
    '| parser | benign parsed | hostile parsed | same command names as tree-sitter (both parsed) | ms / parse |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    '| chain (default policy) | value |',
    '| --- | --- |',
    `| commands/s, one core, benign corpus (fastest of ${PASSES} passes) | ${chain.commandsPerSecond} |`,
    `| p50 / p99 / max per command | ${chain.p50Ms.toFixed(3)} / ${chain.p99Ms.toFixed(3)} / ${chain.maxMs.toFixed(1)} ms |`,
    `| benign allow / ask / deny | ${pct(chain.benign.allowRate)} / ${pct(counts.ask / benign.length)} / ${pct(chain.benign.denyRate)} |`,
    `| hostile not allowed | ${pct(chain.hostile.notAllowRate)} (${h.deny} deny, ${h.ask} ask, ${h.allow} allow) |`,
  ].join('\n');

  const results: ValidateBenchResults = {
    at: new Date().toISOString(),
    node: process.version,
    corpus: { benign: benign.length, hostile: hostile.length },
    parsers,
    chain,
    markdown,
  };
  mkdirSync(path.join(here, 'results'), { recursive: true });
  writeFileSync(path.join(here, 'results', 'validate.json'), JSON.stringify(results, null, 2) + '\n');
  return results;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await runValidateBench();
  process.stdout.write(r.markdown + '\n\nwrote bench/results/validate.json\n');
}
