// `airlock mcp`: the MCP server over stdio (one client, the process that started it) or Streamable
// HTTP on loopback (any number of sessions, one McpServer each, all sharing the backend and the runs).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { AirlockError } from '@airlock/proto';
import { INSTRUCTIONS, registerTools, type ToolContext } from './tools.ts';

/** The server's name and version as MCP clients see them. */
export const SERVER_INFO = { name: 'airlock', version: '0.1.0' } as const;

/** One MCP server (one client session) over the shared context. */
export function createAirlockServer(ctx: ToolContext): McpServer {
  const server = new McpServer(SERVER_INFO, { instructions: INSTRUCTIONS, capabilities: { tools: {} } });
  registerTools(server, ctx);
  return server;
}

/**
 * Serves one client on stdin/stdout until it hangs up. Runs are not touched when it does: a command
 * still running goes on in its sandbox and its output is in the run log.
 */
export async function serveStdio(ctx: ToolContext): Promise<void> {
  const server = createAirlockServer(ctx);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((done) => {
    transport.onclose = () => done();
    process.stdin.once('end', () => done());
    process.stdin.once('close', () => done());
  });
  await server.connect(transport);
  await closed;
  await server.close().catch(() => undefined);
}

export interface HttpServer extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
}

/**
 * Serves Streamable HTTP at `http://127.0.0.1:PORT/mcp`, loopback only. Requests whose Host or
 * Origin is not loopback are refused (a web page cannot drive the sandbox through DNS rebinding).
 */
export async function serveHttp(ctx: ToolContext, port: number): Promise<HttpServer> {
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();
  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) jsonError(res, 500, err instanceof Error ? err.message : String(err));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/mcp') return jsonError(res, 404, 'the MCP endpoint is /mcp');
    if (!loopbackHost(req.headers.host) || (req.headers.origin !== undefined && !loopbackOrigin(req.headers.origin))) {
      return jsonError(res, 403, 'only loopback clients may use this server');
    }
    const sid = req.headers['mcp-session-id'];
    const existing = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (existing) return existing.transport.handleRequest(req, res, await bodyOf(req));
    if (req.method !== 'POST') return jsonError(res, typeof sid === 'string' ? 404 : 400, typeof sid === 'string' ? 'unknown or expired session; initialize a new one' : 'no session: send initialize first');
    const body = await bodyOf(req);
    if (!isInitializeRequest(body)) return jsonError(res, typeof sid === 'string' ? 404 : 400, typeof sid === 'string' ? 'unknown or expired session; initialize a new one' : 'no session: send initialize first');
    const server = createAirlockServer(ctx);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, { transport, server }),
      onsessionclosed: (id) => void sessions.delete(id),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  await new Promise<void>((done, fail) => {
    http.once('error', fail);
    http.listen(port, '127.0.0.1', () => done());
  });
  const bound = (http.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${bound}/mcp`,
    port: bound,
    async [Symbol.asyncDispose]() {
      for (const { server } of sessions.values()) await server.close().catch(() => undefined);
      sessions.clear();
      await closeHttp(http);
    },
  };
}

function closeHttp(http: Server): Promise<void> {
  http.closeAllConnections();
  return new Promise((done) => http.close(() => done()));
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

function loopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  return LOOPBACK.has(host.replace(/:\d+$/, ''));
}

function loopbackOrigin(origin: string): boolean {
  try {
    return LOOPBACK.has(new URL(origin).hostname) || new URL(origin).hostname === '::1';
  } catch {
    return false;
  }
}

/** Largest request body read (JSON-RPC messages are small; file tools stay well under it). */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

async function bodyOf(req: IncomingMessage): Promise<unknown> {
  if (req.method !== 'POST') return undefined;
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > MAX_BODY_BYTES) throw new AirlockError('bad_request', `request body over ${MAX_BODY_BYTES} bytes`);
    parts.push(chunk);
  }
  const text = Buffer.concat(parts).toString('utf8');
  try {
    return text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    return text;
  }
}

function jsonError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}
