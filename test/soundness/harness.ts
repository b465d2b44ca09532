// The differential soundness harness: runs commands in throwaway sandboxes under strace and compares
// what bash did with what the validation chain said (judge.ts). One container per batch, a driver loop
// inside it (sandbox-images/soundness/driver.py); every docker call holds the machine's docker lock.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Validator, Verdict } from '@airlock/validate';
import { DECOYS, HOME, HOME_FILES, isProtected, judge, WORKSPACE, WORKSPACE_FILES, type Bug, type Judgement, type Prediction } from './judge.ts';
import { parseTrace, type Observed } from './trace.ts';
import { SOUNDNESS_IMAGE } from './image.ts';

/** The syscalls traced: process tree, exec, file access by name, cwd, connect. */
export const SYSCALLS = [
  'execve', 'execveat', 'clone', 'clone3', 'fork', 'vfork', 'open', 'openat', 'openat2', 'creat', 'unlink', 'unlinkat',
  'rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink', 'symlinkat', 'truncate', 'chdir', 'fchdir', 'connect',
  // Not judged; they tell the driver a command changed the prepared trees (it restores them only then).
  'mkdir', 'mkdirat', 'rmdir', 'chmod', 'fchmod', 'fchmodat', 'chown', 'fchown', 'lchown', 'fchownat', 'utimensat',
].join(',');

/** One command to run, with where it came from. */
export interface Case {
  readonly id: string;
  readonly cmd: string;
  readonly source: 'hostile' | 'benign' | 'variant' | 'control';
  readonly category?: string;
  readonly transform?: string;
  /** For variants: the case id of the original. */
  readonly originalId?: string;
  readonly adds?: readonly string[];
  readonly renames?: Readonly<Record<string, string>>;
}

export interface RunInfo {
  readonly rc: number;
  readonly ms: number;
  readonly timedOut: boolean;
  readonly clean: boolean;
}

/** One command's line in the report. */
export interface CaseResult {
  readonly id: string;
  readonly cmd: string;
  readonly source: Case['source'];
  readonly category?: string;
  readonly transform?: string;
  readonly originalId?: string;
  readonly verdict: Prediction['verdict'];
  readonly rule: string;
  readonly predicted: { readonly exec: readonly string[]; readonly network: boolean; readonly opaque: boolean; readonly source: Prediction['source'] };
  readonly observed: Omit<Judgement, 'bugs'>;
  readonly bugs: readonly Bug[];
  /** Bugs a legacy opaque rule hides (would be counted without {@link LEGACY_OPAQUE_RULES}); not counted as bugs. */
  readonly legacyOpaque?: { readonly rule: string; readonly hidden: readonly Bug[] };
  readonly run: RunInfo | undefined;
  /** The parsed trace, reduced to what the judge reads (files: decoys and protected paths only), to judge again offline. */
  readonly trace?: Observed;
}

/** `obs` without the file events no rule looks at (library loads, /dev/null): small enough for the report. */
export function compact(obs: Observed): Observed {
  return { execs: obs.execs, files: obs.files.filter((f) => isProtected(f.path)), connects: obs.connects };
}

type VerdictWithEffects = Verdict & { readonly effects?: { readonly exec: readonly string[]; readonly network: readonly string[]; readonly opaque: readonly unknown[] } };

/**
 * Rules that already mean "the chain cannot know what runs" although they predate the `opaque.*` ids:
 * input the parser never saw, parse disagreements, command names or scripts computed at run time.
 * The harness treats them as opaque markers and reports separately what they hide (`legacyOpaque`).
 */
export const LEGACY_OPAQUE_RULES: ReadonlySet<string> = new Set([
  'internal.error', 'internal.timeout', 'parse.error', 'parse.repaired', 'parse.differential', 'parse.depth_limit',
  'obfuscation.dynamic_command', 'obfuscation.variable_command', 'obfuscation.indirect_expansion', 'obfuscation.ifs',
  'obfuscation.param_slice', 'obfuscation.glob_command', 'obfuscation.brace_expansion', 'obfuscation.nameref',
  'obfuscation.decode_exec', 'interp.obfuscated_exec', 'exec.dynamic_script', 'exec.stdin_script', 'exec.remote_code',
]);

/** The legacy rule that makes `v` opaque, if any (see {@link LEGACY_OPAQUE_RULES}). */
export function legacyOpaque(v: Verdict): string | undefined {
  if (v.verdict === 'allow') return undefined;
  for (const f of v.findings) if (f.rule.startsWith('input.') || LEGACY_OPAQUE_RULES.has(f.rule)) return f.rule;
  return undefined;
}

/** The chain's verdict reduced to a prediction: `effects` when the chain has it, else `commands`. */
export function predict(v: VerdictWithEffects, networkTools: ReadonlySet<string>): Prediction {
  const opaque = (v.effects?.opaque.length ?? 0) > 0 || v.findings.some((f) => f.rule.startsWith('opaque.')) || legacyOpaque(v) !== undefined;
  if (v.effects) {
    return { verdict: v.verdict, rule: v.rule, opaque, exec: v.effects.exec, network: v.effects.network.length > 0, source: 'effects' };
  }
  const network = v.commands.some((c) => networkTools.has(c)) || v.findings.some((f) => /(^net\.|network|exfil\.|remote)/.test(f.rule));
  return { verdict: v.verdict, rule: v.rule, opaque, exec: v.commands, network, source: 'commands' };
}

/** The batch file the driver reads. */
function batchJson(cases: readonly Case[], timeoutSec: number): string {
  const home: Record<string, { content: string; mode: string }> = {};
  const workspace: Record<string, { content: string; mode: string }> = {};
  for (const [p, content] of Object.entries(HOME_FILES)) home[p] = { content, mode: '644' };
  for (const [p, content] of Object.entries(WORKSPACE_FILES)) workspace[p] = { content, mode: '644' };
  for (const d of DECOYS) {
    if (d.path.startsWith(`${HOME}/`)) home[d.path.slice(HOME.length + 1)] = { content: d.content, mode: d.mode };
    else if (d.path.startsWith(`${WORKSPACE}/`)) workspace[d.path.slice(WORKSPACE.length + 1)] = { content: d.content, mode: d.mode };
  }
  return JSON.stringify({ timeoutSec, syscalls: SYSCALLS, home, workspace, commands: cases.map((c) => ({ id: c.id, cmd: c.cmd })) });
}

function run(cmd: string, args: readonly string[], timeoutMs: number): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stderr: String(stderr) });
    });
  });
}

export interface BatchOptions {
  /** Seconds each command may run (then SIGKILL). */
  readonly timeoutSec: number;
  /** Hold /tmp/airlock-docker.lock around the container (the machine's rule for anything that starts one). */
  readonly lock: boolean;
  /** Container label; the suites' `airlock.test=1` (their teardown removes leftovers with it) by default. */
  readonly label?: string;
}

/**
 * Runs `cases` in one throwaway container (network none, non-root commands, pids and memory capped) and
 * returns each trace's observation. A container that outlives its budget is killed; missing traces
 * come back as `undefined` (reported, never judged as clean).
 */
export async function runBatch(cases: readonly Case[], opts: BatchOptions): Promise<Map<string, { run: RunInfo; trace: string } | undefined>> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-soundness-'));
  const name = `airlock-soundness-${process.pid}-${Date.now()}`;
  try {
    writeFileSync(join(dir, 'batch.json'), batchJson(cases, opts.timeoutSec));
    const docker = [
      'run', '--rm', '--name', name, '--init', '--label', opts.label ?? `airlock.test=${process.env.AIRLOCK_TEST_SESSION ?? '1'}`, '--network', 'none', '--cap-add', 'SYS_PTRACE',
      '--pids-limit', '512', '--memory', '1g', '--cpus', '1.5', '-v', `${dir}:/io`, SOUNDNESS_IMAGE,
      'python3', '-I', '/opt/soundness/driver.py', '/io/batch.json',
    ];
    // Budget: every command at its timeout plus the per-command reset, and a minute to start.
    const budgetMs = 60_000 + cases.length * (opts.timeoutSec * 1000 + 400);
    const res = opts.lock ? await run('flock', ['/tmp/airlock-docker.lock', 'docker', ...docker], budgetMs) : await run('docker', docker, budgetMs);
    const out = new Map<string, { run: RunInfo; trace: string } | undefined>();
    if (res.code !== 0) {
      await run('docker', ['rm', '-f', name], 30_000);
      // The commands it did not reach come back without a trace (reported as such, never judged clean).
      console.error(`soundness container ${name} failed (${res.code}): ${res.stderr.slice(0, 500)}`);
      if (!existsSync(join(dir, 'results.jsonl'))) {
        for (const c of cases) out.set(c.id, undefined);
        return out;
      }
    }
    const infos = new Map<string, RunInfo>();
    for (const line of readFileSync(join(dir, 'results.jsonl'), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const r = JSON.parse(line) as RunInfo & { id: string; error?: string };
      if (r.error) continue;
      infos.set(r.id, { rc: r.rc, ms: r.ms, timedOut: r.timedOut, clean: r.clean });
    }
    for (const c of cases) {
      const info = infos.get(c.id);
      const tracePath = join(dir, `${c.id}.trace`);
      out.set(c.id, info && existsSync(tracePath) ? { run: info, trace: readFileSync(tracePath, 'utf8') } : undefined);
    }
    return out;
  } finally {
    if (!process.env.SOUNDNESS_KEEP) rmSync(dir, { recursive: true, force: true });
    else console.error(`traces kept in ${dir}`);
  }
}

/** Holds the machine's docker lock (/tmp/airlock-docker.lock) while `fn` runs. */
export async function withDockerLock<T>(fn: () => Promise<T>): Promise<T> {
  const holder = spawn('flock', ['/tmp/airlock-docker.lock', 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`flock exited with ${code} before taking the lock`)));
  });
  try {
    return await fn();
  } finally {
    const exited = new Promise((r) => holder.once('exit', r));
    holder.stdin.end();
    await exited;
  }
}

/** The chain's verdict for `c` next to its observed run (`obs` undefined: no trace). */
export function judgeCase(c: Case, validator: Validator, networkTools: ReadonlySet<string>, run: RunInfo | undefined, obs: Observed | undefined): CaseResult {
  const verdict = validator.validate(c.cmd) as VerdictWithEffects;
  const pred = predict(verdict, networkTools);
  const j = obs ? judge(pred, obs) : { execs: [], secretReads: [], protectedWrites: [], connects: [], bugs: [] };
  const legacy = legacyOpaque(verdict);
  const hidden = legacy && obs && !verdict.effects?.opaque.length ? judge({ ...pred, opaque: false }, obs).bugs : [];
  return {
    id: c.id,
    cmd: c.cmd,
    source: c.source,
    ...(c.category ? { category: c.category } : {}),
    ...(c.transform ? { transform: c.transform, originalId: c.originalId } : {}),
    verdict: pred.verdict,
    rule: pred.rule,
    predicted: { exec: pred.exec, network: pred.network, opaque: pred.opaque, source: pred.source },
    observed: { execs: j.execs, secretReads: j.secretReads, protectedWrites: j.protectedWrites, connects: j.connects },
    bugs: j.bugs,
    ...(legacy && hidden.length ? { legacyOpaque: { rule: legacy, hidden } } : {}),
    run,
    ...(obs ? { trace: compact(obs) } : {}),
  };
}

/**
 * Runs and judges `cases` in batches of `batchSize`, `parallel` containers at a time (each group of
 * containers under one hold of the docker lock when `lock`); `onBatch` sees progress.
 */
export async function runCases(
  cases: readonly Case[],
  validator: Validator,
  opts: BatchOptions & { readonly batchSize: number; readonly parallel?: number; readonly onBatch?: (done: number, total: number, results: readonly CaseResult[]) => void },
): Promise<CaseResult[]> {
  const networkTools = new Set(validator.policy.network.tools);
  const results: CaseResult[] = [];
  const parallel = Math.max(1, opts.parallel ?? 1);
  const group = opts.batchSize * parallel;
  for (let i = 0; i < cases.length; i += group) {
    const slice = cases.slice(i, i + group);
    const shards: Case[][] = [];
    for (let k = 0; k < slice.length; k += opts.batchSize) shards.push(slice.slice(k, k + opts.batchSize));
    const runAll = async () => (await Promise.all(shards.map((sh) => runBatch(sh, { ...opts, lock: false })))).flatMap((m) => [...m]);
    const runs = new Map(opts.lock ? await withDockerLock(runAll) : await runAll());
    for (const c of slice) {
      const r = runs.get(c.id);
      results.push(judgeCase(c, validator, networkTools, r?.run, r ? parseTrace(r.trace) : undefined));
    }
    opts.onBatch?.(Math.min(i + group, cases.length), cases.length, results);
  }
  return results;
}

/**
 * What a run did, for comparing a variant with its original: programs executed (minus the ones the
 * rewrite adds, renamed copies mapped back), decoys read, protected files written, connections tried.
 */
export function behaviour(r: CaseResult, ignore: ReadonlySet<string>, renames: Readonly<Record<string, string>> = {}): string[] {
  const s = new Set<string>();
  for (const e of r.observed.execs) {
    if (e.status === 'root') continue;
    const name = renames[e.name] ?? e.name;
    if (!ignore.has(name)) s.add(`exec:${name}`);
  }
  for (const p of r.observed.secretReads) s.add(`read:${p}`);
  for (const p of r.observed.protectedWrites) s.add(`write:${p}`);
  for (const c of r.observed.connects) s.add(`connect:${c.replace(/^[^→]*→/, '')}`);
  return [...s].sort();
}
