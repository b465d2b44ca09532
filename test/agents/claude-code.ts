// Unmodified Claude Code (npm @anthropic-ai/claude-code, pinned in test/package.json) driven by the
// scripted Messages API through one recorded workload session, with Airlock's MCP server as its only tools.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { blocksOf, resultText, type Planner } from './scripted-anthropic.ts';

/** The `claude` executable npm installed (the native binary of the platform package). */
export const CLAUDE_BIN = resolve(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'claude');

/** Claude Code's own tools that could touch files or run commands: all refused, so everything goes through Airlock. */
export const CLAUDE_OWN_TOOLS = ['Bash', 'Edit', 'Write', 'NotebookEdit', 'MultiEdit', 'Read', 'Glob', 'Grep', 'WebFetch', 'WebSearch'] as const;

/** What the planner saw and did, for the test to check afterwards. */
export interface WorkloadScriptState {
  runId?: string;
  /** Tool results that came back as errors (is_error), with their text. */
  errors: string[];
  /** Text of every tool result, in order. */
  results: string[];
}

/**
 * A planner that answers like an agent replaying `commands`: open_run on /testbed, one exec per
 * command in order, close_run, then a final text. It counts its own tool calls in the conversation,
 * so a repeated request gets the same answer.
 */
export function workloadPlanner(commands: string[], server: string, state: WorkloadScriptState): Planner {
  const p = `mcp__${server}__`;
  return (messages) => {
    const blocks = blocksOf(messages);
    const uses = blocks.filter((b) => b.type === 'tool_use' && b.name?.startsWith(p));
    const results = blocks.filter((b) => b.type === 'tool_result');
    state.results = results.map(resultText);
    state.errors = results.filter((b) => b.is_error).map(resultText);
    if (uses.length === 0) return { tool: `${p}open_run`, input: { mount_path: '/testbed' } };
    const opened = results.find((b) => b.tool_use_id === uses[0]!.id);
    const runId = opened ? /run_id\W+([0-9A-HJKMNP-TV-Z]{26})/.exec(resultText(opened))?.[1] : undefined;
    if (!runId) return { text: `open_run gave no run_id: ${opened ? resultText(opened) : 'no result'}` };
    state.runId = runId;
    const n = uses.length - 1;
    if (n < commands.length) return { tool: `${p}exec`, input: { run_id: runId, command: commands[n]!, timeout_ms: 60_000 } };
    if (n === commands.length) return { tool: `${p}close_run`, input: { run_id: runId } };
    return { text: 'Done: the fix is in place and the diff is submitted.' };
  };
}

export interface ClaudeRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `claude -p` once: the model at `modelUrl`, Airlock's MCP server as `airlock` (its command and
 * args as given), only Airlock's tools allowed, Claude Code's own tools refused, non-essential
 * traffic off, a throw-away HOME, and no working directory of interest (an empty temp dir). Any
 * other host it tries goes through `proxyUrl` (a {@link ProxyTrap}), which refuses and records it.
 */
export function runClaude(o: { modelUrl: string; mcpCommand: string; mcpArgs: string[]; prompt: string; timeoutMs: number; proxyUrl: string }): Promise<ClaudeRun> {
  const home = mkdtempSync(join(tmpdir(), 'airlock-claude-home-'));
  const cwd = mkdtempSync(join(tmpdir(), 'airlock-claude-cwd-'));
  const config = join(home, 'mcp.json');
  writeFileSync(config, JSON.stringify({ mcpServers: { airlock: { type: 'stdio', command: o.mcpCommand, args: o.mcpArgs, env: { PATH: process.env.PATH ?? '' } } } }));
  const args = [
    '-p', o.prompt,
    '--mcp-config', config,
    '--strict-mcp-config',
    '--allowedTools', 'mcp__airlock',
    '--disallowedTools', CLAUDE_OWN_TOOLS.join(','),
    '--model', 'claude-sonnet-4-5',
    '--output-format', 'json',
    '--no-session-persistence',
  ];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    ANTHROPIC_BASE_URL: o.modelUrl,
    ANTHROPIC_API_KEY: 'sk-ant-scripted-loopback-only',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_BUG_COMMAND: '1',
    // MCP tools are otherwise deferred behind Claude Code's ToolSearch tool (seen with 2.1.x).
    ENABLE_TOOL_SEARCH: 'false',
    MCP_TIMEOUT: '60000',
    MCP_TOOL_TIMEOUT: '600000',
    // Whatever else it would fetch goes to a loopback trap instead of leaving the machine.
    HTTP_PROXY: o.proxyUrl,
    HTTPS_PROXY: o.proxyUrl,
    NO_PROXY: '127.0.0.1,localhost',
  };
  return new Promise((done, fail) => {
    const child = spawn(CLAUDE_BIN, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`claude did not finish in ${o.timeoutMs} ms; stdout: ${stdout.slice(-2000)} stderr: ${stderr.slice(-2000)}`));
    }, o.timeoutMs);
    child.on('error', (err) => (clearTimeout(timer), fail(err)));
    child.on('close', (code) => (clearTimeout(timer), done({ code, stdout, stderr })));
  });
}

/** Claude Code's version, from the binary (no network). */
export function claudeVersion(): string {
  return execFileSync(CLAUDE_BIN, ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: tmpdir() } }).trim();
}

/** A loopback "proxy" that refuses every connection and records what it was asked for. */
export interface ProxyTrap extends AsyncDisposable {
  readonly url: string;
  /** First line of every request (e.g. `CONNECT api.anthropic.com:443 HTTP/1.1`). */
  readonly asked: string[];
}

export async function startProxyTrap(): Promise<ProxyTrap> {
  const asked: string[] = [];
  const server = createNetServer((sock) => {
    sock.once('data', (d: Buffer) => {
      asked.push(d.toString('latin1').split('\r\n')[0] ?? '');
      sock.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    asked,
    async [Symbol.asyncDispose]() {
      await new Promise((done) => server.close(done));
    },
  };
}
