// Where a step's time goes: `true` run N times through the SDK, each step's log events' writer times
// (ts, ms resolution) put between the client's own send and receive times, medians per phase. Tells
// what bounds the step row (issue 15: step `true` <= 0.1x a raw docker exec).
//   flock /tmp/airlock-docker.lock node --conditions=airlock-source bench/step-phases.ts
import type { Airlock, LogEvent } from '@airlock/client';
import { TestStack, runEvents } from '../test/fixtures.ts';
import { repeatablePolicyFile } from './policy.ts';
import { stats, type Stats } from './steps.ts';

/** The step's milestones in order: the client's send, the events that mark each phase's end, the client's receipt. */
const MILESTONES = ['sent', 'step.requested', 'step.verdict', 'step.decided', 'step.started', 'step.exited', 'snapshot.created', 'received'] as const;

/** Each phase: from the milestone before it to its own, p50/p90 over the steps (ms). */
export type StepPhases = Record<string, Stats> & { total: Stats };

export async function stepPhases(client: Airlock, runId: string, steps: number): Promise<StepPhases> {
  const times: Array<{ step: number; sent: number; received: number }> = [];
  for (let i = 0; i < steps; i++) {
    const sent = Date.now();
    const r = await client.run(runId).exec('true', { onOutput: () => undefined });
    times.push({ step: r.step, sent, received: Date.now() });
  }
  const byStep = new Map<number, Map<string, number>>();
  for (const e of await runEvents(client, runId)) {
    const step = (e as LogEvent & { step?: number }).step;
    if (typeof step !== 'number') continue;
    const m = byStep.get(step) ?? new Map<string, number>();
    // The first event of a type within the step marks the milestone (snapshot.created has one).
    if (!m.has(e.type)) m.set(e.type, Date.parse(e.ts));
    byStep.set(step, m);
  }
  const phases: Record<string, number[]> = { total: [] };
  for (const t of times) {
    const m = byStep.get(t.step);
    if (!m) throw new Error(`no events for step ${t.step}`);
    m.set('sent', t.sent);
    m.set('received', t.received);
    const marks = MILESTONES.filter((k) => m.has(k));
    for (let i = 1; i < marks.length; i++) (phases[`${marks[i - 1]} -> ${marks[i]}`] ??= []).push(m.get(marks[i]!)! - m.get(marks[i - 1]!)!);
    phases.total!.push(t.received - t.sent);
  }
  return Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, stats(v)])) as StepPhases;
}

if (import.meta.main) {
  await using stack = await TestStack.start({ harness: { policyFile: await repeatablePolicyFile() } });
  const run = await stack.client.open({});
  try {
    await stepPhases(stack.client, run.runId, 5);
    const p = await stepPhases(stack.client, run.runId, Number(process.env.BENCH_STEPS ?? 100));
    for (const [k, s] of Object.entries(p)) console.log(`${k.padEnd(36)} p50 ${s.p50} ms  p90 ${s.p90} ms  (n ${s.n})`);
  } finally {
    await stack.client.close(run.runId);
  }
}
