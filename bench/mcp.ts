// The MCP path: one step through `./airlock mcp` (the official MCP client over stdio, exec tool) against
// the same step through the SDK (@airlock/client) in this process and a raw docker exec into a running container,
// interleaved in one run so all three see the same machine noise.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Airlock } from '@airlock/client';
import { TestStack } from '../test/fixtures.ts';
import { stdioClient } from '../test/mcp-clients.ts';
import { repeatablePolicyFile } from './policy.ts';
import { rawExec, stats, type Stats } from './steps.ts';

export interface McpBenchResult {
  steps: number;
  cmd: string;
  mcp: Stats;
  sdk: Stats;
  raw: Stats;
  /** MCP step over SDK step (target: at most 1.2). */
  mcpOverSdkP50: number;
  mcpOverSdkP90: number;
  sdkOverRawP50: number;
}

export async function runMcpBench(opts: { steps?: number; cmd?: string } = {}): Promise<McpBenchResult> {
  const steps = opts.steps ?? 200;
  const cmd = opts.cmd ?? 'true';
  // 200+ identical steps: the loop detectors would pause the run after four (bench/policy.ts).
  await using stack = await TestStack.start({ harness: { policyFile: await repeatablePolicyFile() } });
  // The SDK the MCP server itself uses, in this process.
  await using sdk = await Airlock.connect({ servers: stack.nats.url });
  const run = await sdk.open({});
  const { client } = await stdioClient(['--nats', stack.nats.url, '--run', run.runId], 'bench');
  // As agents do: list the tools first, so the client checks each result against the exec tool's outputSchema.
  await client.listTools();
  const docker = new Docker();
  const raw = await docker.createContainer({
    Image: 'airlock/sandbox:default',
    Cmd: ['sleep', 'infinity'],
    Entrypoint: [],
    User: '1000:1000',
    Labels: { 'airlock.bench': '1' },
    HostConfig: { NetworkMode: 'none', Init: true, CapDrop: ['ALL'], ReadonlyRootfs: true, Tmpfs: { '/tmp': 'rw' } },
  });
  await raw.start();
  const m: number[] = [];
  const s: number[] = [];
  const r: number[] = [];
  const viaMcp = async (into: number[]) => {
    const t0 = performance.now();
    const res = (await client.callTool({ name: 'exec', arguments: { command: cmd } })) as CallToolResult;
    into.push(performance.now() - t0);
    if (res.isError || (res.structuredContent as { exit_code?: number }).exit_code !== 0) throw new Error(`MCP step failed: ${JSON.stringify(res)}`);
  };
  const viaSdk = async (into: number[]) => {
    const t0 = performance.now();
    const res = await run.exec(cmd, { onOutput: () => undefined });
    into.push(performance.now() - t0);
    if (res.exitCode !== 0) throw new Error(`SDK step failed: ${JSON.stringify(res)}`);
  };
  try {
    for (let i = 0; i < 10; i++) {
      await viaMcp([]);
      await viaSdk([]);
      await rawExec(raw, cmd);
    }
    for (let i = 0; i < steps; i++) {
      // Rotate the order so neither path always runs right after the other.
      const order = [() => viaMcp(m), () => viaSdk(s), async () => void r.push(await rawExec(raw, cmd))];
      for (let k = 0; k < 3; k++) await order[(i + k) % 3]!();
    }
  } finally {
    await client.close();
    await run.close();
    await raw.remove({ force: true });
  }
  const [sm, ss, sr] = [stats(m), stats(s), stats(r)];
  const ratio = (x: number, y: number) => Math.round((x / y) * 100) / 100;
  return { steps, cmd, mcp: sm, sdk: ss, raw: sr, mcpOverSdkP50: ratio(sm.p50, ss.p50), mcpOverSdkP90: ratio(sm.p90, ss.p90), sdkOverRawP50: ratio(ss.p50, sr.p50) };
}

if (import.meta.main) {
  const res = await runMcpBench({ steps: Number(process.env.BENCH_STEPS ?? 200) });
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(join(import.meta.dirname, 'results', 'mcp.json'), JSON.stringify({ at: new Date().toISOString(), ...res }, null, 2) + '\n');
  console.log(JSON.stringify(res, null, 2));
}
