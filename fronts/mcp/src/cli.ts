// `./airlock mcp [--http PORT] [--run ID] [--workspace DIR] [--image I]`: what the CLI verb runs.
import { resolve } from 'node:path';
import { AirlockError } from '@airlock/proto';
import { connectBackend } from './backend-client.ts';
import { RunRegistry } from './runs.ts';
import { serveHttp, serveStdio } from './server.ts';
import type { ToolContext } from './tools.ts';

export interface McpCommandOptions {
  natsUrl: string;
  /** The agent's credential, for a harness that requires one (`./airlock --as agent mcp`). */
  credential?: string;
  /** Serve Streamable HTTP on 127.0.0.1:PORT instead of stdio. */
  http?: number;
  /** Bind the server to this run: run_id becomes optional and other runs are refused. */
  run?: string;
  /** Host directory open_run mounts (its subdirectories too); none: runs get fresh, empty workspaces. */
  workspace?: string;
  image?: string;
  /** Where to say where the HTTP server listens (stderr: stdout belongs to the protocol under stdio). */
  say?: (line: string) => void;
}

/** Runs the MCP server until its client hangs up (stdio) or the process is told to stop (HTTP). */
export async function runMcpCommand(o: McpCommandOptions): Promise<void> {
  await using backend = await connectBackend(o.natsUrl, o.credential);
  const ctx: ToolContext = {
    backend,
    registry: new RunRegistry(o.run),
    ...(o.workspace ? { workspaceRoot: resolve(o.workspace) } : {}),
    ...(o.image ? { image: o.image } : {}),
  };
  if (o.run && !(await backend.run(o.run))) throw new AirlockError('unknown_run', `no run ${o.run} (--run)`);
  if (o.http === undefined) return await serveStdio(ctx);
  await using http = await serveHttp(ctx, o.http);
  (o.say ?? ((l) => process.stderr.write(`${l}\n`)))(`Airlock MCP server at ${http.url} (loopback only; Ctrl-C stops it)`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
