import { Parser, Language } from 'web-tree-sitter';
import fs from 'node:fs';
await Parser.init();
const lang = await Language.load('/work/main/node_modules/tree-sitter-bash/tree-sitter-bash.wasm');
const p = new Parser(); p.setLanguage(lang);
for (const f of ['benign','hostile-sample']) {
  const cmds = fs.readFileSync('/work/shared/corpus/'+f+'.jsonl','utf8').trim().split('\n').map(l=>JSON.parse(l).cmd);
  let err=0; const t0=performance.now(); const bad=[];
  for (const c of cmds) { const t=p.parse(c); if (t.rootNode.hasError) { err++; bad.push(c);} t.delete(); }
  const dt=performance.now()-t0;
  console.log(f, cmds.length, 'errors', err, 'ms/parse', (dt/cmds.length).toFixed(4));
  for (const b of bad.slice(0,15)) console.log('   ', JSON.stringify(b).slice(0,300));
}
