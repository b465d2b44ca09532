// The no-change fast path of a snapshot. Most agent steps change nothing in the workspace (`ls`,
// `cat`, `git status`, a failing test run): when the stat walk finds every entry exactly as the
// previous snapshot recorded it, that snapshot's manifest is this one, so the store skips
// serializing, hashing and uploading a manifest identical to one it holds, and the diff against it.
import type { Manifest } from './manifest.ts';
import type { ScannedEntry } from './scan.ts';

/**
 * True when the scanned entries are the previous manifest's, entry for entry: same paths in the same
 * order, same types and modes, files with the same size and a reused hash (the stat fast path
 * trusted them), symlinks with the same target. Any file that needs hashing makes it false.
 */
export function sameAsManifest(scanned: readonly ScannedEntry[], previous: Manifest): boolean {
  const prev = previous.entries;
  if (scanned.length !== prev.length) return false;
  for (let i = 0; i < scanned.length; i++) {
    const s = scanned[i]!;
    const p = prev[i]!;
    if (s.path !== p.path || s.type !== p.type || s.mode !== p.mode) return false;
    if (s.type === 'file' && (p.type !== 'file' || s.sha256 === undefined || s.sha256 !== p.sha256 || s.size !== p.size)) return false;
    if (s.type === 'symlink' && (p.type !== 'symlink' || s.target !== p.target)) return false;
  }
  return true;
}
