import type { Manifest, ManifestEntry } from './manifest.ts';
import { comparePaths } from './manifest.ts';

/** One path that exists in both manifests but differs (content, type, mode or symlink target). */
export type ModifiedEntry = { path: string; before: ManifestEntry; after: ManifestEntry; contentChanged: boolean };

/** Paths added, modified and deleted going from manifest A to manifest B, each sorted. */
export type ManifestDiff = {
  added: ManifestEntry[];
  modified: ModifiedEntry[];
  deleted: ManifestEntry[];
};

function sameEntry(a: ManifestEntry, b: ManifestEntry): boolean {
  if (a.type !== b.type || a.mode !== b.mode || a.size !== b.size) return false;
  if (a.type === 'file' && b.type === 'file') return a.sha256 === b.sha256;
  if (a.type === 'symlink' && b.type === 'symlink') return a.target === b.target;
  return true;
}

function contentChanged(a: ManifestEntry, b: ManifestEntry): boolean {
  if (a.type !== b.type) return true;
  if (a.type === 'file' && b.type === 'file') return a.sha256 !== b.sha256;
  if (a.type === 'symlink' && b.type === 'symlink') return a.target !== b.target;
  return false;
}

/** Merge-walks two sorted manifests: O(n + m), no hashing, no I/O. */
export function diffManifests(a: Manifest, b: Manifest): ManifestDiff {
  const out: ManifestDiff = { added: [], modified: [], deleted: [] };
  const ea = a.entries;
  const eb = b.entries;
  let i = 0;
  let j = 0;
  while (i < ea.length || j < eb.length) {
    const x = ea[i];
    const y = eb[j];
    const c = x === undefined ? 1 : y === undefined ? -1 : comparePaths(x.path, y.path);
    if (c < 0) {
      out.deleted.push(x as ManifestEntry);
      i++;
    } else if (c > 0) {
      out.added.push(y as ManifestEntry);
      j++;
    } else {
      const xa = x as ManifestEntry;
      const yb = y as ManifestEntry;
      if (!sameEntry(xa, yb)) out.modified.push({ path: xa.path, before: xa, after: yb, contentChanged: contentChanged(xa, yb) });
      i++;
      j++;
    }
  }
  return out;
}

/** Lines of a text, keeping track of whether the last one had a trailing newline. */
function splitLines(text: string): { lines: string[]; noEol: boolean } {
  if (text === '') return { lines: [], noEol: false };
  const noEol = !text.endsWith('\n');
  const lines = (noEol ? text : text.slice(0, -1)).split('\n');
  return { lines, noEol };
}

type Op = { kind: ' ' | '-' | '+'; a: number; b: number };

/**
 * Myers' O((N+M)·D) shortest edit script over lines. Returns null when the edit distance exceeds
 * `maxEdits` (the caller then reports "files differ" instead of a patch).
 */
export function myersDiff(a: readonly string[], b: readonly string[], maxEdits = 10_000): Op[] | null {
  // The common head and tail are not part of any edit: only the middle needs the search, and a pure
  // insertion or deletion (a new or removed file, lines appended) needs none, whatever its size.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const same = (from: number, count: number, ops: Op[], da: number, db: number): void => {
    for (let i = 0; i < count; i++) ops.push({ kind: ' ', a: from + i + da, b: from + i + db });
  };
  const ops: Op[] = [];
  same(0, head, ops, 0, 0);
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  if (midA.length === 0 || midB.length === 0) {
    for (let i = 0; i < midA.length; i++) ops.push({ kind: '-', a: head + i, b: head });
    for (let i = 0; i < midB.length; i++) ops.push({ kind: '+', a: head + midA.length, b: head + i });
  } else {
    const mid = myersMiddle(midA, midB, maxEdits);
    if (mid === null) return null;
    for (const op of mid) ops.push({ kind: op.kind, a: op.a + head, b: op.b + head });
  }
  same(0, tail, ops, a.length - tail, b.length - tail);
  return ops;
}

/**
 * Myers' search and backtrack. Each saved frontier keeps only the diagonals that round can reach
 * (2d+3 entries), so memory grows with the edit distance, not with the files' length.
 */
function myersMiddle(a: readonly string[], b: readonly string[], maxEdits: number): Op[] | null {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, maxEdits);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number))) x = v[offset + k + 1] as number;
      else x = (v[offset + k - 1] as number) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    if (found >= 0) break;
  }
  if (found < 0) return null;
  // Backtrack through the saved frontiers.
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const saved = trace[d] as Int32Array;
    // saved[i] is the frontier's diagonal i - d - 1.
    const at = (diag: number): number => saved[diag + d + 1] as number;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      ops.push({ kind: ' ', a: x, b: y });
    }
    if (down) {
      y--;
      ops.push({ kind: '+', a: x, b: y });
    } else {
      x--;
      ops.push({ kind: '-', a: x, b: y });
    }
  }
  while (x > 0 && y > 0) {
    x--;
    y--;
    ops.push({ kind: ' ', a: x, b: y });
  }
  return ops.reverse();
}

/**
 * A unified diff (`diff -u` format, `context` lines around each change) of two texts, or '' when
 * they are equal, or null when the edit distance exceeds `maxEdits`.
 */
export function unifiedDiff(oldText: string, newText: string, opts: { oldName?: string; newName?: string; context?: number; maxEdits?: number } = {}): string | null {
  if (oldText === newText) return '';
  const ctx = opts.context ?? 3;
  const A = splitLines(oldText);
  const B = splitLines(newText);
  const ops = myersDiff(A.lines, B.lines, opts.maxEdits);
  if (ops === null) return null;
  const out: string[] = [`--- ${opts.oldName ?? 'a'}`, `+++ ${opts.newName ?? 'b'}`];
  const lineOf = (op: Op): string => {
    const text = op.kind === '+' ? (B.lines[op.b] as string) : (A.lines[op.a] as string);
    const last = op.kind === '+' ? op.b === B.lines.length - 1 && B.noEol : op.a === A.lines.length - 1 && A.noEol;
    // An op on both sides (' ') ends without EOL only if both files do; otherwise show as change.
    return `${op.kind}${text}${last ? '\n\\ No newline at end of file' : ''}`;
  };
  // Treat the last line as changed when only one side lacks a final newline.
  if (A.noEol !== B.noEol) {
    for (let i = ops.length - 1; i >= 0; i--) {
      const op = ops[i] as Op;
      if (op.kind === ' ' && (op.a === A.lines.length - 1 || op.b === B.lines.length - 1)) {
        ops.splice(i, 1, { kind: '-', a: op.a, b: op.b }, { kind: '+', a: op.a, b: op.b });
        break;
      }
    }
  }
  let i = 0;
  while (i < ops.length) {
    while (i < ops.length && (ops[i] as Op).kind === ' ') i++;
    if (i >= ops.length) break;
    let start = Math.max(0, i - ctx);
    let end = i;
    // Extend the hunk while the next change is within 2*ctx unchanged lines.
    for (;;) {
      while (end < ops.length && (ops[end] as Op).kind !== ' ') end++;
      let k = end;
      while (k < ops.length && (ops[k] as Op).kind === ' ' && k - end < 2 * ctx + 1) k++;
      if (k < ops.length && (ops[k] as Op).kind !== ' ' && k - end <= 2 * ctx) {
        end = k;
        continue;
      }
      end = Math.min(ops.length, end + ctx);
      break;
    }
    const hunk = ops.slice(start, end);
    const first = hunk[0] as Op;
    const aStart = first.a;
    const bStart = first.b;
    const aLen = hunk.filter((o) => o.kind !== '+').length;
    const bLen = hunk.filter((o) => o.kind !== '-').length;
    const range = (s: number, len: number): string => (len === 1 ? `${s + 1}` : `${len === 0 ? s : s + 1},${len}`);
    out.push(`@@ -${range(aStart, aLen)} +${range(bStart, bLen)} @@`);
    for (const op of hunk) out.push(lineOf(op));
    i = end;
    start = end;
  }
  return out.join('\n') + '\n';
}

/** Heuristic used by `git`/`diff`: text when there is no NUL in the first 8 KiB and it decodes as UTF-8. */
export function isProbablyText(buf: Uint8Array): boolean {
  if (buf.subarray(0, 8192).includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return true;
  } catch {
    return false;
  }
}
