import { loadBashGrammar } from './src/grammar.ts';
import fs from 'node:fs';
const g = await loadBashGrammar();
const cmds = fs.readFileSync('/work/shared/corpus/benign.jsonl','utf8').trim().split('\n').map(l=>JSON.parse(l).cmd as string);
for (let r=0;r<3;r++){
const times: number[] = [];
const t0=performance.now(); let nodes=0;
for (const c of cmds) { const a=performance.now(); const res=g.parse(c, 1000); times.push(performance.now()-a); }
const dt=performance.now()-t0; times.sort((a,b)=>a-b);
console.log('ms/cmd', (dt/cmds.length).toFixed(4), 'p50', times[Math.floor(times.length*0.5)]!.toFixed(4), 'p99', times[Math.floor(times.length*0.99)]!.toFixed(4), 'max', times[times.length-1]!.toFixed(3));
}
