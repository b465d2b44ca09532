import type { Command } from 'commander';
import type { Airlock } from '@airlock/client';
import { AirlockError } from '@airlock/proto';
import type { Approval, LogEvent, RunState } from '@airlock/proto';
import type { CliKit } from './governance-commands.ts';
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

/** Builds the view: the run's state and held steps from the harness, the last steps from the log tail. */
async function view(c: Airlock, runId: string, tail: StepTail): Promise<WatchView> {
  const [state, { approvals }] = await Promise.all([c.runState(runId), c.approvals({ runId })]);
  return { ...state, held: approvals.map((a) => ({ step: a.step, cmd: a.cmd, rule: a.rule, status: a.status })), lastSteps: tail.lines };
}

/** Shows the view, retrying while the harness does not answer (it may be restarting): the log goes on meanwhile. */
async function again(show: () => Promise<unknown>, signal: AbortSignal): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await show();
      return;
    } catch (err) {
      if (signal.aborted || attempt >= 60 || !(err instanceof AirlockError) || !err.retryable) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * The last view, of the closed run: the runner logs `run.closed` a moment before the harness writes
 * the closed record, so the state is asked again until it says closed (up to ~10 s).
 */
async function closedView(show: () => Promise<WatchView>, signal: AbortSignal): Promise<void> {
  for (let attempt = 0; attempt < 50 && !signal.aborted; attempt++) {
    let v: WatchView | undefined;
    await again(async () => (v = await show()), signal);
    if (v?.state === 'closed') return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

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
        const stop = new AbortController();
        let last = '';
        const show = async () => {
          const v = await view(c, runId, tail);
          const text = JSON.stringify(v);
          if (text === last) return v;
          last = text;
          kit.out(kit.asJson() ? JSON.stringify({ type: 'run.state', ...v }) : `${formatWatch(v)}\n`);
          return v;
        };
        let seq = 0;
        for await (const e of c.run(runId).log({ follow: false })) {
          tail.add(e);
          seq = e.seq;
        }
        await show();
        if (o.once && !o.follow) return;
        process.once('SIGINT', () => stop.abort());
        try {
          for await (const e of c.run(runId).log({ fromSeq: seq + 1, follow: true, signal: stop.signal })) {
            if (e.type === 'run.closed') {
              tail.add(e);
              await closedView(show, stop.signal);
              break;
            }
            if (tail.add(e) || CHANGES.has(e.type)) await again(show, stop.signal);
          }
        } catch (err) {
          if (!stop.signal.aborted) throw err;
        }
      }),
    );
}
