/**
 * Every NATS subject, stream, bucket and queue-group name Airlock uses, in one place.
 * Subjects are versioned (`airlock.v1.…`) so two protocol versions can share one NATS.
 */
const ROOT = 'airlock.v1';

export const subjects = {
  /** Harness API (request/reply), used by the CLI and the SDK. */
  api: {
    open: `${ROOT}.api.open`,
    exec: `${ROOT}.api.exec`,
    close: `${ROOT}.api.close`,
    ps: `${ROOT}.api.ps`,
    status: `${ROOT}.api.status`,
    bundle: `${ROOT}.api.bundle`,
    /** Operator controls: list held (`ask`) steps, and approve or reject one. */
    approvals: `${ROOT}.api.approvals`,
    /** Operator-only subjects live under `api.op.`: an agent's NATS user may not publish there at all. */
    decide: `${ROOT}.api.op.decide`,
    /** Pause, resume, cancel, kill, raise budgets (operators). */
    control: `${ROOT}.api.op.control`,
    /** Retry a step on a branch run; rollback jobs (plan, approve, apply) (operators). */
    retry: `${ROOT}.api.op.retry`,
    rollback: `${ROOT}.api.op.rollback`,
    /** A run's governance state (fold of its log): state, budgets used, pause cause. */
    runState: `${ROOT}.api.state`,
    /** File tools (read, write, edit, list, stat) as steps; long-running processes. */
    file: `${ROOT}.api.file`,
    poll: `${ROOT}.api.poll`,
    signal: `${ROOT}.api.signal`,
    processes: `${ROOT}.api.processes`,
    /** What changed in a run's workspace between two steps (computed by the harness from the snapshots). */
    diff: `${ROOT}.api.diff`,
    /** A NATS user that may read one run's log (agents' own runs; others read with their own user). */
    reader: `${ROOT}.api.reader`,
    /** An agent client's own NATS user (the deployment's agent user may publish only this). */
    session: `${ROOT}.api.session`,
    /** A run's workspace after a step, read through the harness (agents have no right on the snapshot stores). */
    snapshot: `${ROOT}.api.snapshot`,
  },
  /** Subjects only operators (and admins) may publish. */
  operatorApi: `${ROOT}.api.op.>`,
  /** Subjects only admins may publish. */
  adminApi: `${ROOT}.api.admin.>`,
  /** New runs are offered to runners on this subject through a queue group. */
  runnerOpen: `${ROOT}.runner.open`,
  /** Per-runner subjects: later steps of a run go to the runner that holds it. */
  runnerExec: (runnerId: string) => `${ROOT}.runner.${runnerId}.exec`,
  runnerClose: (runnerId: string) => `${ROOT}.runner.${runnerId}.close`,
  runnerFile: (runnerId: string) => `${ROOT}.runner.${runnerId}.file`,
  runnerSignal: (runnerId: string) => `${ROOT}.runner.${runnerId}.signal`,
  runnerRollback: (runnerId: string) => `${ROOT}.runner.${runnerId}.rollback`,
  /** The harness publishes its heartbeat here (core NATS), so a waiting client notices a dead harness. */
  harnessHeartbeat: `${ROOT}.harness.heartbeat`,
  /** Every runner publishes its heartbeat here (core NATS). */
  runnerHeartbeat: `${ROOT}.heartbeat`,
  /**
   * A runner asks the harness for the right to write one run's log (operator-mode NATS): only that
   * runner's user may publish on its own subject, so the subject names the asker.
   */
  logGrant: (runnerId: string) => `${ROOT}.grant.${runnerId}`,
  logGrantAll: `${ROOT}.grant.*`,
  /** A runner asks the harness about a connection its proxy holds (policy `network.unlisted: ask`); the subject names the asker. */
  egressAsk: (runnerId: string) => `${ROOT}.egress.${runnerId}`,
  egressAskAll: `${ROOT}.egress.*`,
  /** The durable run log: one subject per run. */
  log: (runId: string) => `${ROOT}.log.${runId}`,
  logAll: `${ROOT}.log.>`,
  /** Audit index: one message per verdict, by verdict, so reviewers can read denials without scanning output. */
  audit: (verdict: string, runId: string) => `${ROOT}.audit.${verdict}.${runId}`,
  auditAll: `${ROOT}.audit.>`,
} as const;

export const names = {
  /** JetStream stream that holds every event of every run. */
  logStream: 'AIRLOCK_LOG',
  /** KV bucket: runId -> RunRecord. */
  runsBucket: 'airlock_runs',
  /**
   * Key in the policies bucket (next to the policy hashes) holding the deployment id the harness chose
   * when it first started on this NATS: runners label their sandboxes with it and sweep only those.
   */
  deploymentKey: 'deployment',
  /** KV bucket: policy hash -> canonical policy JSON (content-addressed, written by the harness only). */
  policiesBucket: 'airlock_policies',
  /** Object store bucket of proof bundles the harness built (the CLI downloads them). */
  bundlesBucket: 'airlock_bundles',
  /** JetStream stream indexing every verdict (copies of the run log's `step.verdict` events). */
  auditStream: 'AIRLOCK_AUDIT',
  /**
   * KV bucket: runId -> the live log grant of that run (runner id and the grant user's public key,
   * never its seed), so whichever harness sees the run move or close revokes it, across restarts.
   */
  logGrantsBucket: 'airlock_log_grants',
  /** KV bucket: `<runId>.<step>` -> Approval (steps held by an `ask` verdict, and their decisions). */
  approvalsBucket: 'airlock_approvals',
  /** NATS header of a run-log message: its writer's signature over the stored bytes (who wrote it, checked by the harness). */
  logSignatureHeader: 'Airlock-Sig',
  /** Queue group runners join to take new runs. */
  runnerQueue: 'airlock-runners',
} as const;

/** Run ids are ULIDs: 26 Crockford base32 characters, sortable by creation time. */
export const RUN_ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Runner ids become subject tokens: keep them to safe characters. */
export const RUNNER_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Reply-subject prefix of a runner's own requests (JetStream API, KV, object store): NATS lets only
 * that runner's user subscribe there, so no other runner reads its replies.
 */
export function runnerInboxPrefix(runnerId: string): string {
  return `_INBOX_${runnerId}`;
}
