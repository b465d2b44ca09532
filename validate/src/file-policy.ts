// The policy of the file tools (read, write, edit, list, stat without a shell): where a path lands,
// and what verdict an operation on it gets. Pure: the sandbox resolves symlinks; this file judges
// the paths it is given, lexically.
import { posix } from 'node:path';
import { z } from 'zod';
import { compilePolicy, globToRegex, type CompiledPolicy } from './compile.ts';
import type { Policy, VerdictKind } from './policy.ts';

/**
 * Workspace paths whose writes are held for an operator (`ask`) when a policy names none: files that
 * make tools or agents run something later (git hooks, CI workflows, agent and editor settings).
 * Workspace-relative globs; `**` crosses directories.
 */
export const DEFAULT_SENSITIVE_FILES: readonly string[] = [
  '.git/hooks/**',
  '.git/config',
  '.github/workflows/**',
  '.gitlab-ci.yml',
  '.circleci/**',
  '.claude/**',
  '**/.claude/**',
  '.codex/**',
  '**/.codex/**',
  '.cursor/**',
  '**/.cursor/**',
  '.mcp.json',
  '**/.mcp.json',
  '.vscode/settings.json',
  '.vscode/tasks.json',
  '.envrc',
  '.husky/**',
  '.pre-commit-config.yaml',
];

/** The `files` section of a policy. Absent: {@link DEFAULT_SENSITIVE_FILES} (and the hash of an older policy is unchanged). */
export const FilesPolicySchema = z.strictObject({
  /** Workspace-relative globs whose writes (write, edit) are `ask`. Replaces the default set. */
  sensitive: z.array(z.string().min(1)).optional(),
  /** Verdict for a write to a sensitive path (default `ask`; `deny` forbids it outright). */
  sensitiveVerdict: z.enum(['ask', 'deny']).optional(),
});
export type FilesPolicy = z.infer<typeof FilesPolicySchema>;

/** Where a requested path lands: inside the workspace (`rel`, `abs`), or outside it. */
export type ResolvedPath = { inside: true; rel: string; abs: string } | { inside: false; abs: string };

/**
 * Resolves `path` (workspace-relative, or absolute) against the workspace `root` lexically: `.`
 * and `..` are folded, `~` is not expanded (it is a file name here). The result is inside when it
 * is the root or below it. Symlinks are the sandbox's to resolve (the runner re-checks what it finds).
 */
export function resolveWorkspacePath(root: string, path: string): ResolvedPath {
  const base = posix.normalize(root).replace(/\/+$/, '') || '/';
  const abs = posix.normalize(path.startsWith('/') ? path : `${base}/${path}`).replace(/(.)\/+$/, '$1');
  if (abs === base) return { inside: true, rel: '.', abs };
  const prefix = base === '/' ? '/' : `${base}/`;
  if (!abs.startsWith(prefix)) return { inside: false, abs };
  return { inside: true, rel: abs.slice(prefix.length), abs };
}

/** A file operation as the policy sees it. */
export type FileAccess = 'read' | 'write' | 'list' | 'stat';

/** The verdict on one file operation, with a stable rule id and a reason that says what to do. */
export interface FileVerdict {
  verdict: VerdictKind;
  rule: string;
  reason: string;
}

/** A policy compiled for file checks: reuse one per policy. */
export interface FileChecker {
  /** The verdict on `access` to `path` in a workspace at `root`. */
  check(root: string, path: string, access: FileAccess): FileVerdict & { resolved: ResolvedPath };
}

const ORDER: Record<VerdictKind, number> = { allow: 0, ask: 1, deny: 2 };

/**
 * Compiles the file checks of a policy: a path outside the workspace is `deny`
 * (`file.outside_workspace`); a read or write the policy's path rules judge (the same rules bash
 * commands meet, e.g. `persistence.tool_config`) gets their verdict; a write to a sensitive path
 * (`files.sensitive`) is `ask` (`file.sensitive`). The strictest verdict wins.
 */
export function fileChecker(policy: Policy, compiled: CompiledPolicy = compilePolicy(policy)): FileChecker {
  const files = policy.files;
  const sensitive = (files?.sensitive ?? DEFAULT_SENSITIVE_FILES).map((g) => ({ glob: g, re: globToRegex(g) }));
  const sensitiveVerdict = files?.sensitiveVerdict ?? 'ask';
  return {
    check(root, path, access) {
      const resolved = resolveWorkspacePath(root, path);
      if (!resolved.inside) {
        return {
          verdict: 'deny',
          rule: 'file.outside_workspace',
          reason: `${path} is outside the workspace ${root} (it resolves to ${resolved.abs}); file tools work on workspace files only`,
          resolved,
        };
      }
      let best: FileVerdict = { verdict: 'allow', rule: 'policy.allow', reason: 'no rule matched' };
      const consider = (v: FileVerdict) => {
        if (ORDER[v.verdict] > ORDER[best.verdict]) best = v;
      };
      if (access === 'read' || access === 'write') {
        const set = access === 'read' ? compiled.readRules : compiled.writeRules;
        if (set.any.test(resolved.abs)) {
          for (const r of set.rules) {
            if (r.except?.test(resolved.abs) || !r.matcher.test(resolved.abs)) continue;
            consider({ verdict: compiled.verdictFor(r.rule.id, r.rule.verdict), rule: r.rule.id, reason: `${access} of ${resolved.rel}: ${r.rule.reason}` });
          }
        }
      }
      if (access === 'write') {
        const hit = sensitive.find((s) => s.re.test(resolved.rel));
        if (hit) {
          consider({
            verdict: compiled.verdictFor('file.sensitive', sensitiveVerdict),
            rule: 'file.sensitive',
            reason: `${resolved.rel} is a sensitive path (${hit.glob}): a change there makes tools or agents run something later`,
          });
        }
      }
      return { ...best, resolved };
    },
  };
}
