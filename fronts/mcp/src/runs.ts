// Which runs an MCP server may touch: the one it was started for (`--run`) and those opened through it.
// Every other run id is refused, so an agent cannot read or drive runs it was not given.
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { AirlockError } from '@airlock/proto';

export class RunRegistry {
  /** The run a single-run server is bound to; `restore` moves it to the restored run. */
  fixed: string | undefined;
  readonly #allowed = new Set<string>();

  constructor(fixed?: string) {
    this.fixed = fixed;
    if (fixed) this.#allowed.add(fixed);
  }

  allow(runId: string): void {
    this.#allowed.add(runId);
  }

  /** The run a call is about: its `run_id`, else the fixed run; refuses runs this server was not given. */
  resolve(runId: string | undefined): string {
    const id = runId ?? this.fixed;
    if (!id) throw new AirlockError('bad_request', 'run_id is required: call open_run first and pass the run_id it returns to every call');
    if (!this.#allowed.has(id)) {
      throw new AirlockError('unknown_run', `run ${id} is not a run of this Airlock MCP server: use a run_id that open_run, fork or restore returned${this.fixed ? ` (this server is bound to run ${this.fixed})` : ''}`);
    }
    return id;
  }
}

/**
 * The host directory a run may mount: `sub` (relative) inside `root`, resolved through symlinks; an
 * absolute path, `..` or a symlink that leads outside `root` is refused.
 */
export function workspaceWithin(root: string, sub: string | undefined): string {
  const base = realpathSync(root);
  if (sub !== undefined && isAbsolute(sub)) throw new AirlockError('bad_request', `workspace must be a path relative to the server's workspace (${base}), got ${JSON.stringify(sub)}`);
  let dir: string;
  try {
    dir = realpathSync(resolve(base, sub ?? '.'));
  } catch (cause) {
    throw new AirlockError('workspace_invalid', `workspace ${JSON.stringify(sub)} does not exist under ${base}`, { cause });
  }
  const rel = relative(base, dir);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw new AirlockError('bad_request', `workspace ${JSON.stringify(sub)} leads outside the server's workspace (${base})`);
  if (!statSync(dir).isDirectory()) throw new AirlockError('workspace_invalid', `workspace ${JSON.stringify(sub)} is not a directory`);
  return dir;
}
