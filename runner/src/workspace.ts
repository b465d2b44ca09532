import { lstat, mkdir, opendir, lchown, rm, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { AirlockError } from '@airlock/proto';
import { stopTracking } from './tracking.ts';

/** uid:gid sandboxes run as when the workspace belongs to root (the `agent` user of our images). */
export const SANDBOX_UID = 1000;
export const SANDBOX_GID = 1000;

export interface PreparedWorkspace {
  /** Host path to bind-mount. */
  path: string;
  /** "uid:gid" the sandbox runs as. */
  user: string;
  /** "uid:gid" to chown the tree back to at release, or "" when ownership was not touched. */
  ownerBack: string;
  /** The runner created this directory and deletes it at release. */
  owned: boolean;
}

/**
 * Decides who the sandbox runs as, so the agent can edit the files and git accepts the repository:
 * - a workspace owned by a non-root user: the sandbox runs as that uid:gid, nothing is changed;
 * - a root-owned workspace: never run the sandbox as root; the tree is lent to the sandbox user
 *   (chown to 1000:1000) and given back to its owner when the run closes;
 * - no workspace given: a fresh directory under the runner's state dir, owned by the sandbox user.
 */
export async function prepareWorkspace(requested: string | undefined, stateDir: string, runId: string): Promise<PreparedWorkspace> {
  const sandboxUser = `${SANDBOX_UID}:${SANDBOX_GID}`;
  if (requested === undefined) {
    const path = join(stateDir, 'workspaces', runId);
    await mkdir(path, { recursive: true, mode: 0o755 });
    await chown(path, SANDBOX_UID, SANDBOX_GID);
    return { path, user: sandboxUser, ownerBack: '', owned: true };
  }
  let st;
  try {
    st = await lstat(requested);
  } catch (cause) {
    throw new AirlockError('workspace_invalid', `workspace ${requested} does not exist on the runner host`, { cause });
  }
  if (!st.isDirectory()) throw new AirlockError('workspace_invalid', `workspace ${requested} is not a directory (symlinks are not followed)`);
  if (st.uid !== 0) return { path: requested, user: `${st.uid}:${st.gid}`, ownerBack: '', owned: false };
  await chownTree(requested, SANDBOX_UID, SANDBOX_GID);
  return { path: requested, user: sandboxUser, ownerBack: `${st.uid}:${st.gid}`, owned: false };
}

/** Gives a workspace back: chown to its owner, or delete it when the runner made it. Idempotent. */
export async function releaseWorkspace(ws: { path: string; ownerBack: string; owned: boolean }): Promise<void> {
  stopTracking(ws);
  if (ws.owned) {
    await rm(ws.path, { recursive: true, force: true });
    return;
  }
  if (ws.ownerBack) {
    const [uid, gid] = ws.ownerBack.split(':').map(Number);
    await chownTree(ws.path, uid ?? 0, gid ?? 0).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

/** chown -R without following symlinks. */
export async function chownTree(root: string, uid: number, gid: number): Promise<void> {
  await lchown(root, uid, gid);
  const dir = await opendir(root);
  for await (const entry of dir) {
    const p = join(root, entry.name);
    await lchown(p, uid, gid);
    if (entry.isDirectory()) await chownTree(p, uid, gid);
  }
}
