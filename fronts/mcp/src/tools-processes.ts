// Long-running processes: a command exec started with yield_ms goes on as a process (its id is its
// step number), read with process_poll from any connection, stopped with process_signal, listed
// with process_list. Everything comes from the run's log, so nothing is lost across reconnects.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { outputBytes } from '@airlock/proto';
import type { ProcessChunk, ProcessSignal, ProcessState } from '@airlock/proto';
import { guarded, startProgress, structured, untilAborted, type Extra } from './results.ts';
import { OUTPUT_DEFAULT } from './schemas.ts';
import type { runIdField } from './schemas.ts';
import { BoundedOutput, lastLine, resultState } from './steps.ts';
import type { ToolContext } from './context.ts';

/** Longest one process_poll waits (the harness's own cap). */
const POLL_WAIT_MAX_MS = 300_000;
/** Most output bytes one poll carries (the harness's cap). */
const POLL_BYTES_MAX = 512 * 1024;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGKILL', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const satisfies readonly ProcessSignal[];

/** A process's output chunks (both streams, log order) as the text of each stream. */
export function chunksText(chunks: ProcessChunk[]): { stdout: string; stderr: string } {
  const parts = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  for (const c of chunks) parts[c.stream].push(outputBytes(c));
  return { stdout: Buffer.concat(parts.stdout).toString('utf8'), stderr: Buffer.concat(parts.stderr).toString('utf8') };
}

const pollOutput = {
  run_id: z.string(),
  step: z.number().int().describe('The process id: its step number.'),
  status: z.enum(['exited', 'timed_out', 'killed', 'sandbox_died', 'denied', 'held', 'running', 'lost']),
  exit_code: z.number().int().nullable(),
  signal: z.string().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  stdout_bytes: z.number().int(),
  stderr_bytes: z.number().int(),
  truncated: z.boolean().describe('More output is stored than this result carries: poll again from next_offset.'),
  duration_ms: z.number(),
  snapshot: z.string().optional(),
  next_offset: z.number().int().optional().describe('Pass as from_offset to the next process_poll to read only what came after.'),
  next: z.string().optional(),
};

/** A process's state as a result: status running, or how it ended. */
export function processResult(p: ProcessState, limit: number): CallToolResult {
  const { stdout, stderr } = chunksText(p.output);
  const [out, err] = [new BoundedOutput(limit), new BoundedOutput(limit)];
  out.push(Buffer.from(stdout));
  err.push(Buffer.from(stderr));
  const r = p.result;
  const status = r ? resultState(r) : p.status === 'lost' ? 'lost' : p.status === 'refused' ? 'denied' : 'running';
  const running = status === 'running';
  const body = {
    run_id: p.runId,
    step: p.pid,
    status,
    exit_code: r ? r.exitCode : null,
    signal: r ? r.signal : null,
    stdout: out.text(` (process ${p.pid}: read it all with process_poll from an earlier offset)`),
    stderr: err.text(''),
    stdout_bytes: r ? r.stdoutBytes : out.total,
    stderr_bytes: r ? r.stderrBytes : err.total,
    truncated: out.truncated || err.truncated || p.more,
    duration_ms: r ? Math.round(r.durationMs) : 0,
    ...(r?.snapshot ? { snapshot: r.snapshot } : {}),
    next_offset: p.nextOffset,
    ...(running ? { next: `Still running as process ${p.pid}: process_poll with pid ${p.pid} and from_offset ${p.nextOffset} reads what comes next and waits for the end; process_signal stops it.` } : {}),
    ...(p.reason ? { next: p.reason } : {}),
  };
  const head = running
    ? `running as process ${p.pid} (poll from_offset ${p.nextOffset})`
    : r
      ? `exit ${r.exitCode} (process ${p.pid}, ${body.duration_ms} ms)${p.more ? `; more output from from_offset ${p.nextOffset}` : ''}`
      : `${status} (process ${p.pid})${p.reason ? `: ${p.reason}` : ''}`;
  return structured(body, [head, body.stdout.trimEnd(), body.stderr ? `[stderr]\n${body.stderr.trimEnd()}` : ''].filter(Boolean).join('\n'));
}

export function registerProcessTools(server: McpServer, ctx: ToolContext, runId: ReturnType<typeof runIdField>): void {
  server.registerTool(
    'process_poll',
    {
      title: 'Read a running command\'s output',
      description:
        'The output of a process (a command exec started with yield_ms; its id is the step number) from from_offset on, waiting up to wait_ms for new output or its end. ' +
        'Returns status ("running" or how it ended), exit_code once it ended, stdout/stderr since from_offset and next_offset for the next call. Works after a reconnect, from any client.',
      inputSchema: {
        run_id: runId,
        pid: z.number().int().min(1).describe('The process id (exec returned it as step).'),
        from_offset: z.number().int().min(0).optional().describe('Output offset to read from: the previous answer\'s next_offset (default 0: all of it).'),
        wait_ms: z.number().int().min(0).max(POLL_WAIT_MAX_MS).optional().describe('With nothing new yet, wait up to this long for output or the end (default 10000).'),
        max_bytes: z.number().int().min(1000).max(POLL_BYTES_MAX).optional().describe(`Most output bytes to return (default ${OUTPUT_DEFAULT}).`),
      },
      outputSchema: pollOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args: { run_id?: string; pid: number; from_offset?: number; wait_ms?: number; max_bytes?: number }, extra: Extra) =>
      guarded(async () => {
        const id = ctx.registry.resolve(args.run_id);
        const max = args.max_bytes ?? OUTPUT_DEFAULT;
        const progress = startProgress(extra, () => `waiting for process ${args.pid}`);
        try {
          const state = await untilAborted(
            ctx.backend.poll(id, args.pid, { fromOffset: args.from_offset ?? 0, waitMs: args.wait_ms ?? 10_000, maxBytes: max, signal: extra.signal }),
            extra.signal,
          );
          return processResult(state, max);
        } finally {
          progress.stop();
        }
      }),
  );

  server.registerTool(
    'process_signal',
    {
      title: 'Signal a running command',
      description: 'Sends a signal (default SIGTERM; SIGINT is Ctrl-C, SIGKILL cannot be caught) to a process\'s whole process group. delivered is false when it had already ended. Then process_poll shows how it ended.',
      inputSchema: { run_id: runId, pid: z.number().int().min(1), signal: z.enum(SIGNALS).optional() },
      outputSchema: { run_id: z.string(), pid: z.number().int(), signal: z.enum(SIGNALS), delivered: z.boolean() },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    (args: { run_id?: string; pid: number; signal?: ProcessSignal }) =>
      guarded(async () => {
        const id = ctx.registry.resolve(args.run_id);
        const sig = args.signal ?? 'SIGTERM';
        const delivered = await ctx.backend.signal(id, args.pid, sig);
        return structured({ run_id: id, pid: args.pid, signal: sig, delivered }, delivered ? `${sig} sent to process ${args.pid}` : `process ${args.pid} had already ended`);
      }),
  );

  server.registerTool(
    'process_list',
    {
      title: 'List the run\'s processes',
      description: 'The commands started with yield_ms in this run, running or ended, with their status, exit code and output size.',
      inputSchema: { run_id: runId },
      outputSchema: {
        run_id: z.string(),
        processes: z.array(z.object({ pid: z.number().int(), command: z.string(), status: z.string(), exit_code: z.number().int().nullable().optional(), output_bytes: z.number().int(), requested_at: z.string() })),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args: { run_id?: string }) =>
      guarded(async () => {
        const id = ctx.registry.resolve(args.run_id);
        const processes = (await ctx.backend.processes(id)).map((p) => ({
          pid: p.pid,
          command: p.cmd,
          status: p.status,
          ...(p.exitCode !== undefined ? { exit_code: p.exitCode } : {}),
          output_bytes: p.outputBytes,
          requested_at: p.requestedAt,
        }));
        const text = processes.map((p) => `${String(p.pid).padStart(3)} ${p.status}${p.exit_code !== undefined && p.exit_code !== null ? ` exit ${p.exit_code}` : ''}  ${p.output_bytes} B  $ ${lastLine(p.command, 120)}`).join('\n') || 'no processes';
        return structured({ run_id: id, processes }, text);
      }),
  );
}
