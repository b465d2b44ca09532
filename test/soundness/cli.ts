// `npm run soundness`: every shared corpus line and every metamorphic variant through the harness.
//   node test/soundness/cli.ts [--subset] [--benign N] [--variants-per-transform N] [--timeout S]
//                              [--batch N] [--only hostile,benign,variants] [--out FILE] [--no-lock]
// Writes the JSON report (default test/soundness/results/report.json) and prints the summary.
// Exit code 1 when any soundness bug was found.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createValidator } from '@airlock/validate';
import { loadCases } from './cases.ts';
import { runCases, type Case } from './harness.ts';
import { ensureSoundnessImage } from './image.ts';
import { buildReport, summary } from './report.ts';
import { SUBSET } from './subset.ts';

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
  },
});

const num = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s));
const set = loadCases(values.subset ? SUBSET : { benign: num(values.benign), variantsPerTransform: num(values['variants-per-transform']) });
const only = new Set(values.only.split(','));
const cases: Case[] = [...(only.has('hostile') || only.has('variants') ? set.hostile : []), ...(only.has('variants') ? set.variants : []), ...(only.has('benign') ? set.benign : [])];

ensureSoundnessImage((l) => console.error(l));
mkdirSync(dirname(values.out), { recursive: true });
const validator = await createValidator();
const started = Date.now();
const results = await runCases(cases, validator, {
  timeoutSec: Number(values.timeout),
  lock: !values['no-lock'],
  batchSize: Number(values.batch),
  onBatch: (done, total, sofar) => {
    console.error(`  ${done}/${total} commands (${Math.round((Date.now() - started) / 1000)} s)`);
    // The report so far, rewritten after every batch: a long run that is stopped still leaves one.
    if (done < total) writeFileSync(values.out, JSON.stringify(buildReport(cases, sofar), null, 1));
  },
});
const report = buildReport(cases, results);
writeFileSync(values.out, JSON.stringify(report, null, 1));
console.log(summary(report));
console.log(`report: ${values.out} (${Math.round((Date.now() - started) / 1000)} s)`);
process.exitCode = report.totals.commandsWithBugs > 0 ? 1 : 0;
