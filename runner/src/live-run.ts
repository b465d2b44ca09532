import type { SandboxLimits, SandboxRuntime } from '@airlock/proto';
import type { RunLogWriter } from '@airlock/ledger';
import type { Validator } from '@airlock/validate';
import type { SnapshotState } from '@airlock/snapshot';
import type { PreparedWorkspace } from './workspace.ts';
import type { SessionFacts } from './exec/session.ts';
import type { RunEgress } from './egress/run-egress.ts';

/** A run this runner holds: its sandbox, workspace, log and pinned policy. */
export interface LiveRun {
  runId: string;
  image: string;
  mountPath: string;
  env: Record<string, string>;
  limits: SandboxLimits;
  /** The OCI runtime of the run's sandboxes, from its pinned policy (`runc` or `runsc`). */
  runtime: SandboxRuntime;
  workspace: PreparedWorkspace;
  /** null: the sandbox died; the next step starts a fresh one on the same workspace. */
  containerId: string | null;
  containerSeq: number;
  /** The warm-pool slot its first sandbox came from (pool.ts): unmounted when the run ends. */
  poolSlot?: string | undefined;
  /** The step-0 snapshot of a run opened from the pool, taken after the reply: its first step waits for it. */
  firstSnapshot?: Promise<unknown> | undefined;
  busy: boolean;
  log: RunLogWriter;
  /** Closes the run's own log connection (its grant, in operator-mode NATS). Never rejects. */
  closeLog: () => Promise<void>;
  /** The run's pinned policy hash and its validation chain (workspace = the run's mount path). */
  policyHash: string;
  validator: Validator;
  /** The step running now and what its shell reported so far (its pid: signals go to its group). */
  session?: { step: number; facts: SessionFacts; /** When its timeout ends it (ms since the epoch): egress asks wait no longer. */ endsAt?: number } | undefined;
  /** Stat cache of the last snapshot: the next one hashes only what changed. */
  snap: SnapshotState | undefined;
  /** The run's egress proxy (policy `network.mode: proxy`); absent: no network at all. */
  egress?: RunEgress | undefined;
  /** The last CPU reading of the run's sandbox (cpu.ts): the next step's CPU time is the difference. */
  cpu?: { containerId: string; usec: number } | undefined;
}
