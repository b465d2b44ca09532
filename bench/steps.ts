// Step latency: an Airlock step (client -> harness -> runner -> sandbox -> log -> client) against a raw
// dockerode exec of the same command into an already-running container, interleaved in one run. Three
// Airlock stacks side by side: steps through the in-sandbox executor (the default), through
// `docker exec` (runner --executor exec), and through the executor with the sandbox under gVisor
// (a policy with `runtime: runsc`), the last against a raw exec into a runsc container.
import { readFileSync, writeFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { demux } from '@airlock/runner';
import { TestStack } from '../test/fixtures.ts';
import { repeatablePolicyFile } from './policy.ts';
import { stepPhases } from './step-phases.ts';

export interface Stats {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  const round = (x: number) => Math.round(x * 100) / 100;
  return { n: s.length, p50: round(q(0.5)), p90: round(q(0.9)), p99: round(q(0.99)), mean: round(s.reduce((a, b) => a + b, 0) / s.length) };
}

export async function rawExec(container: Docker.Container, cmd: string): Promise<number> {
  const t0 = performance.now();
  const exec = await container.exec({ Cmd: ['bash', '-c', cmd], AttachStdout: true, AttachStderr: true, User: '1000:1000', WorkingDir: '/workspace' });
  const stream = (await exec.start({ hijack: true, stdin: false })) as unknown as AsyncIterable<Buffer>;
  let bytes = 0;
  for await (const f of demux(stream)) bytes += f.data.length;
  const info = await exec.inspect();
  if (info.ExitCode !== 0) throw new Error(`raw exec failed: ${info.ExitCode}`);
  void bytes;
  return performance.now() - t0;
}

export async function runStepBench(opts: { steps?: number; opens?: number } = {}) {
  const steps = opts.steps ?? 200;
  const opens = opts.opens ?? 20;
  // 200 identical steps in a row: the loop detectors would pause the run after four (bench/policy.ts).
  const repeatable = await repeatablePolicyFile();
  await using stack = await TestStack.start({ harness: { policyFile: repeatable } });
  const c = stack.client;
  process.env.AIRLOCK_EXECUTOR = 'exec';
  await using execStack = await TestStack.start({ harness: { policyFile: repeatable } });
  delete process.env.AIRLOCK_EXECUTOR;
  const ce = execStack.client;
  const policyDir = mkdtempSync(join(tmpdir(), 'airlock-bench-'));
  const runscPolicy = join(policyDir, 'runsc.json');
  writeFileSync(runscPolicy, readFileSync(await repeatablePolicyFile({ runtime: 'runsc' })));
  await using runscStack = await TestStack.start({ harness: { policyFile: runscPolicy }, policyRuntime: true });
  const cs = runscStack.client;
  const docker = new Docker();
  const rawContainer = async (runtime: 'runc' | 'runsc') => {
    const container = await docker.createContainer({
      Image: 'airlock/sandbox:default',
      Cmd: ['sleep', 'infinity'],
      Entrypoint: [],
      User: '1000:1000',
      Labels: { 'airlock.bench': '1' },
      HostConfig: { Runtime: runtime, NetworkMode: 'none', Init: true, CapDrop: ['ALL'], ReadonlyRootfs: true, Tmpfs: { '/tmp': 'rw' } },
    });
    await container.start();
    return container;
  };
  const raw = await rawContainer('runc');
  const rawS = await rawContainer('runsc');
  const run = await c.open({});
  const runE = await ce.open({});
  const runS = await cs.open({});
  const ratio = (x: number, y: number) => Math.round((x / y) * 100) / 100;
  const results: Record<string, {
    airlock: Stats; airlockDockerExec: Stats; raw: Stats; ratioP50: number; ratioP90: number; dockerExecRatioP50: number; dockerExecRatioP90: number;
    /** The same step with the sandbox under gVisor (runsc, ptrace platform), and raw docker exec into a runsc container. */
    runsc: { airlock: Stats; raw: Stats; ratioP50: number; ratioP90: number; overRuncP50: number; overRuncP90: number };
  }> = {};
  try {
    for (const cmd of ['true', 'seq 1 100000']) {
      const a: number[] = [];
      const e: number[] = [];
      const r: number[] = [];
      const g: number[] = [];
      const rg: number[] = [];
      const step = async (client: typeof c, runId: string, into: number[]) => {
        const t0 = performance.now();
        const res = await client.run(runId).exec(cmd, { onOutput: () => undefined });
        into.push(performance.now() - t0);
        if (res.exitCode !== 0) throw new Error(`airlock step failed: ${JSON.stringify(res)}`);
      };
      // Warm every path, then interleave so all see the same machine noise.
      for (let i = 0; i < 5; i++) {
        await rawExec(raw, cmd);
        await step(c, run.runId, []);
        await step(ce, runE.runId, []);
        await rawExec(rawS, cmd);
        await step(cs, runS.runId, []);
      }
      for (let i = 0; i < steps; i++) {
        r.push(await rawExec(raw, cmd));
        await step(c, run.runId, a);
        await step(ce, runE.runId, e);
        rg.push(await rawExec(rawS, cmd));
        await step(cs, runS.runId, g);
      }
      const [sa, se, sr, sg, srg] = [stats(a), stats(e), stats(r), stats(g), stats(rg)];
      results[cmd] = {
        airlock: sa, airlockDockerExec: se, raw: sr, ratioP50: ratio(sa.p50, sr.p50), ratioP90: ratio(sa.p90, sr.p90), dockerExecRatioP50: ratio(se.p50, sr.p50), dockerExecRatioP90: ratio(se.p90, sr.p90),
        runsc: { airlock: sg, raw: srg, ratioP50: ratio(sg.p50, srg.p50), ratioP90: ratio(sg.p90, srg.p90), overRuncP50: ratio(sg.p50, sa.p50), overRuncP90: ratio(sg.p90, sa.p90) },
      };
      console.log(`  ${cmd}: Airlock p50 ${sa.p50} ms (${results[cmd].ratioP50}x raw), Airlock over docker exec p50 ${se.p50} ms (${results[cmd].dockerExecRatioP50}x), raw docker exec p50 ${sr.p50} ms; under runsc: Airlock p50 ${sg.p50} ms, raw docker exec p50 ${srg.p50} ms`);
    }
    const opensOf = async (client: typeof c) => {
      const o: number[] = [];
      for (let i = 0; i < opens; i++) {
        const t0 = performance.now();
        const x = await client.open({});
        o.push(performance.now() - t0);
        await client.close(x.runId);
      }
      return stats(o);
    };
    // Where the `true` step's time goes, on the default stack's run (bench/step-phases.ts).
    const phases = await stepPhases(c, run.runId, Math.min(steps, 100));
    return { steps: results, phases, runOpenMs: await opensOf(c), runscRunOpenMs: await opensOf(cs) };
  } finally {
    await c.close(run.runId);
    await ce.close(runE.runId);
    await cs.close(runS.runId);
    await raw.remove({ force: true });
    await rawS.remove({ force: true });
    rmSync(policyDir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const res = await runStepBench({ steps: Number(process.env.BENCH_STEPS ?? 200) });
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(join(import.meta.dirname, 'results', 'steps.json'), JSON.stringify({ at: new Date().toISOString(), ...res }, null, 2) + '\n');
  console.log(JSON.stringify(res, null, 2));
}
