// CLI start: `./airlock exec RUN -- true` (a new process per call, as agents that shell out pay it)
// against `docker exec CID true` into an already-running container of the same image, wall time of
// the whole process, interleaved call by call. Also `./airlock --help`, `./airlock log RUN` and
// `node -e 0` (the floor: Node's own start), and `--help` with the bundle's launcher started by node
// directly, without the `./airlock` shell script (the difference is what that script costs).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TestStack } from '../test/fixtures.ts';
import { repeatablePolicyFile } from './policy.ts';
import { stats, type Stats } from './steps.ts';

const run = promisify(execFile);
const AIRLOCK = join(import.meta.dirname, '..', 'airlock');
/** The bundle's own launcher, and the Node flags `./airlock` starts it with. */
const BUNDLE_LAUNCHER = join(import.meta.dirname, '..', 'harness', 'dist', 'cli', 'airlock.js');
const LAUNCHER_FLAGS = ['--disable-warning=ExperimentalWarning', '--min-semi-space-size=16', '--max-semi-space-size=16', '--conditions=airlock-source'];

/** Wall time of one process, in ms; a failed command fails the bench (a fast failure is no result). */
async function wall(file: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  await run(file, args, { maxBuffer: 16 << 20 });
  return performance.now() - t0;
}

export interface CliBench {
  calls: number;
  exec: Stats;
  dockerExec: Stats;
  /** exec p50 over docker exec p50 (target <= 1.0). */
  ratioP50: number;
  help: Stats;
  log: Stats;
  nodeStart: Stats;
  /** `--help` run as `node FLAGS harness/dist/cli/airlock.js --help`: `help` minus this is the shell launcher's cost. */
  helpNoShell: Stats;
}

export async function runCliBench(opts: { calls?: number } = {}): Promise<CliBench> {
  const calls = opts.calls ?? 20;
  await using stack = await TestStack.start({ harness: { policyFile: await repeatablePolicyFile() } });
  const runId = (await stack.client.open({})).runId;
  const { stdout } = await run('docker', ['run', '-d', '--rm', '--network', 'none', '--label', 'airlock.bench=cli', '--user', '1000:1000', '--entrypoint', 'sleep', 'airlock/sandbox:default', 'infinity']);
  const cid = stdout.trim();
  const nats = ['--nats', stack.nats.url];
  const samples = { exec: [] as number[], dockerExec: [] as number[], help: [] as number[], log: [] as number[], nodeStart: [] as number[], helpNoShell: [] as number[] };
  try {
    // The first call may rebuild the bundle (a source newer than it) and fills Node's compile cache.
    await wall(AIRLOCK, [...nats, 'exec', runId, '--', 'true']);
    await wall('docker', ['exec', cid, 'true']);
    for (let i = 0; i < calls; i++) {
      samples.dockerExec.push(await wall('docker', ['exec', cid, 'true']));
      samples.exec.push(await wall(AIRLOCK, [...nats, 'exec', runId, '--', 'true']));
      samples.help.push(await wall(AIRLOCK, ['--help']));
      samples.log.push(await wall(AIRLOCK, [...nats, 'log', runId]));
      samples.nodeStart.push(await wall(process.execPath, ['-e', '0']));
      samples.helpNoShell.push(await wall(process.execPath, [...LAUNCHER_FLAGS, BUNDLE_LAUNCHER, '--help']));
    }
  } finally {
    await run('docker', ['rm', '-f', cid]);
    await stack.client.close(runId);
  }
  const s = { exec: stats(samples.exec), dockerExec: stats(samples.dockerExec), help: stats(samples.help), log: stats(samples.log), nodeStart: stats(samples.nodeStart), helpNoShell: stats(samples.helpNoShell) };
  return { calls, ...s, ratioP50: Math.round((s.exec.p50 / s.dockerExec.p50) * 100) / 100 };
}

if (import.meta.main) console.log(JSON.stringify(await runCliBench({ calls: Number(process.env.BENCH_CLI_CALLS ?? 20) }), null, 2));
