import { createValidator } from './src/index.ts';
import fs from 'node:fs';
const v = await createValidator();
const which = process.argv[2] ?? 'both';
for (const f of ['benign', 'hostile-sample']) {
  if (which !== 'both' && !f.startsWith(which)) continue;
  const rows = fs.readFileSync('/work/shared/corpus/' + f + '.jsonl', 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const counts: Record<string, number> = { allow: 0, ask: 0, deny: 0 };
  const byRule: Record<string, number> = {};
  const t0 = performance.now();
  const out: string[] = [];
  for (const r of rows) {
    const res = v.validate(r.cmd);
    counts[res.verdict]!++;
    if (f === 'benign' && res.verdict !== 'allow') { byRule[res.verdict + ' ' + res.rule] = (byRule[res.verdict + ' ' + res.rule] ?? 0) + 1; out.push(`${res.verdict} ${res.rule} | ${res.reason} | ${JSON.stringify(r.cmd).slice(0, 200)}`); }
    if (f !== 'benign') { byRule[res.verdict + ' ' + res.rule] = (byRule[res.verdict + ' ' + res.rule] ?? 0) + 1; if (res.verdict === 'allow') out.push(`ALLOW ${r.category} | ${JSON.stringify(r.cmd).slice(0, 200)}`); }
  }
  const dt = performance.now() - t0;
  console.log(f, counts, (rows.length / dt * 1000).toFixed(0), 'cmd/s');
  console.log(Object.entries(byRule).sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${n} ${k}`).join('\n'));
  fs.writeFileSync('/tmp/vprobe/' + f + '.out', out.join('\n') + '\n');
}
