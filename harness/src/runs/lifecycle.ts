import { ulid } from 'ulid';
import { AirlockError, PROTOCOL_VERSION, RunnerCloseResultSchema, subjects } from '@airlock/proto';
import type { ApiCloseRequest, ApiOpenRequest, ApiPsRequest, ApiPsResult, RunRecord, RunnerOpenRequest } from '@airlock/proto';
import type { ApprovalBook } from '../approvals/book.ts';
import type { HarnessContext } from '../context.ts';
import type { PolicyGate } from '../policy/gate.ts';
import { askRunner } from '../routing/ask.ts';
import type { RunnerFleet } from '../routing/fleet.ts';
import type { RunnerKeyStore } from '../routing/runner-keys.ts';
import type { RunLogs } from '../run-logs.ts';
import type { RunRecords } from './records.ts';

/** Opening, listing and closing runs: a run's record from the first open to its close reason. */
export class RunLifecycle {
  readonly #ctx: HarnessContext;
  readonly #records: RunRecords;
  readonly #logs: RunLogs;
  readonly #fleet: RunnerFleet;
  readonly #gate: PolicyGate;
  readonly #approvals: ApprovalBook;
  readonly #runnerKeys: RunnerKeyStore;

  constructor(ctx: HarnessContext, deps: { records: RunRecords; logs: RunLogs; fleet: RunnerFleet; gate: PolicyGate; approvals: ApprovalBook; runnerKeys: RunnerKeyStore }) {
    this.#ctx = ctx;
    this.#records = deps.records;
    this.#logs = deps.logs;
    this.#fleet = deps.fleet;
    this.#gate = deps.gate;
    this.#approvals = deps.approvals;
    this.#runnerKeys = deps.runnerKeys;
  }

  async open(req: ApiOpenRequest): Promise<RunRecord> {
    const { cfg } = this.#ctx;
    const { policy, policyHash } = this.#gate.validator;
    const runId = ulid();
    const body: RunnerOpenRequest = {
      v: PROTOCOL_VERSION,
      runId,
      image: req.image ?? cfg.defaultImage,
      ...(req.workspace ? { workspace: req.workspace } : {}),
      // The policy's workspace unless the request or the harness's configuration names another.
      mountPath: req.mountPath ?? cfg.mountPath ?? policy.workspace,
      env: req.env ?? {},
      limits: this.#gate.limits(),
      runtime: policy.runtime,
      network: 'none',
      policyHash,
      ...(req.fromSnapshot ? { fromSnapshot: req.fromSnapshot } : {}),
    };
    const opened = await this.#fleet.open(body);
    const record: RunRecord = {
      runId,
      runnerId: opened.runnerId,
      status: 'open',
      image: body.image,
      workspace: opened.workspace,
      mountPath: body.mountPath,
      openedAt: new Date().toISOString(),
      steps: 0,
      policyHash,
      ...(req.fromSnapshot ? { fromSnapshot: req.fromSnapshot } : {}),
      ...(req.replayOf ? { replayOf: req.replayOf } : {}),
      env: req.env ?? {},
      moves: 0,
      ...(req.keepCwd ? { keepCwd: true } : {}),
    };
    await this.#records.create(record);
    this.#ctx.log.info({ runId, runnerId: opened.runnerId }, 'run opened');
    return record;
  }

  async close(req: ApiCloseRequest): Promise<RunRecord> {
    const { record } = await this.#records.get(req.runId, { fresh: true });
    if (record.status === 'closed') return record;
    let loggedByRunner = true;
    try {
      await askRunner(this.#ctx.nats.nc, subjects.runnerClose(record.runnerId), { v: PROTOCOL_VERSION, runId: req.runId, reason: 'closed by request' }, RunnerCloseResultSchema, 60_000, {
        verify: (raw) => this.#runnerKeys.verify('close', record.runnerId, req.runId, 0, raw),
      });
    } catch (err) {
      // The runner is gone or forgot the run: the run is closed all the same, and the log says why.
      if (!(err instanceof AirlockError) || !['no_runner', 'unknown_run', 'timeout'].includes(err.code)) throw err;
      loggedByRunner = false;
      this.#ctx.log.warn({ runId: req.runId, err }, 'runner did not close the run');
    }
    const closed: RunRecord = { ...record, status: 'closed', closedAt: new Date().toISOString(), closeReason: 'closed by request' };
    if (!loggedByRunner) await this.#logs.writer(req.runId).append({ type: 'run.closed', reason: `closed by request; runner ${record.runnerId} did not answer` });
    await this.#records.putFinal(closed);
    this.#logs.forget(req.runId);
    await this.#approvals.expire(req.runId, 'closed by request');
    return closed;
  }

  /** Ends a run that cannot go on, with the reason in its log and record. */
  async fail(record: RunRecord, reason: string): Promise<void> {
    await this.#logs.writer(record.runId).append({ type: 'run.closed', reason });
    await this.#records.putFinal({ ...record, status: 'closed', closedAt: new Date().toISOString(), closeReason: reason });
    await this.#approvals.expire(record.runId, reason);
    this.#ctx.log.warn({ runId: record.runId, reason }, 'run failed');
  }

  async ps(req: ApiPsRequest): Promise<ApiPsResult> {
    return { runs: await this.#records.list(req.all ?? false) };
  }
}
