// Codex names paths as its host sees them (its working directory must exist on the host); the run's
// workspace appears inside the sandbox at the run's mount path. This maps one onto the other.
import { posix } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RpcError, rpcErrorCodes } from './jsonrpc.ts';

/**
 * `hostRoot` (Codex's working directory, the workspace as the host sees it) is shown to the sandbox
 * as `sandboxRoot` (the run's mount path), and back. Any other absolute path is the sandbox's own
 * path of that name: Codex's view of the environment is the sandbox, with the workspace aliased.
 */
export class PathMap {
  readonly hostRoot: string;
  readonly sandboxRoot: string;

  constructor(hostRoot: string, sandboxRoot: string) {
    this.hostRoot = clean(hostRoot);
    this.sandboxRoot = clean(sandboxRoot);
  }

  /** The sandbox path for a `file://` URI Codex sent. */
  toSandbox(uri: string): string {
    let path: string;
    try {
      path = fileURLToPath(uri);
    } catch (cause) {
      throw new RpcError(rpcErrorCodes.invalidParams, `not a file URI of an absolute path: ${uri}`, { cause });
    }
    if (path.includes('\0')) throw new RpcError(rpcErrorCodes.invalidParams, `path has a NUL byte: ${uri}`);
    return rebase(clean(path), this.hostRoot, this.sandboxRoot);
  }

  /** The `file://` URI Codex should see for a sandbox path. */
  toUri(sandboxPath: string): string {
    return pathToFileURL(rebase(clean(sandboxPath), this.sandboxRoot, this.hostRoot)).href;
  }
}

function clean(path: string): string {
  if (!path.startsWith('/')) throw new RpcError(rpcErrorCodes.invalidParams, `not an absolute path: ${path}`);
  const normal = posix.normalize(path);
  return normal.length > 1 ? normal.replace(/\/$/, '') : normal;
}

function rebase(path: string, from: string, to: string): string {
  if (path === from) return to;
  const prefix = from === '/' ? '/' : `${from}/`;
  if (!path.startsWith(prefix)) return path;
  return posix.join(to, path.slice(prefix.length));
}
