// Official MCP clients (@modelcontextprotocol/sdk) connected to `./airlock mcp`, for the integration suites.
import { spawn, type ChildProcess } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AIRLOCK_BIN, waitUntil } from './fixtures.ts';

/** The environment `./airlock mcp` gets: PATH and HOME only, as an agent's config would give it. */
export function cliEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };
}

/** An MCP client that starts `./airlock mcp ARGS` as its stdio server. */
export async function stdioClient(args: string[], name = 'test-stdio'): Promise<{ client: Client; transport: StdioClientTransport; stderr: () => string }> {
  const transport = new StdioClientTransport({ command: AIRLOCK_BIN, args: ['mcp', ...args], env: cliEnv(), stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  return { client, transport, stderr: () => stderr };
}

/** An MCP client of a Streamable HTTP server. */
export async function httpClient(url: string, name = 'test-http'): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

/** `./airlock mcp --http PORT ARGS` as its own process; resolves once it listens. */
export async function startHttpServer(port: number, args: string[]): Promise<{ url: string; proc: ChildProcess; stderr: () => string }> {
  const proc = spawn(AIRLOCK_BIN, ['mcp', '--http', String(port), ...args], { env: cliEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitUntil('the MCP HTTP server to listen', () => stderr.includes('Airlock MCP server at') || proc.exitCode !== null, 30_000);
  if (proc.exitCode !== null) throw new Error(`airlock mcp --http exited ${proc.exitCode}: ${stderr}`);
  return { url: `http://127.0.0.1:${port}/mcp`, proc, stderr: () => stderr };
}

/** Calls a tool and returns its result, failing on a protocol error. */
export async function call(client: Client, name: string, args: Record<string, unknown>, opts: Parameters<Client['callTool']>[2] = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, undefined, { timeout: 120_000, ...opts })) as CallToolResult;
}

/** The structured result of a tool call that must have succeeded. */
export function body<T = Record<string, unknown>>(r: CallToolResult): T {
  if (r.isError) throw new Error(`tool error: ${JSON.stringify(r.content)}`);
  if (!r.structuredContent) throw new Error(`no structured content: ${JSON.stringify(r)}`);
  return r.structuredContent as T;
}

/** The text content of a tool result. */
export function textOf(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}
