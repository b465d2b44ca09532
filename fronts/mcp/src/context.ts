// What every tool of the MCP server works with: the agent's backend, the runs this server may touch,
// and where runs may come from. Its own file so tool modules import it without importing each other.
import type { AgentBackend } from './backend.ts';
import type { RunRegistry } from './runs.ts';

export interface ToolContext {
  backend: AgentBackend;
  registry: RunRegistry;
  /** Host directory runs may mount (open_run's `workspace` is relative to it); none = fresh workspaces only. */
  workspaceRoot?: string;
  /** Sandbox image when open_run names none (else the harness default). */
  image?: string;
}
