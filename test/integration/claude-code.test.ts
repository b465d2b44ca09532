// Unmodified Claude Code drives Airlock through MCP: a scripted Messages API on loopback answers with
// the commands of a recorded agent session as Airlock exec calls, Claude Code's own tools are refused,
// and the run must end with exactly the session's submitted diff, every command a validated step.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync, realpathSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '@airlock/proto';
import { AIRLOCK_BIN, runEvents, useStack } from '../fixtures.ts';
import { listWorkloads, normaliseDiff, prepareRepo } from '../workloads.ts';
import { startScriptedAnthropic } from '../agents/scripted-anthropic.ts';
import { CLAUDE_BIN, CLAUDE_OWN_TOOLS, claudeVersion, runClaude, startProxyTrap, workloadPlanner, type WorkloadScriptState } from '../agents/claude-code.ts';

const stack = useStack();
const SESSION = 'pallets__flask-5014';
const MARKER = 'COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n';

describe('Claude Code through airlock mcp', () => {
  it('is the pinned, unmodified release and runs here', () => {
    expect(claudeVersion()).toMatch(/^2\.1\.332 \(Claude Code\)$/);
    // npm put the platform's native binary in place of the launcher: no Node wrapper runs it (the
    // MCP server it starts, ./airlock, finds Node >= 22 itself: .tools/ from make setup, or PATH).
    const head = Buffer.alloc(4);
    const fd = openSync(realpathSync(CLAUDE_BIN), 'r');
    readSync(fd, head, 0, 4, 0);
    closeSync(fd);
    expect(head.toString('latin1')).toBe('\x7fELF');
  });

  it(`replays ${SESSION}: every command an Airlock step, ending with the submitted diff`, async () => {
    const w = listWorkloads().find((x) => x.name === SESSION);
    if (!w) throw new Error(`workload ${SESSION} is missing`);
    const commands = w.steps.map((s) => s.cmd);
    const repo = prepareRepo(w);
    try {
      const state: WorkloadScriptState = { errors: [], results: [] };
      await using model = await startScriptedAnthropic({ toolPrefix: 'mcp__airlock__', plan: workloadPlanner(commands, 'airlock', state) });
      await using trap = await startProxyTrap();
      const run = await runClaude({
        modelUrl: model.url,
        mcpCommand: AIRLOCK_BIN,
        mcpArgs: ['mcp', '--nats', stack.nats.url, '--workspace', repo],
        prompt: 'Fix the issue in the repository. Use only the airlock tools.',
        timeoutMs: 540_000,
        proxyUrl: trap.url,
      });
      const context = `claude exited ${run.code}\nstdout: ${run.stdout.slice(-3000)}\nstderr: ${run.stderr.slice(-3000)}\nerrors: ${state.errors.join('\n---\n')}`;
      expect(run.code, context).toBe(0);
      const out = JSON.parse(run.stdout) as { is_error: boolean; result: string; num_turns?: number };
      expect(out.is_error, context).toBe(false);
      expect(out.result).toBe('Done: the fix is in place and the diff is submitted.');
      expect(state.errors, context).toEqual([]);
      // Nothing but the scripted model: no other host was asked for (telemetry, updates, feature flags).
      expect(trap.asked).toEqual([]);

      // Claude Code offered the model Airlock's tools and none of its own that touch files or run commands.
      const scripted = model.requests.filter((r) => r.scripted);
      expect(scripted.length).toBe(commands.length + 3);
      for (const r of scripted) {
        expect(r.stream).toBe(true);
        expect(r.tools).toEqual(expect.arrayContaining(['mcp__airlock__exec', 'mcp__airlock__open_run', 'mcp__airlock__history']));
        for (const own of CLAUDE_OWN_TOOLS) expect(r.tools).not.toContain(own);
      }

      // Every command of the session is a step of the run, validated (allow) and run, in order.
      const runId = state.runId!;
      const events = await runEvents(stack.client, runId);
      const requested = events.filter((e): e is Extract<LogEvent, { type: 'step.requested' }> => e.type === 'step.requested');
      expect(requested.map((e) => e.cmd)).toEqual(commands);
      for (const e of requested) {
        const verdict = events.find((v) => v.type === 'step.verdict' && v.step === e.step);
        expect(verdict, `step ${e.step}`).toMatchObject({ verdict: 'allow' });
        expect(events.some((x) => x.type === 'step.exited' && x.step === e.step), `step ${e.step} exited`).toBe(true);
      }
      expect(events.at(-1)?.type).toBe('run.closed');

      // The submitted diff: the last step's output in the log, and the user's repository after the run.
      const last = requested.at(-1)!.step;
      const stdout = events
        .filter((e): e is Extract<LogEvent, { type: 'step.output' }> => e.type === 'step.output' && e.step === last && e.stream === 'stdout')
        .map((e) => e.text ?? Buffer.from(e.data ?? '', 'base64').toString('utf8'))
        .join('');
      expect(stdout.startsWith(MARKER)).toBe(true);
      const got = normaliseDiff(stdout.slice(MARKER.length));
      const want = normaliseDiff(w.submittedHead);
      if (w.submittedHead.length < 500) expect(got.trimEnd()).toBe(want.trimEnd());
      else expect(got.startsWith(want.slice(0, want.lastIndexOf('\n')))).toBe(true);
      expect(normaliseDiff(execFileSync('git', ['diff', '--cached'], { cwd: repo, encoding: 'utf8' }))).toBe(got);
      // Claude Code hands the model the structured result (JSON), with a <system-reminder> appended:
      // the exec result of the last step carried the whole diff.
      const structured = state.results.map((t) => JSON.parse(t.split('\n\n<system-reminder>')[0]!) as { step?: number; stdout?: string });
      expect(structured).toHaveLength(commands.length + 2);
      expect(structured.find((r) => r.step === last)?.stdout).toBe(stdout);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  }, 600_000);
});
