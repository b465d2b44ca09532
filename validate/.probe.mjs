import { Parser, Language } from 'web-tree-sitter';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url + '/../../work/main/x.js');
await Parser.init();
const lang = await Language.load('/work/main/node_modules/tree-sitter-bash/tree-sitter-bash.wasm');
const p = new Parser(); p.setLanguage(lang);
function dump(n, ind='') {
  let s = ind + n.type + (n.isNamed? '' : '(anon)') + ' [' + n.startIndex + ',' + n.endIndex + ']' + (n.childCount===0 ? ' ' + JSON.stringify(n.text) : '') + (n.isMissing?' MISSING':'') + (n.type==='ERROR'?' ERROR':'');
  console.log(s);
  for (const c of n.children) dump(c, ind+'  ');
}
for (const src of process.argv.slice(2)) { console.log('=== ', JSON.stringify(src)); const t = p.parse(src); console.log('hasError', t.rootNode.hasError); dump(t.rootNode); }
