import { createHash } from 'node:crypto';
import { AirlockError, outputBytes } from '@airlock/proto';
import type { LogEvent } from '@airlock/proto';
import { verifyBundle } from '@airlock/trust';
import { PolicySchema, createValidator, type Policy, type Validator } from '@airlock/validate';
import type { Airlock } from '@airlock/client';

export interface ReplayOptions {
  /** First step to re-run (the workspace is restored from the snapshot after the step before). Default 1. */
  fromStep?: number;
  /** Replay even though the harness now enforces another policy than the run was pinned to. */
  allowPolicyChange?: boolean;
  /** Also re-run the steps the run's policy marks non-idempotent (`replay.nonIdempotent`). */
  includeNonIdempotent?: boolean;
  onStep?: (row: ReplayStep) => void;
}

export interface ReplayStep {
  step: number;
  cmd: string;
  status: 'match' | 'differs' | 'skipped' | 'refused';
  reason?: string;
  exitCode?: { recorded: number | null; replayed: number | null };
  output?: { recorded: string; replayed: string; same: boolean };
  workspace?: { recorded: string | undefined; replayed: string | undefined; same: boolean };
}

export interface ReplayReport {
  runId: string;
  replayRunId: string;
  fromStep: number;
  policyChanged: boolean;
  steps: ReplayStep[];
  matched: number;
  differed: number;
  skipped: number;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Replays a run in isolation, fail-closed: the run's proof bundle must verify under the harness's key
 * and its policy must be the one the harness enforces now (unless a change is allowed, and then it is
 * recorded in the replay run's record). The workspace after step N-1 is restored into a fresh sandbox
 * (no network) and the recorded commands re-run; each step reports whether exit code, output and the
 * resulting workspace match. Steps the run's own (pinned) policy marks non-idempotent are skipped
 * unless asked.
 */
export async function replayRun(client: Airlock, runId: string, opts: ReplayOptions = {}): Promise<ReplayReport> {
  const fromStep = opts.fromStep ?? 1;
  const status = await client.status();
  const bundle = await client.bundle(runId);
  const verified = verifyBundle(bundle.text, { trustedKeyId: status.harness.keyId });
  if (!verified.ok) throw new AirlockError('verification_failed', `run ${runId} fails verification (${verified.problem.code}): ${verified.problem.message}; not replaying`);
  const policyChanged = verified.policyHash !== status.harness.policyHash;
  if (policyChanged && !opts.allowPolicyChange) {
    throw new AirlockError('policy_changed', `run ${runId} was pinned to policy ${verified.policyHash.slice(0, 12)}, the harness enforces ${status.harness.policyHash.slice(0, 12)}; pass --allow-policy-change to replay anyway (it is recorded)`);
  }

  // The run's pinned policy, as the verified bundle carries it, decides which steps are non-idempotent.
  const pinned = PolicySchema.parse(JSON.parse(verified.policyText));
  const validator = await createValidator({ policy: pinned });

  // Replay exactly what was verified: a second read of the live log could differ from the bundle.
  const events = verified.log;
  const recorded = new Map<number, { cmd: string; secrets: string[]; exit?: number | null; out: Buffer[]; snapshot?: string; ran: boolean }>();
  let opened: Extract<LogEvent, { type: 'run.opened' }> | undefined;
  for (const e of events) {
    if (e.type === 'run.opened') opened = e;
    if (e.type === 'step.requested') recorded.set(e.step, { cmd: e.cmd, secrets: e.secrets ?? [], out: [], ran: false });
    const r = 'step' in e && typeof e.step === 'number' ? recorded.get(e.step) : undefined;
    if (e.type === 'step.output' && r) r.out.push(outputBytes(e));
    if (e.type === 'step.exited' && r) {
      r.exit = e.result.exitCode;
      r.ran = true;
    }
    if (e.type === 'snapshot.created' && r) r.snapshot = e.digest;
  }
  const before = events.filter((e): e is Extract<LogEvent, { type: 'snapshot.created' }> => e.type === 'snapshot.created' && e.step === fromStep - 1).at(-1);
  if (!before) throw new AirlockError('bad_request', `run ${runId} has no snapshot after step ${fromStep - 1} to start the replay from`);

  const replay = await client.open({
    fromSnapshot: before.digest,
    ...(opened ? { image: opened.image, mountPath: opened.mountPath } : {}),
    replayOf: { runId, fromStep, originalPolicyHash: verified.policyHash, policyChangeAllowed: policyChanged },
  });
  const rows: ReplayStep[] = [];
  try {
    for (const [step, r] of [...recorded.entries()].sort(([a], [b]) => a - b)) {
      if (step < fromStep || !r.ran) continue;
      // A file tool's step (`airlock:file.write …`) is not a command, and its content is in the snapshots, not the log.
      const why = r.cmd.startsWith('airlock:file.') ? 'a file-tool step (replay re-runs commands only)' : nonIdempotent(validator, r.cmd, r.secrets);
      let row: ReplayStep;
      if (why !== null && (!opts.includeNonIdempotent || r.cmd.startsWith('airlock:file.'))) {
        row = { step, cmd: r.cmd, status: 'skipped', reason: `non-idempotent: ${why}` };
      } else {
        const out: Buffer[] = [];
        try {
          const res = await replay.exec(r.cmd, { onOutput: (_, d) => out.push(d) });
          const recOut = sha(Buffer.concat(r.out));
          const repOut = sha(Buffer.concat(out));
          const same = { exit: res.exitCode === (r.exit ?? null), out: recOut === repOut, ws: res.snapshot === r.snapshot };
          row = {
            step,
            cmd: r.cmd,
            status: same.exit && same.out && same.ws ? 'match' : 'differs',
            exitCode: { recorded: r.exit ?? null, replayed: res.exitCode },
            output: { recorded: recOut, replayed: repOut, same: same.out },
            workspace: { recorded: r.snapshot, replayed: res.snapshot, same: same.ws },
          };
        } catch (err) {
          row = { step, cmd: r.cmd, status: 'refused', reason: (err as Error).message };
        }
      }
      rows.push(row);
      opts.onStep?.(row);
    }
  } finally {
    await client.close(replay.runId);
  }
  return {
    runId,
    replayRunId: replay.runId,
    fromStep,
    policyChanged,
    steps: rows,
    matched: rows.filter((r) => r.status === 'match').length,
    differed: rows.filter((r) => r.status === 'differs' || r.status === 'refused').length,
    skipped: rows.filter((r) => r.status === 'skipped').length,
  };
}

/**
 * Why the policy marks a recorded step non-idempotent, or null. Commands are the ones the validation
 * chain finds in the command (after unwrapping `bash -c`, `env`, pipelines, substitutions…), not words:
 * `echo curl` runs no network tool. A command the chain cannot analyse fully under the pinned policy
 * (anything but `allow`, e.g. an approved `ask`) is treated as non-idempotent: what it runs is unknown.
 */
export function nonIdempotent(validator: Validator, cmd: string, secrets: readonly string[]): string | null {
  const policy: Policy = validator.policy;
  const rule = policy.replay.nonIdempotent;
  if (rule.secrets && secrets.length > 0) return `asked for secrets ${secrets.join(', ')}`;
  const verdict = validator.validate(cmd);
  const runs = new Set(verdict.commands);
  const named = (list: readonly string[]) => list.find((c) => runs.has(c));
  const net = rule.network ? named(policy.network.tools) : undefined;
  if (net) return `uses the network tool ${net}`;
  const listed = named(rule.commands);
  if (listed) return `runs ${listed} (policy replay.nonIdempotent.commands)`;
  if (verdict.verdict !== 'allow') return `what it runs cannot be fully known (${verdict.rule}: ${verdict.reason})`;
  return null;
}
