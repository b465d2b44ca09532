// The harness's machine-readable report and its one-screen summary.
import { BUG_KINDS, type BugKind } from './judge.ts';
import { behaviour, type Case, type CaseResult } from './harness.ts';
import { TRANSFORMS } from '../../validate/src/metamorphic.ts';

export interface VariantRow {
  readonly transform: string;
  readonly generated: number;
  /** Variants that ran (with a trace) in this report. */
  readonly ran: number;
  /** Same non-empty behaviour as the original in bash (programs executed, decoys read, writes, connects). */
  readonly equivalent: number;
  /** Neither did anything observable (for example the program is not installed): not a confirmation. */
  readonly vacuous: number;
  readonly notAllowed: number;
  readonly equivalentNotAllowed: number;
}

export interface Report {
  readonly generatedAt: string;
  readonly totals: {
    readonly commands: number;
    readonly bySource: Record<string, number>;
    readonly verdicts: Record<string, number>;
    readonly timedOut: number;
    readonly noTrace: number;
    readonly commandsWithBugs: number;
    readonly bugsByKind: Record<BugKind, number>;
    readonly commandsWithBugsBySource: Record<string, number>;
    /** Commands whose bugs only a legacy opaque rule hides (see harness.ts LEGACY_OPAQUE_RULES). */
    readonly legacyOpaqueHidden: number;
  };
  readonly variants: readonly VariantRow[];
  readonly results: readonly (CaseResult & { readonly equivalent?: 'yes' | 'vacuous' | 'no' })[];
}

/** Equivalence of each variant with its original (both must be in `results`). */
export function variantEquivalence(cases: readonly Case[], results: readonly CaseResult[]): Map<string, 'yes' | 'vacuous' | 'no'> {
  const byId = new Map(results.map((r) => [r.id, r]));
  const out = new Map<string, 'yes' | 'vacuous' | 'no'>();
  for (const c of cases) {
    if (c.source !== 'variant' || !c.originalId) continue;
    const v = byId.get(c.id);
    const o = byId.get(c.originalId);
    if (!v || !o || !v.run || !o.run) continue;
    const ignore = new Set(c.adds ?? []);
    const a = behaviour(o, ignore);
    const b = behaviour(v, ignore, c.renames ?? {});
    if (a.join('\n') !== b.join('\n')) out.set(c.id, 'no');
    else out.set(c.id, a.length === 0 ? 'vacuous' : 'yes');
  }
  return out;
}

/** The verdict of each judged case (cases not judged count as `allow`, so nothing is flattered). */
function idVerdicts(results: readonly CaseResult[]): (id: string) => string {
  const m = new Map(results.map((r) => [r.id, r.verdict]));
  return (id) => m.get(id) ?? 'allow';
}

export function buildReport(cases: readonly Case[], results: readonly CaseResult[], verdictOf: (id: string) => string = idVerdicts(results)): Report {
  const eq = variantEquivalence(cases, results);
  const bySource: Record<string, number> = {};
  const verdicts: Record<string, number> = {};
  const bugsByKind = Object.fromEntries(BUG_KINDS.map((k) => [k, 0])) as Record<BugKind, number>;
  const withBugsBySource: Record<string, number> = {};
  let timedOut = 0;
  let noTrace = 0;
  let withBugs = 0;
  let legacyHidden = 0;
  for (const r of results) {
    if (r.legacyOpaque) legacyHidden++;
    bySource[r.source] = (bySource[r.source] ?? 0) + 1;
    verdicts[r.verdict] = (verdicts[r.verdict] ?? 0) + 1;
    if (r.run?.timedOut) timedOut++;
    if (!r.run) noTrace++;
    if (r.bugs.length) {
      withBugs++;
      withBugsBySource[r.source] = (withBugsBySource[r.source] ?? 0) + 1;
    }
    for (const b of r.bugs) bugsByKind[b.kind]++;
  }
  const rows: VariantRow[] = [];
  for (const t of TRANSFORMS) {
    const vs = results.filter((r) => r.transform === t);
    const generated = cases.filter((c) => c.transform === t).length;
    if (!generated) continue;
    rows.push({
      transform: t,
      generated,
      ran: vs.filter((r) => r.run).length,
      equivalent: vs.filter((r) => eq.get(r.id) === 'yes').length,
      vacuous: vs.filter((r) => eq.get(r.id) === 'vacuous').length,
      notAllowed: cases.filter((c) => c.transform === t && verdictOf(c.id) !== 'allow').length,
      equivalentNotAllowed: vs.filter((r) => eq.get(r.id) === 'yes' && r.verdict !== 'allow').length,
    });
  }
  return {
    generatedAt: new Date().toISOString(),
    totals: { commands: results.length, bySource, verdicts, timedOut, noTrace, commandsWithBugs: withBugs, bugsByKind, commandsWithBugsBySource: withBugsBySource, legacyOpaqueHidden: legacyHidden },
    variants: rows,
    results: results.map((r) => (eq.has(r.id) ? { ...r, equivalent: eq.get(r.id)! } : r)),
  };
}

/** Human summary: totals, bugs by kind, the variant table, and the first bugs. */
export function summary(report: Report, maxBugs = 40): string {
  const t = report.totals;
  const lines = [
    `commands: ${t.commands} (${Object.entries(t.bySource).map(([k, v]) => `${k} ${v}`).join(', ')}); verdicts ${JSON.stringify(t.verdicts)}; timed out ${t.timedOut}; no trace ${t.noTrace}`,
    `soundness bugs: ${Object.values(t.bugsByKind).reduce((a, b) => a + b, 0)} in ${t.commandsWithBugs} commands; by kind ${JSON.stringify(t.bugsByKind)}; commands by source ${JSON.stringify(t.commandsWithBugsBySource)}; hidden only by a legacy opaque rule: ${t.legacyOpaqueHidden} commands`,
  ];
  if (report.variants.length) {
    lines.push('transform              generated  ran  equivalent  vacuous  not-allowed  equivalent-not-allowed');
    for (const r of report.variants) {
      lines.push(`${r.transform.padEnd(22)} ${String(r.generated).padStart(9)} ${String(r.ran).padStart(4)} ${String(r.equivalent).padStart(11)} ${String(r.vacuous).padStart(8)} ${`${r.notAllowed} (${((100 * r.notAllowed) / r.generated).toFixed(1)}%)`.padStart(12)} ${String(r.equivalentNotAllowed).padStart(12)}`);
    }
  }
  let shown = 0;
  for (const r of report.results) {
    for (const b of r.bugs) {
      if (shown++ >= maxBugs) break;
      lines.push(`BUG ${b.kind} [${r.id} ${r.verdict} ${r.rule}] ${JSON.stringify(r.cmd.slice(0, 160))}: ${b.detail}`);
    }
  }
  return lines.join('\n');
}
