import { createValidator } from './src/index.ts';
import { loadBashGrammar } from './src/grammar.ts';
import fs from 'node:fs';
const v = await createValidator();
const g = await loadBashGrammar();
const cmds = fs.readFileSync('/work/shared/corpus/benign.jsonl', 'utf8').trim().split('\n').map((l) => JSON.parse(l).cmd as string);
for (let r = 0; r < 4; r++) {
  let t0 = performance.now();
  for (const c of cmds) g.parse(c, 1000);
  const tp = performance.now() - t0;
  t0 = performance.now();
  const times: number[] = [];
  for (const c of cmds) { const a = performance.now(); v.validate(c); times.push(performance.now() - a); }
  const dt = performance.now() - t0;
  times.sort((a, b) => a - b);
  console.log('parse-only/s', (cmds.length / tp * 1000).toFixed(0), 'chain/s', (cmds.length / dt * 1000).toFixed(0), 'p50', times[times.length >> 1]!.toFixed(4), 'p99', times[Math.floor(times.length * 0.99)]!.toFixed(3));
}
