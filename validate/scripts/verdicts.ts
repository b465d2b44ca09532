/**
 * Verdict fingerprint of the whole chain, for speed work that must not change a verdict.
 *
 *   node --conditions=airlock-source validate/scripts/verdicts.ts dump <out.jsonl> [--from <repo root>]
 *   node --conditions=airlock-source validate/scripts/verdicts.ts compare <baseline.jsonl> [--from <repo root>]
 *
 * `dump` validates the shared benign corpus, the shared hostile sample and every metamorphic
 * variant of the hostile sample (`validate/src/metamorphic.ts`) and writes one JSON line per
 * command: the command, its verdict, rule, reason, span, every finding (rule, verdict, reason,
 * span) and the effects (exec, reads, writes, network, opaque spots). `--from` loads the chain of
 * another checkout (read only; its packages must resolve, e.g. `git archive main validate proto | tar -x`
 * into a directory with this checkout's node_modules linked) to take the baseline from that code.
 * `compare` recomputes the lines with this checkout's chain and prints every line that differs
 * (exit 1 when any does). Verdicts are not committed as data: generate the baseline from the code
 * you compare against.
 *
 * Internal timeouts (`internal.timeout`) depend on machine load, not on the command; a command
 * that timed out in either run is re-validated once before it counts as a difference.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

interface ChainModule {
  createValidator(): Promise<{ validate(cmd: string): unknown }>;
}
interface MetamorphicModule {
  variants(cmd: string): { cmd: string; transform: string }[];
}

const corpusDir = path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'corpus');

function corpus(file: string): string[] {
  return readFileSync(path.join(corpusDir, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { cmd: string }).cmd);
}

/** The inputs, in a fixed order: benign, hostile, then variants of each hostile command. */
function inputs(meta: MetamorphicModule): { set: string; cmd: string }[] {
  const out: { set: string; cmd: string }[] = [];
  for (const cmd of corpus('benign.jsonl')) out.push({ set: 'benign', cmd });
  const hostile = corpus('hostile-sample.jsonl');
  for (const cmd of hostile) out.push({ set: 'hostile', cmd });
  for (const cmd of hostile) for (const v of meta.variants(cmd)) out.push({ set: `variant:${v.transform}`, cmd: v.cmd });
  return out;
}

/** One line per command: everything the chain answered, in a stable key order. */
function line(set: string, cmd: string, v: unknown): string {
  return JSON.stringify({ set, cmd, v });
}

function isTimeout(l: string): boolean {
  return l.includes('"internal.timeout"');
}

async function load(from: string): Promise<{ chain: ChainModule; meta: MetamorphicModule }> {
  const src = path.join(from, 'validate', 'src');
  const chain = (await import(pathToFileURL(path.join(src, 'index.ts')).href)) as ChainModule;
  const meta = (await import(pathToFileURL(path.join(src, 'metamorphic.ts')).href)) as MetamorphicModule;
  return { chain, meta };
}

async function main(): Promise<number> {
  const [mode, file, ...rest] = process.argv.slice(2);
  const fromAt = rest.indexOf('--from');
  const from = fromAt >= 0 ? path.resolve(rest[fromAt + 1]!) : path.resolve(import.meta.dirname, '..', '..');
  if ((mode !== 'dump' && mode !== 'compare') || !file) {
    process.stderr.write('usage: verdicts.ts dump|compare <file.jsonl> [--from <repo root>]\n');
    return 2;
  }
  const { chain, meta } = await load(from);
  const v = await chain.createValidator();
  const all = inputs(meta);
  const validateLine = (x: { set: string; cmd: string }) => line(x.set, x.cmd, v.validate(x.cmd));
  if (mode === 'dump') {
    const out = createWriteStream(file);
    for (const x of all) {
      let l = validateLine(x);
      if (isTimeout(l)) l = validateLine(x);
      out.write(l + '\n');
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    process.stdout.write(`${all.length} verdicts written to ${file} (chain from ${from})\n`);
    return 0;
  }
  const base = readFileSync(file, 'utf8').split('\n').filter((l) => l);
  if (base.length !== all.length) {
    process.stdout.write(`baseline has ${base.length} lines, this checkout builds ${all.length} inputs\n`);
    return 1;
  }
  let diffs = 0;
  all.forEach((x, i) => {
    let l = validateLine(x);
    if (l !== base[i] && (isTimeout(l) || isTimeout(base[i]!))) l = validateLine(x);
    if (l === base[i]) return;
    diffs++;
    if (diffs <= 20) process.stdout.write(`DIFF #${i} ${x.set}\n  was ${base[i]}\n  now ${l}\n`);
  });
  process.stdout.write(`${all.length} commands compared, ${diffs} differences\n`);
  return diffs === 0 ? 0 : 1;
}

process.exitCode = await main();
