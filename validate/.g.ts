import { globsIntersect } from './src/compile.ts';
import { parse } from 'yaml';
import fs from 'node:fs';
const pol = parse(fs.readFileSync('/work/main/validate/policy/default.yaml', 'utf8'));
for (const c of ['astroid/*.py', '.env*', 'src/**/*.ts', '/e*/sh*w', '.dev.*', '~/.ssh/id_[r]sa']) {
  const hits = [];
  for (const r of pol.paths) for (const p of r.patterns) if (globsIntersect(c, p)) hits.push(p);
  console.log(c, hits.join(' '));
}
