import { createValidator, defaultPolicy } from './src/index.ts';
import fs from 'node:fs';
const base = await defaultPolicy();
const variants: Record<string, any> = { full: base, noPaths: { ...base, paths: [] }, noCode: { ...base, code: [] }, noCmds: { ...base, commands: [] , env: []} };
const cmds = fs.readFileSync('/work/shared/corpus/benign.jsonl', 'utf8').trim().split('\n').map((l) => JSON.parse(l).cmd as string);
for (const [k, pol] of Object.entries(variants)) {
  const v = await createValidator({ policy: pol });
  let best = 0;
  for (let r = 0; r < 4; r++) { const t0 = performance.now(); for (const c of cmds) v.validate(c); const rate = cmds.length / (performance.now() - t0) * 1000; best = Math.max(best, rate); }
  console.log(k, best.toFixed(0));
}
