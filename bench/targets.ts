// Issue 15's table of targets, filled from one `npm run bench`: every row with its measured value,
// its ratio where it is one, and met / UNMET / not measured. A section not run in this invocation
// is read from its last JSON under bench/results/ and its row says when that was measured.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `lower bound`: the value leaves out a part the target counts (said in the row), so it can show a
 * miss but never a pass.
 */
export type TargetRow = { measure: string; value: string; ratio: number | null; target: string; status: 'met' | 'UNMET' | 'not measured' | 'lower bound, under target'; at?: string };

/** Bench JSON read back loosely: its writers in this folder define the shapes. */
type Json = Record<string, any>;

/** This run's result of a section, else its last results file (with its time), else undefined. */
function section(summary: Json, name: string, dir: string, failed: ReadonlySet<string>): { r: Json; at: string | undefined } | undefined {
  if (summary[name]) return { r: summary[name] as Json, at: undefined };
  // A section that failed in this run is not measured: an older file would pass for this run's number.
  if (failed.has(name)) return undefined;
  const file = join(dir, `${name}.json`);
  if (!existsSync(file)) return undefined;
  const r = JSON.parse(readFileSync(file, 'utf8')) as Json;
  return { r, at: r.at as string | undefined };
}

const fmt = (x: number, d = 1) => (Math.round(x * 10 ** d) / 10 ** d).toString();

export function targetTable(summary: Json, resultsDir: string, failed: ReadonlySet<string> = new Set()): TargetRow[] {
  const rows: TargetRow[] = [];
  const add = (measure: string, target: string, src: { at: string | undefined } | undefined, get: () => { value: string; ratio: number | null; met: boolean; lowerBound?: boolean } | undefined) => {
    const got = src ? get() : undefined;
    if (!got) {
      rows.push({ measure, value: 'not measured in this run', ratio: null, target, status: 'not measured' });
      return;
    }
    const status = !got.met ? 'UNMET' : got.lowerBound ? 'lower bound, under target' : 'met';
    rows.push({ measure, value: got.value, ratio: got.ratio, target, status, ...(src?.at ? { at: src.at } : {}) });
  };
  const cli = section(summary, 'cli', resultsDir, failed);
  add('`./airlock exec RUN -- true` vs `docker exec CID true`, wall p50', '<= 1.0x', cli, () => ({ value: `${fmt(cli!.r.exec.p50, 0)} vs ${fmt(cli!.r.dockerExec.p50, 0)} ms (--help ${fmt(cli!.r.help.p50, 0)}, log ${fmt(cli!.r.log.p50, 0)}, node -e 0 ${fmt(cli!.r.nodeStart.p50, 0)} ms${cli!.r.helpNoShell ? `, --help without the shell launcher ${fmt(cli!.r.helpNoShell.p50, 0)} ms` : ''})`, ratio: cli!.r.ratioP50, met: cli!.r.ratioP50 <= 1 }));
  const open = section(summary, 'open', resultsDir, failed);
  add('open a run -> first command output, p50 (no warm pool)', '<= 50 ms', open, () => ({ value: `${fmt(open!.r.openToFirstOutput.p50, 0)} ms`, ratio: null, met: open!.r.openToFirstOutput.p50 <= 50 }));
  add('open a run -> first command output, p50, warm pool vs `docker run -d` + `docker exec`', '<= 50 ms', open, () =>
    open!.r.pooled
      ? {
          value: `${fmt(open!.r.pooled.openToFirstOutput.p50, 0)} vs ${fmt(open!.r.pooled.dockerRunExec.p50, 0)} ms (${open!.r.pooled.served} of ${open!.r.pooled.openToFirstOutput.n} opens from the pool; an idle pooled sandbox ${open!.r.pooled.idleSandboxMb ?? '?'} MB)`,
          ratio: open!.r.pooled.ratioP50,
          met: open!.r.pooled.openToFirstOutput.p50 <= 50,
        }
      : undefined,
  );
  add(`fork a run (open from a snapshot), p50`, '<= 100 ms', open, () => ({ value: `${fmt(open!.r.fork.ms.p50, 0)} ms for ${open!.r.fork.files} files / ${fmt(open!.r.fork.bytes / 1e6, 0)} MB`, ratio: null, met: open!.r.fork.ms.p50 <= 100 }));
  const steps = section(summary, 'steps', resultsDir, failed);
  add('step `true` vs raw docker exec, p50', '<= 0.1x', steps, () => {
    const t = steps!.r.steps?.true;
    return t ? { value: `${fmt(t.airlock.p50)} vs ${fmt(t.raw.p50)} ms`, ratio: t.ratioP50, met: t.ratioP50 <= 0.1 } : undefined;
  });
  add('six real sessions through the SDK vs raw docker exec, total incl. open', '<= 0.8x', open, () =>
    open!.r.workloads?.sessions ? { value: `${fmt(open!.r.workloads.airlockMs / 1000)} vs ${fmt(open!.r.workloads.rawMs / 1000)} s (${open!.r.workloads.steps} steps)`, ratio: open!.r.workloads.ratio, met: open!.r.workloads.ratio <= 0.8 } : undefined,
  );
  add('open a run on a real repository vs `docker run -d`', '<= 1.0x', open, () => {
    const o = (open!.r.workloads?.open ?? []) as Array<{ airlockMs: number; dockerRunMs: number; files: number }>;
    if (o.length === 0) return undefined;
    const ratios = o.map((x) => x.airlockMs / x.dockerRunMs);
    const worst = Math.max(...ratios);
    return { value: `${fmt(Math.min(...o.map((x) => x.airlockMs)) / 1000, 2)}-${fmt(Math.max(...o.map((x) => x.airlockMs)) / 1000, 2)} s vs ${fmt(Math.min(...o.map((x) => x.dockerRunMs)) / 1000, 2)}-${fmt(Math.max(...o.map((x) => x.dockerRunMs)) / 1000, 2)} s (ratio ${fmt(Math.min(...ratios), 2)}-${fmt(worst, 2)}x)`, ratio: Math.round(worst * 100) / 100, met: worst <= 1 };
  });
  const snap = section(summary, 'snapshot', resultsDir, failed);
  const snapRow = (name: string) => (snap?.r.rows as Array<{ name: string; ms?: number }> | undefined)?.find((x) => x.name.startsWith(name))?.ms;
  add('incremental 1-file snapshot vs git commit (10k files / 100 MB)', '<= 0.2x', snap, () => {
    const a = snapRow('airlock: incremental snapshot, 1 file');
    const g = snapRow('git: incremental add -A && commit, 1 file');
    return a !== undefined && g !== undefined ? { value: `${fmt(a)} vs ${fmt(g)} ms`, ratio: Math.round((a / g) * 100) / 100, met: a / g <= 0.2 } : undefined;
  });
  add('snapshot with nothing changed, same workspace', '<= 10 ms', snap, () => {
    const a = snapRow('airlock: snapshot, nothing changed');
    return a !== undefined ? { value: `${fmt(a)} ms`, ratio: null, met: a <= 10 } : undefined;
  });
  add('full restore from the local blob cache vs `tar -x`', '<= 1.0x', snap, () => {
    const a = snapRow('airlock: full restore, local blob cache');
    const t = snapRow('GNU tar -x');
    return a !== undefined && t !== undefined ? { value: `${fmt(a, 0)} vs ${fmt(t, 0)} ms`, ratio: Math.round((a / t) * 100) / 100, met: a / t <= 1 } : undefined;
  });
  const ledger = section(summary, 'ledger', resultsDir, failed);
  add('log throughput with hashing + redaction vs raw docker exec; RSS growth', '>= 0.8x, < 64 MB', ledger, () => {
    const on = ledger!.r.hashingAndRedactionOn;
    const off = ledger!.r.hashingOnRedactionOff;
    const raw = ledger!.r.rawDockerExec;
    // The RSS target holds for every pass, so the worst process in either pass counts.
    const growthOf = (p: Json | undefined) => Math.max(p?.rss?.harness?.growthMb ?? 0, p?.rss?.runner?.growthMb ?? 0);
    const growth = Math.max(growthOf(on), growthOf(off));
    const ratio = Math.round((on.mbPerSecond / raw.mbPerSecond) * 100) / 100;
    return { value: `${on.mbPerSecond} vs ${raw.mbPerSecond} MB/s over ${ledger!.r.megabytes} MB (hashing only ${off?.mbPerSecond} MB/s); RSS growth, worst process: ${growthOf(on)} MB with redaction, ${growthOf(off)} MB hashing only`, ratio, met: ratio >= 0.8 && growth < 64 };
  });
  add('CPU per run open + close', '<= 150 ms', open, () => ({
    value:
      open!.r.cpuPerOpenCloseShimMs !== undefined
        ? `${open!.r.cpuPerOpenCloseMs} ms in harness, runner, client, dockerd, containerd and the run's shim with its runc calls (${open!.r.cpuPerOpenCloseShimMs} ms of it); the shim's and runc's work during the close is not counted`
        : `${open!.r.cpuPerOpenCloseMs} ms in harness, runner, client, dockerd and containerd; the containers' shims and runc are not counted (they exit with the container)`,
    ratio: null,
    met: open!.r.cpuPerOpenCloseMs <= 150,
    lowerBound: true,
  }));
  add("idle run's memory (sandbox cgroup + its share of the runner)", '<= 16 MB', open, () => {
    const i = open!.r.idleRun;
    if (i.sandboxMb === null) return undefined;
    const total = i.sandboxMb + i.runnerShareMb;
    return { value: `${fmt(total)} MB (sandbox ${i.sandboxMb} MB + runner ${i.runnerShareMb} MB)`, ratio: null, met: total <= 16 };
  });
  return rows;
}

/** The table as markdown, for the README and the console. */
export function targetMarkdown(rows: TargetRow[]): string {
  const lines = ['| measure | measured | ratio | target | status |', '| --- | --- | --- | --- | --- |'];
  for (const r of rows) lines.push(`| ${r.measure} | ${r.value}${r.at ? ` (measured ${r.at})` : ''} | ${r.ratio === null ? '' : `${r.ratio}x`} | ${r.target} | ${r.status} |`);
  return lines.join('\n');
}
