// `npm run soundness`: every shared corpus line and every metamorphic variant through the harness.
//   node test/soundness/cli.ts [--subset] [--benign N] [--variants-per-transform N] [--timeout S]
//                              [--batch N] [--parallel N] [--only hostile,benign,variants] [--out FILE]
//                              [--no-lock] [--resume EARLIER_REPORT] [--rejudge EARLIER_REPORT] [--match REGEX]
// Writes the JSON report (default test/soundness/results/report.json) and prints the summary.
// Exit code 1 when any soundness bug was found.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createValidator, type Validator } from '@airlock/validate';
import { loadCases } from './cases.ts';
import { judgeCase, runCases, type Case, type CaseResult } from './harness.ts';
import { ensureSoundnessImage } from './image.ts';
import { buildReport, summary, type Report } from './report.ts';
import { SUBSET } from './subset.ts';
import { HARNESS_STARTUP } from './startup.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    subset: { type: 'boolean', default: false },
    benign: { type: 'string' },
    'variants-per-transform': { type: 'string' },
    timeout: { type: 'string', default: '3' },
    batch: { type: 'string', default: '1200' },
    only: { type: 'string', default: 'hostile,benign,variants' },
    out: { type: 'string', default: resolve(here, 'results', 'report.json') },
    // Each batch takes /tmp/airlock-docker.lock unless told not to (when the caller already holds it).
    'no-lock': { type: 'boolean', default: false },
    // Containers at a time (each with its own batch), all under one hold of the lock.
    parallel: { type: 'string', default: '1' },
    // A report from an earlier, stopped run: its commands are kept, not run again.
    resume: { type: 'string' },
    // Judge an earlier report's traces again with the current chain (no container is started).
    rejudge: { type: 'string' },
    // Only benign lines matching this regular expression (a change's subset: `--match '\bgit\b'`).
    match: { type: 'string' },
  },
});

const num = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s));
const set = loadCases(values.subset ? SUBSET : { benign: num(values.benign), variantsPerTransform: num(values['variants-per-transform']) });
const only = new Set(values.only.split(','));
const benignPicked = values.match ? set.benign.filter((c) => new RegExp(values.match!).test(c.cmd)) : set.benign;
const all: Case[] = [...(only.has('hostile') || only.has('variants') ? set.hostile : []), ...(only.has('variants') ? set.variants : []), ...(only.has('benign') ? benignPicked : [])];

/** Every case's verdict from the chain (variants that did not run are still counted in not-allowed). */
function verdictsBy(v: Validator): (id: string) => string {
  const byId = new Map(all.map((c) => [c.id, c.cmd]));
  return (id) => v.validate(byId.get(id) ?? '').verdict;
}

if (values.rejudge) {
  const old = JSON.parse(readFileSync(values.rejudge, 'utf8')) as Report;
  const v = await createValidator({ startup: HARNESS_STARTUP });
  const tools = new Set(v.policy.network.tools);
  const byId = new Map(all.map((c) => [c.id, c]));
  const again = old.results.flatMap((r) => {
    const c = byId.get(r.id);
    return c ? [judgeCase(c, v, tools, r.run, r.trace)] : [];
  });
  const report = buildReport(all, again, verdictsBy(v));
  writeFileSync(values.out, JSON.stringify(report, null, 1));
  console.log(summary(report));
  console.log(`report: ${values.out} (judged again from ${values.rejudge})`);
  process.exit(report.totals.commandsWithBugs > 0 ? 1 : 0);
}
const earlier: CaseResult[] = values.resume ? (JSON.parse(readFileSync(values.resume, 'utf8')) as Report).results.filter((r) => r.run) : [];
const done = new Set(earlier.map((r) => r.id));
const cases = all.filter((c) => !done.has(c.id));
if (earlier.length) console.error(`resuming: ${earlier.length} commands from ${values.resume}, ${cases.length} to run`);
ensureSoundnessImage((l) => console.error(l));
mkdirSync(dirname(values.out), { recursive: true });
const validator = await createValidator({ startup: HARNESS_STARTUP });
const started = Date.now();
const results = await runCases(cases, validator, {
  timeoutSec: Number(values.timeout),
  lock: !values['no-lock'],
  label: 'airlock.soundness=1',
  batchSize: Number(values.batch),
  parallel: Number(values.parallel),
  onBatch: (done, total, sofar) => {
    console.error(`  ${done}/${total} commands (${Math.round((Date.now() - started) / 1000)} s)`);
    // The report so far, rewritten after every batch: a long run that is stopped still leaves one.
    if (done < total) writeFileSync(values.out, JSON.stringify(buildReport(all, [...earlier, ...sofar]), null, 1));
  },
});
const report = buildReport(all, [...earlier, ...results], verdictsBy(validator));
writeFileSync(values.out, JSON.stringify(report, null, 1));
console.log(summary(report));
console.log(`report: ${values.out} (${Math.round((Date.now() - started) / 1000)} s)`);
process.exitCode = report.totals.commandsWithBugs > 0 ? 1 : 0;
