// File tools without a shell: read, write, edit and list workspace files. Each is a step of the run
// like a command (validated by the policy, logged, snapshotted); a path outside the workspace is
// denied, a write to a sensitive path (git hooks, CI workflows, agent settings) is held for approval.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { FileResult } from '@airlock/proto';
import { guarded, notAllowed, structured } from './results.ts';
import { verdictShape } from './schemas.ts';
import type { runIdField } from './schemas.ts';
import type { ToolContext } from './context.ts';

/** The harness's caps: one read returns at most this much, one write carries at most this much. */
const READ_BYTES_MAX = 512 * 1024;
const WRITE_BYTES_MAX = 512 * 1024;

const fileOutput = {
  run_id: z.string(),
  step: z.number().int().optional().describe('The step this file operation was in the run.'),
  status: z.enum(['done', 'denied', 'held']),
  path: z.string().optional().describe('Workspace-relative path it worked on.'),
  content: z.string().optional(),
  binary: z.boolean().optional().describe('read: the file is not UTF-8 text; content is base64.'),
  truncated: z.boolean().optional(),
  total_lines: z.number().int().optional(),
  from_line: z.number().int().optional(),
  to_line: z.number().int().optional(),
  size: z.number().int().optional(),
  sha256: z.string().optional(),
  created: z.boolean().optional(),
  replaced: z.number().int().optional(),
  line: z.number().int().optional(),
  entries: z.array(z.object({ path: z.string(), type: z.enum(['file', 'dir', 'symlink', 'other']), size: z.number().int(), target: z.string().optional() })).optional(),
  snapshot: z.string().optional(),
  verdict: verdictShape.optional(),
  next: z.string().optional(),
};

/** A file result as the tool's structured body (snake_case, only the fields the operation set). */
function fileBody(r: FileResult): Record<string, unknown> {
  const pick = <K extends keyof FileResult>(k: K, as: string) => (r[k] !== undefined ? { [as]: r[k] } : {});
  return {
    run_id: r.runId,
    step: r.step,
    status: 'done',
    path: r.path,
    ...pick('content', 'content'),
    ...pick('binary', 'binary'),
    ...pick('truncated', 'truncated'),
    ...pick('totalLines', 'total_lines'),
    ...pick('fromLine', 'from_line'),
    ...pick('toLine', 'to_line'),
    ...pick('size', 'size'),
    ...pick('sha256', 'sha256'),
    ...pick('created', 'created'),
    ...pick('replaced', 'replaced'),
    ...pick('line', 'line'),
    ...(r.entries ? { entries: r.entries.map((e) => ({ path: e.path, type: e.type, size: e.size, ...(e.target !== undefined ? { target: e.target } : {}) })) } : {}),
    ...pick('snapshot', 'snapshot'),
  };
}

/** Runs a file operation; a denied or held one is a result that says which rule and what to do next. */
async function fileStep(runId: string, op: () => Promise<FileResult>, text: (r: FileResult) => string): Promise<CallToolResult> {
  try {
    const r = await op();
    return structured(fileBody(r), text(r));
  } catch (err) {
    const n = notAllowed(runId, err);
    if (!n) throw err;
    return structured({ run_id: runId, step: n.step, status: n.status, verdict: n.verdict, next: n.next }, n.text);
  }
}

export function registerFileTools(server: McpServer, ctx: ToolContext, runId: ReturnType<typeof runIdField>): void {
  const path = z.string().min(1).max(4096).describe('Path relative to the workspace (or absolute inside it).');
  const annotations = { openWorldHint: false } as const;

  server.registerTool(
    'file_read',
    {
      title: 'Read a file',
      description: 'Reads a workspace file without a shell: its text with total_lines, or lines from_line..to_line (1-based, inclusive), at most max_bytes (truncated says so). A binary file comes back as base64 (binary: true).',
      inputSchema: {
        run_id: runId,
        path,
        from_line: z.number().int().min(1).optional(),
        to_line: z.number().int().min(1).optional(),
        max_bytes: z.number().int().min(1).max(READ_BYTES_MAX).optional().describe('Default 262144.'),
      },
      outputSchema: fileOutput,
      annotations: { ...annotations, readOnlyHint: true },
    },
    (args: { run_id?: string; path: string; from_line?: number; to_line?: number; max_bytes?: number }) =>
      guarded(async () => {
        const id = ctx.registry.resolve(args.run_id);
        return fileStep(
          id,
          () => ctx.backend.readFile(id, args.path, { ...(args.from_line ? { fromLine: args.from_line } : {}), ...(args.to_line ? { toLine: args.to_line } : {}), ...(args.max_bytes ? { maxBytes: args.max_bytes } : {}) }),
          (r) => `${r.path}: lines ${r.fromLine ?? 1}-${r.toLine ?? r.totalLines ?? '?'} of ${r.totalLines ?? '?'}${r.truncated ? ' (truncated)' : ''}${r.binary ? ' (binary, base64)' : ''}\n${r.content ?? ''}`,
        );
      }),
  );

  server.registerTool(
    'file_write',
    {
      title: 'Write a file',
      description: 'Writes a whole workspace file without a shell (creating missing parent directories), replacing what was there. For a change inside an existing file, file_edit is safer. Content is text, or base64 with encoding "base64".',
      inputSchema: {
        run_id: runId,
        path,
        content: z.string().max(Math.ceil((WRITE_BYTES_MAX * 4) / 3) + 4),
        encoding: z.enum(['utf8', 'base64']).optional().describe('Default utf8.'),
      },
      outputSchema: fileOutput,
      annotations: { ...annotations, readOnlyHint: false, destructiveHint: true, idempotentHint: true },
    },
    (args: { run_id?: string; path: string; content: string; encoding?: 'utf8' | 'base64' }) =>
      guarded(async () => {
        const id = ctx.registry.resolve(args.run_id);
        const content = args.encoding === 'base64' ? Buffer.from(args.content, 'base64') : args.content;
        return fileStep(id, () => ctx.backend.writeFile(id, args.path, content), (r) => `wrote ${r.path} (${r.size} bytes${r.created ? ', new file' : ''}, step ${r.step})`);
      }),
  );

  server.registerTool(
    'file_edit',
    {
      title: 'Edit a file by search and replace',
      description:
        'Replaces the exact text search (whitespace and indentation included) with replace in a workspace file, without a shell. ' +
        'If search is not found the error names the nearest text and how it differs; if it occurs more than once, add surrounding lines to search, or set occurrence (1-based) or "all".',
      inputSchema: {
        run_id: runId,
        path,
        search: z.string().min(1),
        replace: z.string(),
        occurrence: z.union([z.number().int().min(1), z.literal('all')]).optional(),
      },
      outputSchema: fileOutput,
      annotations: { ...annotations, readOnlyHint: false, destructiveHint: true, idempotentHint: false },
    },
    (args: { run_id?: string; path: string; search: string; replace: string; occurrence?: number | 'all' }) =>
      guarded(async () => {
        const id = ctx.registry.resolve(args.run_id);
        return fileStep(
          id,
          () => ctx.backend.editFile(id, args.path, args.search, args.replace, args.occurrence !== undefined ? { occurrence: args.occurrence } : {}),
          (r) => `edited ${r.path}: ${r.replaced} replacement${r.replaced === 1 ? '' : 's'} from line ${r.line} (step ${r.step})`,
        );
      }),
  );

  server.registerTool(
    'file_list',
    {
      title: 'List a directory',
      description: 'The entries under a workspace directory (default: the workspace), depth levels deep (default 1, at most 8), with type and size.',
      inputSchema: { run_id: runId, path: path.optional(), depth: z.number().int().min(1).max(8).optional() },
      outputSchema: fileOutput,
      annotations: { ...annotations, readOnlyHint: true },
    },
    (args: { run_id?: string; path?: string; depth?: number }) =>
      guarded(async () => {
        const id = ctx.registry.resolve(args.run_id);
        try {
          const entries = await ctx.backend.listFiles(id, args.path ?? '.', args.depth ? { depth: args.depth } : {});
          const body = { run_id: id, status: 'done', path: args.path ?? '.', entries: entries.map((e) => ({ path: e.path, type: e.type, size: e.size, ...(e.target !== undefined ? { target: e.target } : {}) })) };
          return structured(body, entries.map((e) => `${e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : '-'} ${String(e.size).padStart(9)}  ${e.path}${e.target ? ` -> ${e.target}` : ''}`).join('\n') || 'empty');
        } catch (err) {
          const n = notAllowed(id, err);
          if (!n) throw err;
          return structured({ run_id: id, step: n.step, status: n.status, verdict: n.verdict, next: n.next }, n.text);
        }
      }),
  );
}
