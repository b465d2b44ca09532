// `npm run bench`: every benchmark, side by side where they compare, JSON under bench/results/.
//   node bench/run.ts [cli|open|open-workspace|steps|mcp|egress|validate|snapshot|scale|ledger ...]   (default: all)
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { runStepBench } from './steps.ts';
import { runValidateBench } from './validate.ts';
import { runSnapshotBench } from './snapshot.ts';
import { runScaleBench } from './scale.ts';
import { runLedgerBench } from './ledger.ts';
import { runMcpBench } from './mcp.ts';
import { runEgressBench } from './egress.ts';
import { runCliBench } from './cli.ts';
import { runOpenBench } from './open.ts';
import { runOpenWorkspaceBench } from './open-workspace.ts';
import { targetMarkdown, targetTable } from './targets.ts';

const out = join(import.meta.dirname, 'results');
mkdirSync(out, { recursive: true });
const wanted = new Set(process.argv.slice(2).length ? process.argv.slice(2) : ['cli', 'open', 'open-workspace', 'steps', 'mcp', 'egress', 'validate', 'snapshot', 'scale', 'ledger']);
// The machine's load when the run started and ended: on a shared 2-core host, other work moves every figure.
const summary: Record<string, unknown> = { at: new Date().toISOString(), loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100) };
const failures: Record<string, string> = {};

/**
 * Runs one wanted section. A section that fails is reported and recorded (its rows then read "not
 * measured") and the others still run: one broken section must not cost a whole run's numbers.
 */
async function section(name: string, body: () => Promise<void>): Promise<void> {
  if (!wanted.has(name)) return;
  try {
    await body();
  } catch (err) {
    failures[name] = err instanceof Error ? (err.stack ?? err.message) : String(err);
    console.error(`== section ${name} FAILED: ${failures[name]}`);
    process.exitCode = 1;
  }
}

await section('cli', async () => {
  console.log('== CLI start: ./airlock exec RUN -- true vs docker exec CID true, wall per process (interleaved)');
  const r = await runCliBench({ calls: Number(process.env.BENCH_CLI_CALLS ?? 20) });
  writeFileSync(join(out, 'cli.json'), JSON.stringify({ at: summary.at, ...r }, null, 2) + '\n');
  console.log(`  exec p50 ${r.exec.p50} ms | docker exec p50 ${r.dockerExec.p50} ms | ratio ${r.ratioP50}x (target <= 1.0x) | --help p50 ${r.help.p50} ms, log p50 ${r.log.p50} ms, node -e 0 p50 ${r.nodeStart.p50} ms, --help without the shell launcher p50 ${r.helpNoShell.p50} ms`);
  summary.cli = r;
});
await section('open', async () => {
  console.log('== runs: open -> first output, CPU per open + close, idle memory, fork, six real sessions vs raw docker exec');
  const r = await runOpenBench({ forkFiles: Number(process.env.BENCH_FORK_FILES ?? 10_000), workloads: process.env.BENCH_WORKLOADS !== '0' });
  writeFileSync(join(out, 'open.json'), JSON.stringify({ at: summary.at, ...r }, null, 2) + '\n');
  console.log(`  open -> first output p50 ${r.openToFirstOutput.p50} ms; CPU per open+close ${r.cpuPerOpenCloseMs} ms; idle run sandbox ${r.idleRun.sandboxMb} MB + runner ${r.idleRun.runnerShareMb} MB; pooled p50 ${r.pooled.openToFirstOutput.p50} ms vs docker run -d + exec ${r.pooled.dockerRunExec.p50} ms (${r.pooled.served}/${r.pooled.openToFirstOutput.n} from the pool); fork p50 ${r.fork.ms.p50} ms; sessions ${r.workloads.airlockMs} vs ${r.workloads.rawMs} ms (${r.workloads.ratio}x)`);
  summary.open = r;
});
await section('open-workspace', async () => {
  console.log('== open of a 3,000-file workspace: plain, and offered again after the runner that took it died (in turns)');
  const r = await runOpenWorkspaceBench({ rounds: Number(process.env.BENCH_OPEN_WS_ROUNDS ?? 3) });
  writeFileSync(join(out, 'open-workspace.json'), JSON.stringify({ at: summary.at, ...r }, null, 2) + '\n');
  console.log(`  ${r.files} files: plain open p50 ${r.plainMs.p50} ms p90 ${r.plainMs.p90} | re-offered p50 ${r.reofferedMs.p50} ms p90 ${r.reofferedMs.p90} (n=${r.reofferedMs.n})`);
  summary.openWorkspace = r;
});
await section('steps', async () => {
  console.log('== step latency: Airlock step vs raw docker exec (interleaved)');
  const r = await runStepBench({ steps: Number(process.env.BENCH_STEPS ?? 200) });
  writeFileSync(join(out, 'steps.json'), JSON.stringify({ at: summary.at, ...r }, null, 2) + '\n');
  for (const [cmd, s] of Object.entries(r.steps)) {
    console.log(`  ${cmd.padEnd(14)} airlock p50 ${s.airlock.p50} ms p90 ${s.airlock.p90} | raw p50 ${s.raw.p50} ms p90 ${s.raw.p90} | ratio p50 ${s.ratioP50}x p90 ${s.ratioP90}x`);
    console.log(`  ${''.padEnd(14)} runsc: airlock p50 ${s.runsc.airlock.p50} ms p90 ${s.runsc.airlock.p90} | raw p50 ${s.runsc.raw.p50} ms p90 ${s.runsc.raw.p90} | ${s.runsc.overRuncP50}x runc's airlock p50`);
  }
  console.log(`  where a step \`true\` goes (p50 per phase, from its log events' times): ${Object.entries(r.phases).map(([k, v]) => `${k} ${v.p50} ms`).join('; ')}`);
  console.log(`  run open (container create+start, workspace, first snapshot) p50 ${r.runOpenMs.p50} ms runc, ${r.runscRunOpenMs.p50} ms runsc`);
  summary.steps = r;
});
await section('mcp', async () => {
  console.log('== step through MCP (client SDK over stdio -> ./airlock mcp) vs the SDK vs raw docker exec (interleaved)');
  const r = await runMcpBench({ steps: Number(process.env.BENCH_STEPS ?? 200) });
  writeFileSync(join(out, 'mcp.json'), JSON.stringify({ at: summary.at, ...r }, null, 2) + '\n');
  console.log(`  ${r.cmd.padEnd(14)} mcp p50 ${r.mcp.p50} ms p90 ${r.mcp.p90} | sdk p50 ${r.sdk.p50} ms p90 ${r.sdk.p90} | raw p50 ${r.raw.p50} ms p90 ${r.raw.p90} | mcp/sdk p50 ${r.mcpOverSdkP50}x p90 ${r.mcpOverSdkP90}x (target <= 1.2x)`);
  summary.mcp = r;
});
await section('egress', async () => {
  console.log('== egress: 200 MB through the run proxy (sandbox, python http.client) vs the same client on the host directly');
  const r = await runEgressBench({ rounds: Number(process.env.BENCH_EGRESS_ROUNDS ?? 3) });
  writeFileSync(join(out, 'egress.json'), JSON.stringify({ at: summary.at, ...r }, null, 2) + '\n');
  const t = r.throughput;
  const l = r.requestMs;
  console.log(`  HTTPS ${r.megabytes} MB: direct ${t.directTls} MB/s | tunnelled (CONNECT, TLS end to end) ${t.tunnelTls} MB/s = ${t.tunnelTlsOverDirect}x (target >= 0.8x; all in Node ${t.tunnelTlsNode} MB/s = ${t.tunnelTlsNodeOverDirect}x) | intercepted (edge-secret host) ${t.intercept} MB/s = ${t.interceptOverDirect}x (redactor automaton only ${t.interceptAutomaton} MB/s = ${t.interceptAutomatonOverDirect}x)`);
  console.log(`  HTTP  ${r.megabytes} MB: direct ${t.direct} MB/s | raw bytes in a CONNECT tunnel ${t.tunnel} MB/s = ${t.tunnelOverDirect}x (all in Node ${t.tunnelNode} MB/s = ${t.tunnelNodeOverDirect}x) | plain-HTTP proxy ${t.proxy} MB/s = ${t.proxyOverDirect}x (redactor automaton only ${t.proxyAutomaton} MB/s = ${t.proxyAutomatonOverDirect}x)`);
  console.log(`  small GET, fresh connection: HTTPS direct ${l.directTls} ms | tunnelled ${l.tunnelTls} ms (+${l.addedTunnelTls}) | intercepted ${l.intercept} ms (+${l.addedIntercept}); HTTP direct ${l.direct} ms | tunnel ${l.tunnel} ms (+${l.addedTunnel}) | proxy ${l.proxy} ms (+${l.addedProxy})`);
  summary.egress = r;
});
await section('validate', async () => {
  console.log('== validation chain');
  summary.validate = await runValidateBench();
});
await section('snapshot', async () => {
  console.log('== snapshots');
  summary.snapshot = await runSnapshotBench();
});
await section('scale', async () => {
  console.log('== scaling: 1, 2, 4 runners; runner SIGKILL to resume');
  const r = await runScaleBench();
  writeFileSync(join(out, 'scale.json'), JSON.stringify({ at: summary.at, ...r }, null, 2) + '\n');
  console.log(`  scaling 1 -> 2 runners: ${r.scaling1to2}x; run resumed after runner SIGKILL p50 ${r.resumeAfterKillMs.p50} ms`);
  summary.scale = r;
});
await section('ledger', async () => {
  console.log('== ledger: 1 GB of stdout through one step');
  const r = await runLedgerBench({ megabytes: Number(process.env.BENCH_LEDGER_MB ?? 1024) });
  writeFileSync(join(out, 'ledger.json'), JSON.stringify({ at: summary.at, ...r }, null, 2) + '\n');
  const rss = r.hashingAndRedactionOn.rss;
  console.log(`  ${r.hashingAndRedactionOn.mbPerSecond} MB/s with hashing+redaction, ${r.hashingOnRedactionOff.mbPerSecond} MB/s without redaction, raw docker exec ${r.rawDockerExec?.mbPerSecond} MB/s; RSS growth harness ${rss.harness?.growthMb} MB, runner ${rss.runner?.growthMb} MB`);
  summary.ledger = r;
});
// Issue 15's table: every row, from this run's sections (others from their last results file, dated).
summary.loadAverageAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
if (Object.keys(failures).length) summary.failures = failures;
const table = targetTable(summary, out, new Set(Object.keys(failures)));
summary.targets = table;
console.log(`== targets (issue 15); load average (1, 5, 15 min) at start ${String(summary.loadAverageAtStart)}, at end ${String(summary.loadAverageAtEnd)}`);
console.log(targetMarkdown(table));
writeFileSync(join(out, 'targets.json'), JSON.stringify({ at: summary.at, rows: table }, null, 2) + '\n');
writeFileSync(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
console.log(`results in ${out}`);
