export type { AgentBackend, ExecRequest, OpenRunRequest, SnapshotInfo, WorkspaceDiff, FileChange } from './backend.ts';
export { connectBackend } from './backend-client.ts';
export { RunRegistry, workspaceWithin } from './runs.ts';
export { createAirlockServer, serveHttp, serveStdio, SERVER_INFO, type HttpServer } from './server.ts';
export { INSTRUCTIONS, registerTools, type ToolContext } from './tools.ts';
export { runMcpCommand, type McpCommandOptions } from './cli.ts';
