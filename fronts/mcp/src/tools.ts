// The tools an agent gets: open a run, run commands in it, read its history and output, look at and
// go back to its snapshots. Every result is structured (outputSchema) and also rendered as text.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { AirlockError } from '@airlock/proto';
import type { LogEvent, RunRecord, StepResult } from '@airlock/proto';
import { workspaceWithin } from './runs.ts';
import type { ToolContext } from './context.ts';
import type { WorkspaceDiff } from './backend.ts';
import { BoundedOutput, STEP_STATES, foldSteps, lastLine, resultState, stepOutput } from './steps.ts';
import { guarded, notAllowed, readAll, startProgress, structured, untilAborted, type Extra } from './results.ts';
import { registerFileTools } from './tools-files.ts';
import { OUTPUT_DEFAULT, OUTPUT_MAX, runIdField, verdictShape } from './schemas.ts';
import { processResult, registerProcessTools } from './tools-processes.ts';

export type { ToolContext } from './context.ts';

/** Longest a held command may wait for an operator inside one call. */
const APPROVAL_WAIT_MAX_MS = 15 * 60_000;
/** Longest step_output waits for a running step. */
const OUTPUT_WAIT_MAX_MS = 10 * 60_000;

/** Server `instructions`: how the tools fit together, read once by the client's model. */
export const INSTRUCTIONS = [
  'Airlock runs your shell commands in an isolated Docker sandbox (no network) on a workspace directory.',
  'Start with open_run (or use the run this server is bound to) and pass its run_id to every call.',
  'Each exec is one bash command line run by `bash -c` in the workspace; it is validated against a policy first, and the workspace is snapshotted after it.',
  'The working directory carries over between exec calls (a `cd` persists, as in a terminal); exported variables do not: every exec is a fresh shell.',
  'For commands that may run long (servers, watchers, big test suites), pass yield_ms: the call returns with the output so far and the command goes on as a process you read with process_poll and stop with process_signal.',
  'file_read, file_write, file_edit and file_list work on workspace files without a shell; they are validated and snapshotted steps too.',
  'A non-zero exit code is a normal result. A denied command did not run: do not retry it unchanged. A held command waits for a human operator.',
  'history lists the steps with their verdicts; step_output reads a step\'s full output (also of a step still running); diff/snapshots/fork/restore work on the workspace snapshots.',
].join('\n');

const execOutput = {
  run_id: z.string(),
  step: z.number().int().describe('The step number of this command in the run (see history, step_output).'),
  status: z.enum(['exited', 'timed_out', 'killed', 'sandbox_died', 'denied', 'held', 'running', 'lost']).describe('"running": yield_ms passed and the command goes on as process `step` (see process_poll).'),
  exit_code: z.number().int().nullable().describe('The command\'s exit code; null when it did not run or was killed.'),
  signal: z.string().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  stdout_bytes: z.number().int(),
  stderr_bytes: z.number().int(),
  truncated: z.boolean().describe('Output was longer than max_output_bytes; the middle was left out. step_output reads all of it.'),
  duration_ms: z.number(),
  snapshot: z.string().optional().describe('Digest of the workspace snapshot taken after the step.'),
  verdict: verdictShape.optional(),
  next: z.string().optional().describe('What to do next: the command did not run, or it is still running.'),
  next_offset: z.number().int().optional().describe('With yield_ms: pass as from_offset to process_poll to read only newer output.'),
};

const stepShape = z.object({
  step: z.number().int(),
  command: z.string(),
  state: z.enum(STEP_STATES),
  verdict: verdictShape.optional(),
  decision: z.object({ outcome: z.enum(['approved', 'rejected', 'expired']), by: z.string(), note: z.string().optional() }).optional(),
  exit_code: z.number().int().nullable().optional(),
  signal: z.string().nullable().optional(),
  duration_ms: z.number().optional(),
  stdout_bytes: z.number().int(),
  stderr_bytes: z.number().int(),
  snapshot: z.string().optional(),
});

const runOutput = {
  run_id: z.string(),
  status: z.string(),
  image: z.string(),
  mount_path: z.string().describe('Where the workspace is inside the sandbox; commands start there.'),
  steps: z.number().int(),
  note: z.string().optional(),
};

/** Registers every tool on `server`. */
export function registerTools(server: McpServer, ctx: ToolContext): void {
  const fixed = ctx.registry.fixed !== undefined;
  const runId = runIdField(fixed);

  server.registerTool(
    'open_run',
    {
      title: 'Open a sandbox run',
      description:
        'Opens a run: a fresh sandbox container with a workspace directory mounted at mount_path (default /workspace). ' +
        (ctx.workspaceRoot
          ? `The workspace is the server's project directory, or a subdirectory of it given as a relative path in workspace. `
          : 'The workspace starts empty (this server mounts no host directory). ') +
        'Returns run_id: pass it to every other tool. Call once per task; the run stays open across calls and across reconnects.',
      inputSchema: {
        image: z.string().min(1).max(256).optional().describe('Sandbox image; default: the deployment\'s default image (Debian with bash, git, python3).'),
        ...(ctx.workspaceRoot ? { workspace: z.string().max(4096).optional().describe('Subdirectory of the project directory to mount, relative (default: the project directory itself).') } : {}),
        mount_path: z.string().regex(/^\/[A-Za-z0-9._/-]*$/).max(256).optional().describe('Where the workspace appears in the sandbox; default /workspace.'),
        keep_cwd: z.boolean().optional().describe('Each exec starts where the previous one ended, so a `cd` persists (default true).'),
      },
      outputSchema: runOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    (args: { image?: string; workspace?: string; mount_path?: string; keep_cwd?: boolean }) =>
      guarded(async () => {
        const workspace = ctx.workspaceRoot ? workspaceWithin(ctx.workspaceRoot, args.workspace) : undefined;
        if (!ctx.workspaceRoot && args.workspace !== undefined) throw new AirlockError('bad_request', 'this server mounts no host directory (start it with --workspace DIR)');
        const image = args.image ?? ctx.image;
        const run = await ctx.backend.open({ ...(image ? { image } : {}), ...(workspace ? { workspace } : {}), ...(args.mount_path ? { mountPath: args.mount_path } : {}), keepCwd: args.keep_cwd ?? true });
        ctx.registry.allow(run.runId);
        return runResult(run, `Run ${run.runId} is open; the workspace is at ${run.mountPath} in the sandbox.`);
      }),
  );

  server.registerTool(
    'exec',
    {
      title: 'Run a shell command in the sandbox',
      description:
        'Runs one bash command line (`bash -c`) as the next step of the run and waits for it to end (or, with yield_ms, at most that long). ' +
        'Returns exit_code, stdout and stderr (each cut to max_output_bytes, head and tail kept) and the step number. ' +
        'A non-zero exit_code is a normal result, not a failure of the tool. ' +
        'Every command is checked by a policy first: status "denied" means it did not run (do not retry it unchanged; find another way), ' +
        'status "held" means a human operator must approve it (say so to the user; after approval, call exec again with the same command). ' +
        'It starts where the previous command ended (a `cd` persists; `cwd` starts this one elsewhere); exported variables do not persist. No network access. ' +
        'With yield_ms the call returns after that long with status "running" and the output so far; the command goes on (its lifetime is timeout_ms) and process_poll reads the rest. ' +
        'While a process runs, the next exec of the run answers run_busy: poll it to its end or stop it with process_signal first. ' +
        'If the call is interrupted, the command keeps running: find it with history and read its output with step_output.',
      inputSchema: {
        run_id: runId,
        command: z.string().min(1).max(64 * 1024).describe('The bash command line, e.g. "pytest -q tests/test_x.py" or "sed -i \'s/a/b/\' f.py && git diff".'),
        cwd: z.string().min(1).max(4096).optional().describe('Directory to start in, relative to the workspace (or absolute inside the sandbox); default: where the previous command ended.'),
        yield_ms: z.number().int().min(0).max(300_000).optional().describe('Return after at most this many ms even if the command still runs (it keeps running as a process; see process_poll). Default: wait for the end.'),
        timeout_ms: z.number().int().positive().max(24 * 3600 * 1000).optional().describe('Kill the command after this many ms (default: the deployment\'s step timeout). Give long builds and test suites room.'),
        max_output_bytes: z.number().int().min(1000).max(OUTPUT_MAX).optional().describe(`Most bytes of stdout and of stderr to return (default ${OUTPUT_DEFAULT}).`),
        wait_approval_ms: z.number().int().min(0).max(APPROVAL_WAIT_MAX_MS).optional().describe('If the command is held for approval, wait up to this long for the operator before returning (default 0: return at once with status "held").'),
      },
      outputSchema: execOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    (args: ExecArgs, extra: Extra) =>
      guarded(() => execTool(ctx, args, extra)),
  );

  server.registerTool(
    'history',
    {
      title: 'List the steps of a run',
      description:
        'The steps of the run in order: each command with its policy verdict (rule and reason), state (running, exited, denied, held, timed_out, ...), exit code, output sizes and snapshot. ' +
        'Use it to see what ran, to find a step that is still running after a reconnect, or to pick a step for diff, fork or restore.',
      inputSchema: {
        run_id: runId,
        from_step: z.number().int().min(1).optional().describe('First step to list (default 1).'),
        limit: z.number().int().min(1).max(500).optional().describe('Most steps to list (default 100).'),
      },
      outputSchema: { run_id: z.string(), status: z.string(), steps: z.array(stepShape), total_steps: z.number().int() },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args: { run_id?: string; from_step?: number; limit?: number }) =>
      guarded(async () => {
        const id = ctx.registry.resolve(args.run_id);
        const run = await knownRun(ctx, id);
        const all = foldSteps(await readAll(ctx.backend.log(id)));
        const from = args.from_step ?? 1;
        const steps = all.filter((s) => s.step >= from).slice(0, args.limit ?? 100);
        const text = steps.length === 0 ? `run ${id} (${run.status}) has no steps${from > 1 ? ` from step ${from}` : ''}` : steps.map(stepLine).join('\n');
        return structured({ run_id: id, status: run.status, steps, total_steps: all.length }, text);
      }),
  );

  server.registerTool(
    'step_output',
    {
      title: 'Read the output of a step',
      description:
        'The stdout and stderr of one step, from the run\'s durable log, starting at byte offsets. Works for steps that ended, for steps still running ' +
        '(set wait_ms to wait for more output or the end), and after a disconnect. Page through long output with stdout_offset/stderr_offset = the next_offset values returned.',
      inputSchema: {
        run_id: runId,
        step: z.number().int().min(1).describe('The step number (exec and history return it).'),
        stdout_offset: z.number().int().min(0).optional().describe('Byte offset in stdout to start at (default 0).'),
        stderr_offset: z.number().int().min(0).optional().describe('Byte offset in stderr to start at (default 0).'),
        max_bytes: z.number().int().min(1000).max(OUTPUT_MAX).optional().describe(`Most bytes per stream (default ${OUTPUT_DEFAULT}).`),
        wait_ms: z.number().int().min(0).max(OUTPUT_WAIT_MAX_MS).optional().describe('If the step is still running, wait up to this long for it to end before answering (default 0).'),
      },
      outputSchema: {
        run_id: z.string(),
        step: z.number().int(),
        state: z.enum(STEP_STATES),
        exit_code: z.number().int().nullable().optional(),
        stdout: z.string(),
        stderr: z.string(),
        stdout_next_offset: z.number().int(),
        stderr_next_offset: z.number().int(),
        more: z.boolean().describe('More output is stored beyond what this result carries: call again from the next offsets.'),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args: { run_id?: string; step: number; stdout_offset?: number; stderr_offset?: number; max_bytes?: number; wait_ms?: number }, extra: Extra) =>
      guarded(() => stepOutputTool(ctx, args, extra)),
  );

  server.registerTool(
    'snapshots',
    {
      title: 'List the workspace snapshots of a run',
      description: 'One snapshot of the workspace per step (step 0 = as the run opened), with how many files each step added, modified and deleted.',
      inputSchema: { run_id: runId },
      outputSchema: {
        run_id: z.string(),
        snapshots: z.array(z.object({ step: z.number().int(), digest: z.string(), files: z.number().int(), total_bytes: z.number().int(), added: z.number().int(), modified: z.number().int(), deleted: z.number().int() })),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args: { run_id?: string }) =>
      guarded(async () => {
        const id = ctx.registry.resolve(args.run_id);
        const list = await ctx.backend.snapshots(id);
        const snapshots = list.map((s) => ({ step: s.step, digest: s.digest, files: s.files, total_bytes: s.totalBytes, added: s.added, modified: s.modified, deleted: s.deleted }));
        const text = snapshots.map((s) => `step ${s.step}: ${s.files} files, +${s.added} ~${s.modified} -${s.deleted}  ${s.digest.slice(0, 12)}`).join('\n') || `run ${id} has no snapshots`;
        return structured({ run_id: id, snapshots }, text);
      }),
  );

  server.registerTool(
    'diff',
    {
      title: 'What changed in the workspace between two steps',
      description: 'Files added, modified and deleted between the snapshot after from_step (default 0: as the run opened) and after to_step (default: the latest), with unified diffs of text files when patch is true (default).',
      inputSchema: {
        run_id: runId,
        from_step: z.number().int().min(0).optional(),
        to_step: z.number().int().min(0).optional(),
        patch: z.boolean().optional().describe('Include unified diffs of text files (default true).'),
        paths: z.array(z.string().min(1).max(4096)).max(1000).optional().describe('Only these workspace-relative paths (a directory covers what is under it). Use it when patches were omitted for size.'),
      },
      outputSchema: {
        run_id: z.string(),
        from_step: z.number().int(),
        to_step: z.number().int(),
        changes: z.array(z.object({ path: z.string(), change: z.enum(['added', 'modified', 'deleted']) })),
        patch: z.string(),
        truncated: z.boolean().describe('More paths changed than are listed: narrow with paths.'),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args: { run_id?: string; from_step?: number; to_step?: number; patch?: boolean; paths?: string[] }) =>
      guarded(async () => {
        const id = ctx.registry.resolve(args.run_id);
        const to = args.to_step ?? (await latestSnapshotStep(ctx, id));
        const from = args.from_step ?? 0;
        const d = await ctx.backend.diff(id, from, to, { patch: args.patch ?? true, ...(args.paths ? { paths: args.paths } : {}) });
        const patch = d.patches.map(patchText).join('\n');
        const list = d.changes.map((c) => `${c.change === 'added' ? 'A' : c.change === 'modified' ? 'M' : 'D'}  ${c.path}`).join('\n');
        const more = d.truncated ? '\n[more paths changed than are listed: call diff again with paths]' : '';
        return structured({ run_id: id, from_step: from, to_step: to, changes: d.changes, patch, truncated: d.truncated }, `${list || 'no changes'}${more}${patch ? `\n\n${patch}` : ''}`);
      }),
  );

  server.registerTool(
    'fork',
    {
      title: 'Start a new run from a step of this one',
      description: 'Opens a NEW run whose workspace is this run\'s workspace as it was after `step` (default: the latest step); this run is left as it is. Use it to try an alternative without losing the current state. Returns the new run_id.',
      inputSchema: { run_id: runId, step: z.number().int().min(0).optional() },
      outputSchema: { ...runOutput, forked_from: z.object({ run_id: z.string(), step: z.number().int() }) },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    (args: { run_id?: string; step?: number }) =>
      guarded(async () => {
        const id = ctx.registry.resolve(args.run_id);
        const { run, step } = await fromStep(ctx, id, args.step);
        return runResult(run, `Run ${run.runId} is open with the workspace of ${id} after step ${step}; ${id} is unchanged.`, { forked_from: { run_id: id, step } });
      }),
  );

  server.registerTool(
    'restore',
    {
      title: 'Go back to the workspace after a step',
      description:
        'Undoes every change after `step`: continues in a NEW run whose workspace is this run\'s workspace as it was after that step (0 = as the run opened), and closes this run (its history stays readable). ' +
        'Use the returned run_id from now on.',
      inputSchema: { run_id: runId, step: z.number().int().min(0) },
      outputSchema: { ...runOutput, restored_from: z.object({ run_id: z.string(), step: z.number().int() }) },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    (args: { run_id?: string; step: number }) =>
      guarded(async () => {
        const id = ctx.registry.resolve(args.run_id);
        const { run, step } = await fromStep(ctx, id, args.step);
        await ctx.backend.close(id);
        if (ctx.registry.fixed === id) ctx.registry.fixed = run.runId;
        return runResult(run, `Restored: run ${run.runId} has the workspace of ${id} after step ${step}. Use run_id ${run.runId} from now on; ${id} is closed.`, { restored_from: { run_id: id, step } });
      }),
  );

  server.registerTool(
    'close_run',
    {
      title: 'Close a run',
      description: 'Ends the run: removes its sandbox and gives the workspace back. Its history, output and snapshots stay readable. Call it when the task is done.',
      inputSchema: { run_id: runId },
      outputSchema: runOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    (args: { run_id?: string }) =>
      guarded(async () => {
        const id = ctx.registry.resolve(args.run_id);
        const run = await ctx.backend.close(id);
        return runResult(run, `Run ${id} is closed.`);
      }),
  );

  registerProcessTools(server, ctx, runId);
  registerFileTools(server, ctx, runId);
}

type ExecArgs = { run_id?: string; command: string; cwd?: string; yield_ms?: number; timeout_ms?: number; max_output_bytes?: number; wait_approval_ms?: number };

async function execTool(ctx: ToolContext, args: ExecArgs, extra: Extra): Promise<CallToolResult> {
  const id = ctx.registry.resolve(args.run_id);
  const command = args.command;
  if (args.yield_ms !== undefined) return startTool(ctx, id, args, extra);
  const limit = args.max_output_bytes ?? OUTPUT_DEFAULT;
  const out = { stdout: new BoundedOutput(limit), stderr: new BoundedOutput(limit) };
  let last = '';
  let held: string | undefined;
  const progress = startProgress(extra, () => (held ? `held for approval: ${held}` : last));
  const running = ctx.backend.exec(id, command, {
    ...(args.timeout_ms ? { timeoutMs: args.timeout_ms } : {}),
    ...(args.wait_approval_ms ? { waitForApprovalMs: args.wait_approval_ms } : {}),
    ...(args.cwd !== undefined ? { cwd: args.cwd } : {}),
    onHeld: (_step, reason) => (held = reason),
    onOutput: (stream, data) => {
      out[stream].push(data);
      const line = lastLine(data.toString('utf8'));
      if (line) last = line;
    },
  });
  try {
    const result = await untilAborted(running, extra.signal);
    return execResult(result, out);
  } catch (err) {
    const notAllowed = notAllowedResult(id, err);
    if (notAllowed) return notAllowed;
    throw err;
  } finally {
    progress.stop();
  }
}

/** exec with yield_ms: the command as a process, answered after at most that long. */
async function startTool(ctx: ToolContext, id: string, args: ExecArgs, extra: Extra): Promise<CallToolResult> {
  const progress = startProgress(extra, () => `starting: ${lastLine(args.command, 80)}`);
  try {
    const state = await untilAborted(
      ctx.backend.start(id, args.command, { yieldMs: args.yield_ms ?? 0, ...(args.timeout_ms ? { timeoutMs: args.timeout_ms } : {}), ...(args.cwd !== undefined ? { cwd: args.cwd } : {}) }),
      extra.signal,
    );
    return processResult(state, args.max_output_bytes ?? OUTPUT_DEFAULT);
  } catch (err) {
    const refused = notAllowedResult(id, err);
    if (refused) return refused;
    throw err;
  } finally {
    progress.stop();
  }
}

function execResult(r: StepResult, out: { stdout: BoundedOutput; stderr: BoundedOutput }): CallToolResult {
  const hint = ` (step ${r.step}: read it all with step_output)`;
  const body = {
    run_id: r.runId,
    step: r.step,
    status: resultState(r) as 'exited' | 'timed_out' | 'killed' | 'sandbox_died',
    exit_code: r.exitCode,
    signal: r.signal,
    stdout: out.stdout.text(hint),
    stderr: out.stderr.text(hint),
    stdout_bytes: r.stdoutBytes,
    stderr_bytes: r.stderrBytes,
    truncated: out.stdout.truncated || out.stderr.truncated || r.truncated,
    duration_ms: Math.round(r.durationMs),
    ...(r.snapshot ? { snapshot: r.snapshot } : {}),
  };
  const how =
    body.status === 'exited'
      ? `exit ${r.exitCode}`
      : body.status === 'timed_out'
        ? `timed out and was stopped (${r.signal ?? 'killed'}); raise timeout_ms if it needs longer`
        : body.status === 'sandbox_died'
          ? 'the sandbox died during the step; the next step gets a fresh sandbox on the same workspace'
          : `killed by ${r.signal}${r.oomKilled ? ' (out of memory)' : ''}`;
  const text = [`${how} (step ${r.step}, ${body.duration_ms} ms)`, body.stdout.trimEnd(), body.stderr ? `[stderr]\n${body.stderr.trimEnd()}` : ''].filter(Boolean).join('\n');
  return structured(body, text);
}

/** A command the policy did not let run, as an exec result the model can act on; undefined for other errors. */
function notAllowedResult(runId: string, err: unknown): CallToolResult | undefined {
  const n = notAllowed(runId, err);
  if (!n) return undefined;
  const body = { run_id: runId, step: n.step, status: n.status, exit_code: null, signal: null, stdout: '', stderr: '', stdout_bytes: 0, stderr_bytes: 0, truncated: false, duration_ms: 0, verdict: n.verdict, next: n.next };
  return structured(body, n.text);
}

async function stepOutputTool(ctx: ToolContext, args: { run_id?: string; step: number; stdout_offset?: number; stderr_offset?: number; max_bytes?: number; wait_ms?: number }, extra: Extra): Promise<CallToolResult> {
  const id = ctx.registry.resolve(args.run_id);
  let events = await readAll(ctx.backend.log(id));
  let summary = foldSteps(events).find((s) => s.step === args.step);
  if (!summary) throw new AirlockError('bad_request', `run ${id} has no step ${args.step} (history lists its steps)`);
  if (args.wait_ms && (summary.state === 'running' || summary.state === 'requested')) {
    const stop = AbortSignal.any([AbortSignal.timeout(args.wait_ms), extra.signal]);
    // The step's end, or a verdict that means it never runs.
    const ended = (e: LogEvent) => (e.type === 'step.exited' || e.type === 'step.lost' || (e.type === 'step.verdict' && e.verdict !== 'allow')) && e.step === args.step;
    const progress = startProgress(extra, () => `waiting for step ${args.step}`);
    try {
      events = [];
      for await (const e of ctx.backend.log(id, { follow: true, signal: stop })) {
        events.push(e);
        if (ended(e) || e.type === 'run.closed') break;
      }
    } finally {
      progress.stop();
    }
    summary = foldSteps(events).find((s) => s.step === args.step) ?? summary;
  }
  const from = { stdout: args.stdout_offset ?? 0, stderr: args.stderr_offset ?? 0 };
  const o = stepOutput(events, args.step, from, args.max_bytes ?? OUTPUT_DEFAULT);
  const body = {
    run_id: id,
    step: args.step,
    state: summary.state,
    ...(summary.exit_code !== undefined ? { exit_code: summary.exit_code } : {}),
    stdout: o.stdout.toString('utf8'),
    stderr: o.stderr.toString('utf8'),
    stdout_next_offset: from.stdout + o.stdout.length,
    stderr_next_offset: from.stderr + o.stderr.length,
    more: o.more.stdout || o.more.stderr,
  };
  const head = `step ${args.step} ${summary.state}${summary.exit_code !== undefined ? ` (exit ${summary.exit_code})` : ''}${body.more ? `; more output from stdout_offset ${body.stdout_next_offset}, stderr_offset ${body.stderr_next_offset}` : ''}`;
  return structured(body, [head, body.stdout.trimEnd(), body.stderr ? `[stderr]\n${body.stderr.trimEnd()}` : ''].filter(Boolean).join('\n'));
}

/** Opens a new run from the snapshot after `step` (default: the latest) of run `id`, same image and mount. */
async function fromStep(ctx: ToolContext, id: string, step: number | undefined): Promise<{ run: RunRecord; step: number }> {
  const source = await knownRun(ctx, id);
  const snaps = await ctx.backend.snapshots(id);
  const snap = step === undefined ? snaps.at(-1) : snaps.find((s) => s.step === step);
  if (!snap) throw new AirlockError('bad_request', `run ${id} has no snapshot after step ${step ?? 'any'}; it has steps ${snaps.map((s) => s.step).join(', ') || 'none'}`);
  const run = await ctx.backend.open({ image: source.image, mountPath: source.mountPath, fromSnapshot: snap.digest, fromRun: id });
  ctx.registry.allow(run.runId);
  return { run, step: snap.step };
}

async function latestSnapshotStep(ctx: ToolContext, id: string): Promise<number> {
  const last = (await ctx.backend.snapshots(id)).at(-1);
  if (!last) throw new AirlockError('unknown_run', `run ${id} has no snapshots`);
  return last.step;
}

async function knownRun(ctx: ToolContext, id: string): Promise<RunRecord> {
  const run = await ctx.backend.run(id);
  if (!run) throw new AirlockError('unknown_run', `no run ${id}`);
  return run;
}

function runResult(run: RunRecord, note: string, more: Record<string, unknown> = {}): CallToolResult {
  return structured({ run_id: run.runId, status: run.status, image: run.image, mount_path: run.mountPath, steps: run.steps, note, ...more }, `${note}\nrun_id: ${run.runId}`);
}

function stepLine(s: ReturnType<typeof foldSteps>[number]): string {
  const verdict = s.verdict && s.verdict.decision !== 'allow' ? ` [${s.verdict.decision} ${s.verdict.rule}]` : '';
  const exit = s.exit_code !== undefined ? ` exit ${s.exit_code}` : '';
  const cmd = s.command.replace(/\n/g, '⏎');
  return `${String(s.step).padStart(3)} ${s.state}${exit}${verdict}  $ ${cmd.length > 160 ? `${cmd.slice(0, 160)}…` : cmd}`;
}

/** One file's part of a diff, as text for the model. */
function patchText(p: WorkspaceDiff['patches'][number]): string {
  if (p.kind === 'text') return (p.patch ?? '').trimEnd();
  if (p.kind === 'omitted') return `Patch omitted (this reply is full): ${p.path}; call diff with paths: ["${p.path}"] to see it`;
  return `Binary files differ: ${p.path}${p.kind === 'too_large' ? ' (too large for a patch)' : ''}`;
}
