// The README's MCP configurations, read by the real clients (no model needed): the Codex TOML block
// by `codex mcp get --json` and the `.mcp.json` block by `claude mcp get`. A snippet that one of
// them does not take, or takes as something else, fails here. Cursor has no CLI here: its block is
// checked to be the same `mcpServers` shape Claude Code just accepted.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CODEX_BIN, checkCodexInstalled } from '../agents/codex.ts';
import { CLAUDE_BIN } from '../agents/claude-code.ts';

const README = readFileSync(resolve(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The first fenced block of `lang` after the line that starts with `heading`. */
function blockAfter(heading: string, lang: string): string {
  const at = README.indexOf(heading);
  if (at < 0) throw new Error(`README has no "${heading}"`);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(README.slice(at));
  if (!m?.[1]) throw new Error(`README has no \`\`\`${lang} block after "${heading}"`);
  return m[1];
}

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'airlock-mcp-config-'));
  dirs.push(d);
  return d;
}

describe("the README's MCP configurations, as the real clients read them", () => {
  it('Codex: the ~/.codex/config.toml block is a stdio server running `airlock mcp`', () => {
    checkCodexInstalled();
    const home = scratch();
    writeFileSync(join(home, 'config.toml'), blockAfter('**Codex** (`~/.codex/config.toml`)', 'toml'));
    const out = execFileSync(CODEX_BIN, ['mcp', 'get', 'airlock', '--json'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: home, CODEX_HOME: home } });
    const server = JSON.parse(out) as { enabled: boolean; transport: { type: string; command: string; args: string[] }; tool_timeout_sec?: number };
    expect(server.enabled).toBe(true);
    expect(server.transport).toMatchObject({ type: 'stdio', command: '/path/to/airlock' });
    expect(server.transport.args.slice(0, 2)).toEqual(['mcp', '--workspace']);
    expect(server.tool_timeout_sec).toBe(900);
  });

  it('Claude Code: the .mcp.json block is a project stdio server running `airlock mcp`', () => {
    const dir = scratch();
    writeFileSync(join(dir, '.mcp.json'), blockAfter('`.mcp.json` (project root', 'json'));
    const out = execFileSync(CLAUDE_BIN, ['mcp', 'get', 'airlock'], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: dir } });
    expect(out).toMatch(/Scope: Project config/);
    expect(out).toMatch(/Type: stdio/);
    expect(out).toMatch(/Command: \/path\/to\/airlock/);
    expect(out).toMatch(/Args: mcp --workspace \./);
  });

  it('Cursor: the .cursor/mcp.json block has the shape Claude Code took', () => {
    const cursor = JSON.parse(blockAfter('**Cursor**', 'json')) as { mcpServers: Record<string, { command: string; args: string[] }> };
    const claude = JSON.parse(blockAfter('`.mcp.json` (project root', 'json')) as { mcpServers: Record<string, { command: string; args: string[] }> };
    expect(cursor.mcpServers.airlock).toEqual({ command: claude.mcpServers.airlock!.command, args: claude.mcpServers.airlock!.args });
  });
});
