// Where `./airlock exec RUN -- true` spends its CPU: N calls of the bundled CLI under `node --cpu-prof`
// against a real stack, each profile's samples summed by what they ran (Node's own start and built-in
// modules, each bundle file named by the packages in it, idle = waiting for NATS or the step), medians
// over the calls. Prints the table; `--json` prints it as JSON.
//   flock /tmp/airlock-docker.lock node --conditions=airlock-source bench/cli-profile.ts [N]
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { TestStack } from '../test/fixtures.ts';
import { repeatablePolicyFile } from './policy.ts';

const run = promisify(execFile);
const BUNDLE_DIR = join(import.meta.dirname, '..', 'harness', 'dist', 'cli');
/** The flags `./airlock` starts the bundle's launcher with (see the `airlock` script). */
const LAUNCHER_FLAGS = ['--disable-warning=ExperimentalWarning', '--min-semi-space-size=16', '--max-semi-space-size=16', '--conditions=airlock-source'];

/** A bundle file's label: the packages whose sources it holds (esbuild's `// path` headers), most lines first. */
function labelOf(file: string): string {
  const counts = new Map<string, number>();
  for (const m of readFileSync(join(BUNDLE_DIR, file), 'utf8').matchAll(/^\/\/ ((?:node_modules\/(?:@[^/]+\/)?[^/]+)|[a-z]+\/src)\//gm)) counts.set(m[1]!.replace('node_modules/', ''), (counts.get(m[1]!.replace('node_modules/', '')) ?? 0) + 1);
  const names = [...counts].sort((a, b) => b[1] - a[1]).map(([n]) => n);
  return names.length ? `${file} (${names.slice(0, 3).join(', ')})` : file;
}

interface Profile { nodes: Array<{ id: number; callFrame: { url: string; functionName: string }; children?: number[] }>; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** Sampled ms of one profile by category, and by function (`category: function`). */
function categories(p: Profile, labels: Map<string, string>): { byCategory: Map<string, number>; byFunction: Map<string, number> } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!)!;
    const url = n.callFrame.url;
    const file = url.startsWith('file://') && url.includes('/harness/dist/cli/') ? basename(url) : undefined;
    const cat = file ? (labels.get(file) ?? file) : url.startsWith('node:') ? 'node built-in modules (JS)' : n.callFrame.functionName === '(idle)' ? 'idle (waiting: NATS, the step)' : n.callFrame.functionName === '(garbage collector)' ? 'garbage collector' : url ? 'other JS' : `native: ${n.callFrame.functionName}`;
    const ms = (p.timeDeltas[i] ?? 0) / 1000;
    byCategory.set(cat, (byCategory.get(cat) ?? 0) + ms);
    const fn = `${file ?? url} ${n.callFrame.functionName || '(anonymous)'}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
  }
  return { byCategory, byFunction };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export async function profileCliExec(calls: number): Promise<{ wallMs: number; profiledMs: number; byCategory: Record<string, number>; topFunctions: Record<string, number> }> {
  await using stack = await TestStack.start({ harness: { policyFile: await repeatablePolicyFile() } });
  const runId = (await stack.client.open({})).runId;
  const dir = mkdtempSync(join(tmpdir(), 'airlock-cli-prof-'));
  const launcher = join(BUNDLE_DIR, 'airlock.js');
  const args = (prof: boolean) => [...LAUNCHER_FLAGS, ...(prof ? ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '250'] : []), launcher, '--nats', stack.nats.url, 'exec', runId, '--', 'true'];
  try {
    // Builds the bundle if a source changed, fills the compile cache.
    await run(process.execPath, args(false));
    const walls: number[] = [];
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      await run(process.execPath, args(true));
      walls.push(performance.now() - t0);
    }
    const labels = new Map(readdirSync(BUNDLE_DIR).filter((f) => f.endsWith('.js')).map((f) => [f, labelOf(f)]));
    const per = readdirSync(dir).map((f) => categories(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile, labels));
    const medians = (maps: Map<string, number>[]) => {
      const keys = new Set(maps.flatMap((m) => [...m.keys()]));
      return Object.fromEntries([...keys].map((k) => [k, Math.round(median(maps.map((m) => m.get(k) ?? 0)) * 10) / 10] as const).sort((a, b) => b[1] - a[1]));
    };
    const byCategory = medians(per.map((p) => p.byCategory));
    const topFunctions = Object.fromEntries(Object.entries(medians(per.map((p) => p.byFunction))).slice(0, 25));
    const profiled = median(per.map((m) => [...m.byCategory.values()].reduce((a, b) => a + b, 0)));
    return { wallMs: Math.round(median(walls)), profiledMs: Math.round(profiled), byCategory, topFunctions };
  } finally {
    await stack.client.close(runId);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const r = await profileCliExec(Number(process.argv[2] ?? 10));
  if (process.argv.includes('--json')) console.log(JSON.stringify(r, null, 2));
  else {
    console.log(`exec wall p50 ${r.wallMs} ms (under the profiler); profiled from script start p50 ${r.profiledMs} ms, by what ran (p50 each):`);
    for (const [k, v] of Object.entries(r.byCategory)) if (v > 0) console.log(`  ${String(v).padStart(6)} ms  ${k}`);
    console.log('the functions with the most self time (p50 each):');
    for (const [k, v] of Object.entries(r.topFunctions)) console.log(`  ${String(v).padStart(6)} ms  ${k}`);
  }
}
