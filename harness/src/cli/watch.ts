import type { Command } from 'commander';
import type { Airlock } from '@airlock/client';
import { AirlockError } from '@airlock/proto';
import type { Approval, LogEvent, RunState } from '@airlock/proto';
import type { CliKit } from './governance-commands.ts';
import { HarnessPartKeeper, LogFold, type HarnessPart } from './watch-view.ts';
import { formatRunState } from './governance-commands.ts';

/** How many of the run's last steps the view shows. */
const LAST_STEPS = 5;

/** One of the run's last steps, as the view shows it. */
export interface StepLine {
  step: number;
  cmd: string;
  /** `running`, `denied`/`held` (by rule), or how it ended. */
  status: string;
  rule?: string;
  exitCode?: number | null;
  durationMs?: number;
  cpuSeconds?: number;
}

/** What `watch` shows: the run's state (fold of its log), its held steps, its last steps. */
export interface WatchView extends RunState {
  held: Array<Pick<Approval, 'step' | 'cmd' | 'rule' | 'status'>>;
  lastSteps: StepLine[];
}

/**
 * The run's last steps, kept up to date from its log events (requested, verdict, exited, lost):
 * the view never reads the whole log again.
 */
export class StepTail {
  readonly #steps = new Map<number, StepLine>();

  /** Takes one event; true when the view changed. */
  add(e: LogEvent): boolean {
    switch (e.type) {
      case 'step.requested':
        this.#steps.set(e.step, { step: e.step, cmd: e.cmd, status: 'requested' });
        break;
      case 'step.verdict': {
        const s = this.#steps.get(e.step);
        if (!s) return false;
        s.status = e.verdict === 'allow' ? 'running' : e.verdict === 'ask' ? 'held' : 'denied';
        if (e.verdict !== 'allow') s.rule = e.rule;
        break;
      }
      case 'step.exited': {
        const s = this.#steps.get(e.step);
        if (!s) return false;
        const r = e.result;
        s.status = r.sandboxDied ? 'sandbox died' : r.timedOut ? 'timed out' : `exit ${r.exitCode}`;
        s.exitCode = r.exitCode;
        s.durationMs = Math.round(r.durationMs);
        if (r.cpuSeconds !== undefined) s.cpuSeconds = r.cpuSeconds;
        break;
      }
      case 'step.lost': {
        const s = this.#steps.get(e.step);
        if (!s) return false;
        s.status = 'lost';
        break;
      }
      default:
        return false;
    }
    while (this.#steps.size > LAST_STEPS) this.#steps.delete(Math.min(...this.#steps.keys()));
    return true;
  }

  get lines(): StepLine[] {
    return [...this.#steps.values()].sort((a, b) => a.step - b.step).map((s) => ({ ...s }));
  }
}

/** The view for people: the state lines, then held and last steps. */
export function formatWatch(v: WatchView): string {
  const lines = [formatRunState(v)];
  if (v.suspended) lines.push(`  suspended (idle) since ${v.suspended.at}: the next step restores the snapshot after step ${v.suspended.afterStep}`);
  else if (v.lastActiveAt && v.state !== 'closed') lines.push(`  last active ${v.lastActiveAt}`);
  for (const h of v.held) lines.push(`  held: step ${h.step} (${h.rule}) $ ${oneLine(h.cmd)}`);
  for (const s of v.lastSteps) lines.push(`  step ${s.step} ${s.status}${s.rule ? ` (${s.rule})` : ''}${s.durationMs !== undefined ? ` in ${s.durationMs} ms` : ''}${s.cpuSeconds !== undefined ? `, ${s.cpuSeconds.toFixed(2)} s CPU` : ''} $ ${oneLine(s.cmd)}`);
  return lines.join('\n');
}

const oneLine = (cmd: string) => cmd.replace(/\n/g, '⏎').slice(0, 100);

/** The harness's part of the view (budgets, held steps, whether it closed the record); the rest is folded from the log. */
async function harnessPart(c: Airlock, runId: string): Promise<HarnessPart> {
  const [state, { approvals }] = await Promise.all([c.runState(runId), c.approvals({ runId })]);
  const closed = state.state === 'closed';
  return {
    budgets: state.budgets,
    held: approvals.map((a) => ({ step: a.step, cmd: a.cmd, rule: a.rule, status: a.status })),
    closed,
    ...(closed && state.termination ? { termination: state.termination } : {}),
  };
}

/** How long the first view waits for the harness (it may be restarting): as long as a restart may take. */
const FIRST_VIEW_WAIT_MS = 60_000;

/** Events after which the view may have changed. */
const CHANGES: ReadonlySet<LogEvent['type']> = new Set(['step.requested', 'step.verdict', 'step.exited', 'step.lost', 'step.decided', 'run.control', 'run.governed', 'run.suspended', 'run.moved', 'run.closed']);

/**
 * `watch RUN`: the run's state, budgets used of their limits, held steps and last steps, live: it
 * follows the run's log and shows the view again on every change (with --json one object per change,
 * `type: run.state`) until the run closes or Ctrl-C. `--once` shows it once (as `docker stats
 * --no-stream` does), for scripts.
 */
export function addWatchCommand(program: Command, kit: CliKit): void {
  program
    .command('watch')
    .description("a run live: its state, budgets used of their limits, held steps and last steps, again on every change until it closes (Ctrl-C stops); --once shows it once")
    .argument('<run>', 'run id')
    .option('--once', 'show the view once and exit')
    .option('-f, --follow', 'follow live (the default; kept for scripts that pass it)')
    .action((runId: string, o: { follow?: boolean; once?: boolean }) =>
      kit.withClient(async (c) => {
        const tail = new StepTail();
        const fold = new LogFold();
        const stop = new AbortController();
        let part: HarnessPart | undefined;
        let last = '';
        const render = () => {
          if (!part) return;
          const v: WatchView = { ...fold.state(runId, part), held: part.held, lastSteps: tail.lines };
          const text = JSON.stringify(v);
          if (text === last) return;
          last = text;
          kit.out(kit.asJson() ? JSON.stringify({ type: 'run.state', ...v }) : `${formatWatch(v)}\n`);
        };
        const keeper = new HarnessPartKeeper(() => harnessPart(c, runId), (p) => ((part = p), render()), stop.signal);
        let seq = 0;
        for await (const e of c.run(runId).log({ follow: false })) {
          tail.add(e);
          fold.add(e);
          seq = e.seq;
        }
        try {
          if (!(await keeper.refresh(FIRST_VIEW_WAIT_MS))) throw new AirlockError('no_harness', `no harness answered within ${FIRST_VIEW_WAIT_MS / 1000} s; start one with \`./airlock up\``);
          render();
          if (o.once && !o.follow) return;
          process.once('SIGINT', () => stop.abort());
          await follow(c, runId, seq, { tail, fold, keeper, render, harnessClosed: () => part?.closed === true, signal: stop.signal });
        } finally {
          stop.abort();
        }
      }),
    );
}

/**
 * Follows the run's log from `seq`: every event goes into the fold and the step tail at once, and a
 * change is shown after at most `HARNESS_WAIT_MS` (2 s) for the harness's part (a harness that is
 * restarting holds nothing back: its part follows when it answers). Ends at `run.closed`, whose
 * view waits up to ~10 s for the harness's closed record (the runner logs `run.closed` first).
 */
async function follow(
  c: Airlock,
  runId: string,
  seq: number,
  w: { tail: StepTail; fold: LogFold; keeper: HarnessPartKeeper; render: () => void; harnessClosed: () => boolean; signal: AbortSignal },
): Promise<void> {
  try {
    for await (const e of c.run(runId).log({ fromSeq: seq + 1, follow: true, signal: w.signal })) {
      const stepChanged = w.tail.add(e);
      w.fold.add(e);
      if (e.type === 'run.closed') {
        w.render();
        for (let attempt = 0; attempt < 50 && !w.signal.aborted; attempt++) {
          if ((await w.keeper.refresh()) && w.harnessClosed()) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        w.render();
        return;
      }
      if (!stepChanged && !CHANGES.has(e.type)) continue;
      await w.keeper.refresh();
      w.render();
    }
  } catch (err) {
    if (!w.signal.aborted) throw err;
  }
}

