// Would a V8 startup snapshot make the CLI start fast? Builds @airlock/proto (zod and every schema)
// into one CommonJS script, makes a Node startup snapshot of it (`node --build-snapshot`), and times,
// interleaved: `node -e 0`, a start from the snapshot (schemas already built), and a plain start that
// loads the same script with the compile cache on. Also tries a snapshot with @airlock/client (the
// NATS client) in it and reports whether Node can make one. No Docker or NATS needed.
//   node --conditions=airlock-source bench/cli-snapshot.ts [rounds]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { stats } from './steps.ts';

const root = resolve(import.meta.dirname, '..');

/** One CommonJS script holding `entry` and all it imports, runnable by `node --build-snapshot`. */
async function snapshotScript(dir: string, name: string, entry: string): Promise<string> {
  const out = join(dir, `${name}.bundle.cjs`);
  await build({ absWorkingDir: root, stdin: { contents: entry, resolveDir: join(root, 'harness', 'src', 'cli'), loader: 'ts' }, outfile: out, bundle: true, format: 'cjs', platform: 'node', target: 'node22', conditions: ['airlock-source'], logLevel: 'error' });
  const script = join(dir, `${name}.cjs`);
  // zod's JIT off, as the CLI's launcher sets it; the bundle inlined (a snapshot script may require only built-ins).
  writeFileSync(script, `globalThis.__zod_globalConfig = { jitless: true };\n(function(){\n${readFileSync(out, 'utf8')}\n})();\n{ const v8 = require('node:v8'); if (v8.startupSnapshot?.isBuildingSnapshot()) v8.startupSnapshot.setDeserializeMainFunction(() => { if (!globalThis.__loaded.proto.RoleSchema.safeParse('operator').success) process.exit(1); }); }\n`);
  return script;
}

function wall(args: string[]): number {
  const t0 = performance.now();
  execFileSync(process.execPath, args, { stdio: 'ignore' });
  return performance.now() - t0;
}

const rounds = Number(process.argv[2] ?? 15);
const dir = mkdtempSync(join(tmpdir(), 'airlock-cli-snapshot-'));
try {
  const proto = await snapshotScript(dir, 'proto', "import * as proto from '@airlock/proto'; (globalThis as any).__loaded = { proto };");
  const blob = join(dir, 'proto.blob');
  execFileSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', proto], { stdio: 'ignore' });
  const plain = join(dir, 'plain.cjs');
  writeFileSync(plain, `require('node:module').enableCompileCache?.();\nrequire(${JSON.stringify(proto)});\n`);
  wall([plain]);
  const s = { node: [] as number[], snapshot: [] as number[], plain: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    s.node.push(wall(['-e', '0']));
    s.snapshot.push(wall(['--snapshot-blob', blob]));
    s.plain.push(wall([plain]));
  }
  const client = await snapshotScript(dir, 'client', "import * as proto from '@airlock/proto'; import { Airlock } from '@airlock/client'; (globalThis as any).__loaded = { proto, Airlock };");
  const withClient = spawnSync(process.execPath, ['--snapshot-blob', join(dir, 'client.blob'), '--build-snapshot', client], { encoding: 'utf8' });
  const clientErr = withClient.status === 0 ? null : (withClient.stderr.split('\n').find((l) => /Unknown external reference|Error/.test(l)) ?? `exit ${withClient.status}`);
  const r = { rounds, nodeE0: stats(s.node), fromSnapshot: stats(s.snapshot), plainLoad: stats(s.plain), snapshotBlobMb: Math.round(readFileSync(blob).length / 1e5) / 10, clientSnapshot: clientErr ? `failed: ${clientErr}` : 'built' };
  console.log(`wall p50: node -e 0 ${r.nodeE0.p50} ms | from a snapshot with zod + proto's schemas built ${r.fromSnapshot.p50} ms | loading and building them (compile cache on) ${r.plainLoad.p50} ms | blob ${r.snapshotBlobMb} MB | a snapshot with the SDK and NATS client: ${r.clientSnapshot}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
