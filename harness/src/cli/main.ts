// `./airlock`: the command-line client. A thin layer over the SDK (`@airlock/client`), plus the snapshot
// store and the audit index for the operator's commands; `up`/`down` manage a local stack.
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { AirlockError, ROLES, outputBytes } from '@airlock/proto';
import type { LogEvent, Role, StepResult } from '@airlock/proto';
import type { Airlock, ExecResult } from '@airlock/client';
import { egressAuditRow } from './format-egress.ts';
import { addGovernanceCommands, positiveNumber } from './governance-commands.ts';
import { addControlCommands, controlAuditRow, rollbackAuditRow } from './control-commands.ts';
import { approvalDetails, decisionMeaning, heldId, parseHeldId } from './approval-format.ts';
import { alive, readRoleFile, readStack, withCredentials } from './stack-file.ts';
import { openSnapshotStore, remoteSnapshot } from './lazy.ts';
import { formatEvent, parseEnvPairs, exitCodeOf, patchLine, runStatus } from './format.ts';

/** Exit code for Airlock's own failures (like `docker run`), distinct from the command's codes. */
const EXIT_AIRLOCK_ERROR = 125;
/** Exit code when the caller's role or credential does not allow the request (like a shell's `permission denied`). */
const EXIT_FORBIDDEN = 77;
/** Exit code when the validation chain did not allow the command (deny, or held for approval). */
const EXIT_NOT_ALLOWED = 126;

const program = new Command('airlock')
  .description('Run AI agents\' shell commands in isolated Docker sandboxes, validated, snapshotted and logged durably.')
  .option('--nats <url>', 'NATS URL of the Airlock deployment (default: the one `up` started, else nats://127.0.0.1:4222)')
  .option('--state-dir <dir>', 'state directory [AIRLOCK_HOME]', process.env.AIRLOCK_HOME ?? resolve(homedir(), '.airlock'))
  .option('--json', 'machine-readable output: JSON lines')
  .addOption(new Option('--as <role>', 'act in this role with the credential `up` made for it [AIRLOCK_ROLE] (default operator; AIRLOCK_CREDENTIAL gives one directly)').choices([...ROLES]))
  .showHelpAfterError();
// The options above are global and count anywhere before `--`, also after the command
// (`./airlock run --json -- cmd`), as with gh, docker and kubectl: no positional options here.
// Commander stops at `--`, so the words of the sandboxed command are never read as options.

type Globals = { nats?: string; stateDir: string; json?: boolean; as?: Role };
const globals = () => program.opts<Globals>();

/**
 * Where to connect and as whom: `--as ROLE` (or AIRLOCK_ROLE) picks the role's NATS user and
 * credential from the stack `up` made; AIRLOCK_CREDENTIAL gives a credential directly (with the NATS
 * URL from --nats or AIRLOCK_NATS_URL); a local stack alone means the operator.
 */
function connection(defaultRole: Role = 'operator'): { natsUrl: string; credential?: string } {
  const g = globals();
  const stack = readStack(g.stateDir);
  const local = stack && alive(stack.pids.harness) ? stack : null;
  const role = g.as ?? (process.env.AIRLOCK_ROLE as Role | undefined);
  if (role && !(ROLES as readonly string[]).includes(role)) throw new AirlockError('bad_request', `AIRLOCK_ROLE is one of ${ROLES.join(', ')}, got ${JSON.stringify(role)}`);
  const explicit = g.nats ?? process.env.AIRLOCK_NATS_URL;
  if (process.env.AIRLOCK_CREDENTIAL && !g.as) return { natsUrl: explicit ?? local?.natsUrl ?? 'nats://127.0.0.1:4222', credential: process.env.AIRLOCK_CREDENTIAL };
  if (local?.rolesDir && (role || !explicit)) {
    const file = `${local.rolesDir}/${role ?? defaultRole}.json`;
    const rc = readRoleFile(file);
    return { natsUrl: explicit ?? withCredentials(local.natsUrl, rc), credential: rc.credential };
  }
  if (role) throw new AirlockError('bad_request', `--as ${role} needs the credentials of a stack started with \`./airlock up\` (none in ${g.stateDir}); or set AIRLOCK_CREDENTIAL`);
  return { natsUrl: explicit ?? local?.clientUrl ?? local?.natsUrl ?? 'nats://127.0.0.1:4222' };
}

function out(line: string): void {
  process.stdout.write(line + '\n');
}

function json(value: unknown): void {
  out(JSON.stringify(value));
}

/** Whether the CLI acts with an agent's credential (agents reach snapshots only through the harness). */
async function asAgent(): Promise<boolean> {
  const { claimedRole } = await import('@airlock/client');
  return claimedRole(connection().credential) === 'agent';
}

async function withClient<T>(fn: (c: Airlock) => Promise<T>): Promise<T> {
  const { natsUrl, credential } = connection();
  // Loaded on first use: `--help` and the offline commands never load the SDK and its NATS client.
  const { Airlock: Client } = await import('@airlock/client');
  await using client = await Client.connect({ servers: natsUrl, ...(credential ? { credential } : {}) });
  return await fn(client);
}

function commandText(parts: string[]): string {
  if (parts.length === 0) throw new AirlockError('bad_request', 'no command given: put it after `--`, e.g. `-- "ls -la"`');
  return parts.join(' ');
}

/** `--cost`: a number >= 0. */
function costOf(v: string): number {
  return v.trim() === '0' ? 0 : positiveNumber(v, '--cost');
}

async function runStep(client: Airlock, runId: string, cmd: string, opts: { env?: string[]; timeout?: string; waitApproval?: string; cost?: string }): Promise<StepResult> {
  const asJson = globals().json;
  const result = await client.run(runId).exec(cmd, {
    // Output goes to the terminal (or JSON lines) as it comes: none is kept in the result.
    maxOutputBytes: 0,
    ...(opts.waitApproval ? { waitForApprovalMs: parseDuration(opts.waitApproval, '--wait-approval') } : {}),
    onHeld: (step, reason) => {
      if (asJson) json({ type: 'held', runId, step, reason });
      else process.stderr.write(`airlock: ${reason}\nairlock: waiting up to ${opts.waitApproval} for the decision…\n`);
    },
    ...(opts.env?.length ? { env: parseEnvPairs(opts.env) } : {}),
    ...(opts.timeout ? { timeoutMs: Number(opts.timeout) } : {}),
    ...(opts.cost ? { cost: costOf(opts.cost) } : {}),
    onOutput: asJson ? undefined : (stream, data) => (stream === 'stdout' ? process.stdout : process.stderr).write(data),
    onEvent: asJson ? (e) => json(eventForJson(e)) : undefined,
  });
  if (asJson) json({ type: 'result', ...stepResult(result) });
  else if (result.oomKilled && !result.sandboxDied) {
    process.stderr.write(`airlock: step ${result.step} was killed: out of memory (the sandbox lives on)\n`);
  } else if (result.sandboxDied) {
    process.stderr.write(`airlock: step ${result.step} lost its sandbox${result.timedOut ? ' after its timeout' : ''}${result.oomKilled ? ' (out of memory)' : ''}; the next step gets a fresh sandbox on the same workspace\n`);
  } else if (result.timedOut) {
    process.stderr.write(`airlock: step ${result.step} timed out and was stopped (${result.signal ?? 'killed'}); the sandbox lives on\n`);
  }
  return result;
}

/** The step's result without the SDK's output text (the CLI streamed it already). */
function stepResult(r: ExecResult): StepResult {
  const { stdout: _stdout, stderr: _stderr, clippedBytes: _clipped, ...step } = r;
  return step;
}

function eventForJson(e: LogEvent): Record<string, unknown> {
  if (e.type === 'step.output') {
    const { data: _data, ...rest } = e;
    return { ...rest, text: outputBytes(e).toString('utf8') };
  }
  return e;
}

program
  .command('up')
  .description('start NATS (JetStream), a runner and the harness on this machine')
  .option('--port <n>', 'port of the embedded nats-server', '4222')
  .option('--slots <n>', 'runs the local runner holds at once', '4')
  .option('--runner-id <id>', 'id of the local runner', 'local')
  .option('-d, --detach', 'return once the stack answers; stop it with `./airlock down`')
  .option('--policy <file>', 'policy file pinned to new runs [AIRLOCK_POLICY] (default: the shipped policy)')
  .action(async (o: { port: string; slots: string; runnerId: string; detach?: boolean; policy?: string }) => {
    const g = globals();
    const existing = readStack(g.stateDir);
    if (existing && alive(existing.pids.harness)) {
      out(`Airlock is already up at ${existing.natsUrl} (state in ${g.stateDir})`);
      return;
    }
    const say = (line: string) => process.stderr.write(`  ${line}\n`);
    const { up, down } = await import('./stack.ts');
    const { info, children } = await up({
      stateDir: g.stateDir,
      ...(g.nats ? { natsUrl: g.nats } : {}),
      port: Number(o.port),
      slots: Number(o.slots),
      runnerId: o.runnerId,
      detach: o.detach ?? false,
      ...(o.policy ? { policyFile: resolve(o.policy) } : {}),
      say,
    });
    if (g.json) json({ type: 'up', ...info });
    else {
      out(`Airlock is up at ${info.natsUrl}. Try: ./airlock run -- echo hello${o.detach ? '   (stop: ./airlock down)' : '   (Ctrl-C stops it)'}`);
      if (info.rolesDir) out(`Credentials per role in ${info.rolesDir} (0600): ./airlock --as agent|operator|reviewer|admin …  (default: operator)`);
    }
    if (o.detach) return;
    await new Promise<void>((done) => {
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        down(g.stateDir, say).then(
          () => done(),
          (err: unknown) => {
            process.stderr.write(`airlock: stopping the stack failed: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exitCode = EXIT_AIRLOCK_ERROR;
            done();
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      for (const c of children) c.on('exit', (code) => { if (!stopping) { say(`a process of the stack exited (code ${code}); stopping`); stop(); } });
    });
  });

program
  .command('down')
  .description('stop the stack that `up --detach` started')
  .action(async () => {
    const { down } = await import('./stack.ts');
    const stopped = await down(globals().stateDir, (l) => process.stderr.write(`  ${l}\n`));
    out(stopped ? 'Airlock is down' : `nothing to stop (no stack.json in ${globals().stateDir})`);
  });

program
  .command('status')
  .description('show the harness and the runners it hears from')
  .action(() =>
    withClient(async (c) => {
      const s = await c.status();
      if (globals().json) return json({ type: 'status', ...s });
      out(`harness  pid ${s.harness.pid}, up since ${s.harness.startedAt}, ${s.harness.version}`);
      if (s.runners.length === 0) out('runners  none alive (no heartbeat within the harness\'s runner-lost window)');
      for (const r of s.runners) out(`runner   ${r.runnerId}: ${r.used}/${r.slots} slots busy (seen ${r.seenAt})`);
    }),
  );

const openOptions = (cmd: Command) =>
  cmd
    .option('--image <image>', 'sandbox image (default airlock/sandbox:default)')
    .option('--workspace <dir>', 'host directory to mount as the workspace (default: a fresh empty one)')
    .option('--mount <path>', 'where the workspace appears in the sandbox', '/workspace')
    .addOption(new Option('--env <KEY=VALUE...>', 'environment for every step of the run').default([]));

type OpenOpts = { image?: string; workspace?: string; mount: string; env: string[] };
const openRequest = (o: OpenOpts) => ({
  ...(o.image ? { image: o.image } : {}),
  ...(o.workspace ? { workspace: resolve(o.workspace) } : {}),
  mountPath: o.mount,
  ...(o.env.length ? { env: parseEnvPairs(o.env) } : {}),
});

openOptions(program.command('open').description('open a run (a sandbox with a workspace); prints the run id')).action((o: OpenOpts) =>
  withClient(async (c) => {
    const run = await c.open(openRequest(o));
    if (globals().json) json({ type: 'run', ...run.record });
    else out(run.runId);
  }),
);

program
  .command('exec')
  .description('run a command as the next step of a run; streams its output and exits with its exit code')
  .argument('<run>', 'run id')
  .argument('<cmd...>', 'the command line (after --), run by bash -c')
  .option('--timeout <ms>', 'step timeout in milliseconds')
  .option('--wait-approval <duration>', 'if the command is held for approval (ask), wait this long (e.g. 10m) for an operator, then run it if approved')
  .option('--cost <n>', "what producing this step cost (your figure), summed into the run's cost budget")
  .addOption(new Option('--env <KEY=VALUE...>', 'environment for this step only').default([]))
  .action((runId: string, cmd: string[], o: { timeout?: string; env: string[]; waitApproval?: string; cost?: string }) =>
    withClient(async (c) => {
      const result = await runStep(c, runId, commandText(cmd), o);
      process.exitCode = exitCodeOf(result);
    }),
  );

openOptions(
  program
    .command('run')
    .description('open a run, execute one command, close the run; exits with the command\'s exit code')
    .argument('<cmd...>', 'the command line (after --), run by bash -c')
    .option('--timeout <ms>', 'step timeout in milliseconds'),
).action((cmd: string[], o: OpenOpts & { timeout?: string }) =>
  withClient(async (c) => {
    const run = await c.open(openRequest(o));
    if (globals().json) json({ type: 'run', ...run.record });
    try {
      const result = await runStep(c, run.runId, commandText(cmd), { ...(o.timeout ? { timeout: o.timeout } : {}) });
      process.exitCode = exitCodeOf(result);
    } finally {
      await c.close(run.runId);
    }
  }),
);

program
  .command('log')
  .description('print a run\'s durable log (works after the run ended and after restarts)')
  .argument('<run>', 'run id')
  .option('-f, --follow', 'keep printing new events until the run closes')
  .option('--from <seq>', 'start at this event number', '1')
  .action((runId: string, o: { follow?: boolean; from: string }) =>
    withClient(async (c) => {
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      let n = 0;
      try {
        for await (const e of c.run(runId).log({ fromSeq: Number(o.from), follow: o.follow ?? false, signal: stop.signal })) {
          n++;
          if (globals().json) json(eventForJson(e));
          else process.stdout.write(formatEvent(e));
        }
      } catch (err) {
        // Ctrl-C ends a follow: not a failure.
        if (!stop.signal.aborted) throw err;
      }
      if (n === 0 && !o.follow) process.stderr.write(`airlock: no events for run ${runId} (unknown run, or --from past the end)\n`);
    }),
  );

program
  .command('ps')
  .description('list runs (open ones; --all for closed too)')
  .option('-a, --all', 'include closed runs')
  .action((o: { all?: boolean }) =>
    withClient(async (c) => {
      const { runs } = await c.ps({ all: o.all ?? false });
      if (globals().json) return runs.forEach((r) => json({ type: 'run', ...r }));
      if (runs.length === 0) return out(o.all ? 'no runs' : 'no open runs (--all shows closed ones)');
      out(['RUN ID'.padEnd(26), 'STATUS'.padEnd(20), 'STEPS'.padStart(5), 'RUNNER'.padEnd(12), 'IMAGE'].join('  '));
      for (const r of runs) out([r.runId, runStatus(r).padEnd(20), String(r.steps).padStart(5), r.runnerId.padEnd(12), r.image].join('  '));
    }),
  );

program
  .command('close')
  .description('close a run: remove its sandbox, give its workspace back (termination: succeeded, or failed with --failed)')
  .argument('<run>', 'run id')
  .option('--failed', 'the task failed: the run ends with termination `failed`')
  .action((runId: string, o: { failed?: boolean }) =>
    withClient(async (c) => {
      const r = await c.close(runId, o.failed ? { outcome: 'failed' } : {});
      if (globals().json) json({ type: 'run', ...r });
      else out(`closed ${r.runId}${r.termination ? ` (${r.termination})` : ''}`);
    }),
  );

program
  .command('validate')
  .description('run the validation chain on a command, offline (no NATS, no Docker)')
  .argument('[cmd...]', 'the command line (after --)')
  .option('--policy <file>', 'policy file (YAML or JSON); default: the shipped policy')
  .option('--jsonl', 'read one JSON object per line with a `cmd` field from stdin; write one JSON line per input, in order')
  .action(async (cmd: string[], o: { policy?: string; jsonl?: boolean }) => {
    const { createValidator, loadPolicyFile, validateJsonl } = await import('@airlock/validate');
    const validator = await createValidator(o.policy ? { policy: await loadPolicyFile(o.policy) } : {});
    if (o.jsonl) {
      const { createInterface } = await import('node:readline');
      const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
      for await (const r of validateJsonl(lines, validator)) out(JSON.stringify(r));
      return;
    }
    const text = commandText(cmd);
    const v = validator.validate(text);
    if (globals().json) return json({ cmd: text, verdict: v.verdict, rule: v.rule, reason: v.reason, ...(v.span ? { span: v.span } : {}), policyHash: validator.policyHash });
    out(`${v.verdict.toUpperCase()}  ${v.rule}: ${v.reason}`);
    if (v.span && v.verdict !== 'allow' && !text.includes('\n')) {
      out(`  ${text}`);
      out(`  ${' '.repeat(v.span.start)}${'^'.repeat(Math.max(1, v.span.end - v.span.start))}`);
    }
  });

program
  .command('audit')
  .description('list the verdicts of the validation chain, denied egress, rollbacks and controls (--rule control), for security reviewers')
  .addOption(new Option('--verdict <v>', 'only this verdict').choices(['allow', 'ask', 'deny']))
  .option('--run <id>', 'only this run')
  .option('--rule <id>', 'only this rule id')
  .option('--since <time>', 'only verdicts at or after this ISO time, or a duration like 30m, 2h, 1d')
  .action((o: { verdict?: 'allow' | 'ask' | 'deny'; run?: string; rule?: string; since?: string }) =>
    withClient(async (c) => {
      const since = o.since ? parseSince(o.since) : undefined;
      const { readAuditEntries } = await import('@airlock/ledger');
      let n = 0;
      if (!globals().json) out(['TIME'.padEnd(24), 'RUN'.padEnd(26), 'STEP', 'VERDICT', 'RULE'.padEnd(28), 'BY'.padEnd(14), 'REASON / COMMAND'].join('  '));
      for await (const e of readAuditEntries(c.nats.js, c.nats.jsm, { ...(o.verdict ? { verdict: o.verdict } : {}), ...(o.run ? { runId: o.run } : {}), ...(o.rule ? { rule: o.rule } : {}), ...(since ? { since } : {}) })) {
        n++;
        if (globals().json) json(e);
        else if (e.type === 'egress.connection') out(egressAuditRow(e));
        else if (e.type === 'run.rollback') out(rollbackAuditRow(e));
        else if (e.type === 'run.control' || e.type === 'run.retried' || e.type === 'run.governed') out(controlAuditRow(e));
        else {
          out([e.ts.padEnd(24), e.runId.padEnd(26), String(e.step).padStart(4), e.verdict.toUpperCase().padEnd(7), e.rule.padEnd(28), e.by.padEnd(14), e.reason].join('  '));
          out(`${' '.repeat(24 + 2 + 26 + 2 + 4 + 2 + 7 + 2 + 28 + 2 + 14 + 2)}$ ${e.cmd.length > 160 ? `${e.cmd.slice(0, 160)}…` : e.cmd}`.replace(/\n/g, '⏎'));
        }
      }
      if (!globals().json) process.stderr.write(`${n} verdict${n === 1 ? '' : 's'}\n`);
    }),
  );

program
  .command('approvals')
  .description('list steps held for approval by an ask verdict (operators)')
  .option('--run <id>', 'only this run')
  .option('--all', 'also decided and used ones')
  .action((o: { run?: string; all?: boolean }) =>
    withClient(async (c) => {
      const { approvals } = await c.approvals({ ...(o.run ? { runId: o.run } : {}), all: o.all ?? false });
      if (globals().json) return approvals.forEach((a) => json({ type: 'approval', ...a }));
      if (approvals.length === 0) return out(o.all ? 'no held steps' : 'no steps are waiting for approval');
      out(['RUN'.padEnd(26), 'STEP', 'STATUS'.padEnd(8), 'RULE'.padEnd(24), 'REQUESTED'.padEnd(24), 'DECIDED BY'.padEnd(14), 'COMMAND'].join('  '));
      for (const a of approvals) {
        out([a.runId.padEnd(26), heldId(a).padStart(4), a.status.toUpperCase().padEnd(8), a.rule.padEnd(24), a.requestedAt.padEnd(24), (a.decidedBy ?? '-').padEnd(14), a.cmd.replace(/\n/g, '⏎').slice(0, 100)].join('  '));
        for (const line of approvalDetails(a)) out(`      ${line}`);
      }
    }),
  );

for (const [name, decision, wider, widerFlag, what] of [
  ['approve', 'approve', 'approve_run', '--for-run', 'let the held command run once in this run: its next exec is allowed (a deny can never be approved); --for-run: also later commands the same rule holds with the same command prefix'],
  ['reject', 'reject', 'reject_pause', '--pause', 'refuse the held command; a client waiting for the decision gets validation_denied; --pause: also pause the run'],
] as const) {
  program
    .command(name)
    .description(`${what}; the decision is logged in the run (step.decided)`)
    .argument('<run>', 'run id')
    .argument('<step>', 'the held step number, or an egress hold\'s id such as 7.1 (see `airlock approvals`)')
    .option('--by <name>', 'who decides, for the log', process.env.USER ?? process.env.LOGNAME ?? 'operator')
    .option('--note <text>', 'why, for the log')
    .option(widerFlag, name === 'approve' ? 'approve for the rest of this run (same rule, same command prefix; simple commands only)' : 'deny and pause the run')
    .action((runId: string, step: string, o: { by: string; note?: string; forRun?: boolean; pause?: boolean }) =>
      withClient(async (c) => {
        const held = parseHeldId(step);
        const a = await c.decide(runId, held.step || 1, o.forRun || o.pause ? wider : decision, { by: o.by, ...(o.note ? { note: o.note } : {}), ...(held.hold ? { hold: held.hold } : {}) });
        if (globals().json) return json({ type: 'approval', ...a });
        out(`${a.egress ? `egress ${heldId(a)}` : `step ${a.step}`} of ${a.runId} ${a.status} by ${a.decidedBy}${decisionMeaning(a)}`);
      }),
    );
}

const stepNumber = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new AirlockError('bad_request', `a step is a whole number >= 0, got ${JSON.stringify(v)}`);
  return n;
};

program
  .command('snapshots')
  .description('list the workspace snapshots of a run, one per step (0 = as the run opened)')
  .argument('<run>', 'run id')
  .action((runId: string) =>
    withClient(async (c) => {
      const list = await c.run(runId).snapshots();
      if (globals().json) return list.forEach((s) => json(s));
      if (list.length === 0) return out(`no snapshots for run ${runId}`);
      out(['STEP', 'DIGEST'.padEnd(16), 'FILES'.padStart(7), 'ADDED'.padStart(6), 'MOD'.padStart(6), 'DEL'.padStart(6), 'UPLOADED'.padStart(12), 'MS'.padStart(7)].join('  '));
      for (const s of list) {
        out([String(s.step).padStart(4), s.digest.slice(0, 16), String(s.files).padStart(7), String(s.added).padStart(6), String(s.modified).padStart(6), String(s.deleted).padStart(6), `${s.bytesUploaded} B`.padStart(12), String(Math.round(s.durationMs)).padStart(7)].join('  '));
      }
    }),
  );

program
  .command('diff')
  .description('what changed in the workspace between two steps of a run')
  .argument('<run>', 'run id')
  .argument('<a>', 'step number (0 = as the run opened)')
  .argument('<b>', 'step number')
  .option('--patch', 'unified diff of text files')
  .option('--path <path>', 'only this path (a directory covers what is under it); repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .action((runId: string, a: string, b: string, o: { patch?: boolean; path: string[] }) =>
    withClient(async (c) => {
      const d = await c.run(runId).diff({ from: stepNumber(a), to: stepNumber(b), patch: o.patch ?? false, ...(o.path.length > 0 ? { paths: o.path } : {}) });
      if (globals().json) return json({ type: 'diff', ...d });
      for (const e of d.changes) out(`${e.change === 'added' ? 'A' : e.change === 'modified' ? 'M' : 'D'}  ${e.path}`);
      if (d.truncated) process.stderr.write('more paths changed than are listed: narrow with --path\n');
      for (const p of d.patches ?? []) out(patchLine(p));
    }),
  );

program
  .command('restore')
  .description('write the workspace of a run as it was after a step into a directory')
  .argument('<run>', 'run id')
  .requiredOption('--step <n>', 'step number (0 = as the run opened)')
  .requiredOption('--to <dir>', 'target directory: must not exist, or be empty (use --force to replace its contents)')
  .option('--force', 'replace the contents of a non-empty target')
  .action((runId: string, o: { step: string; to: string; force?: boolean }) =>
    withClient(async (c) => {
      const { existsSync, readdirSync } = await import('node:fs');
      const to = resolve(o.to);
      if (existsSync(to) && readdirSync(to).length > 0 && !o.force) throw new AirlockError('bad_request', `${to} is not empty; pass --force to replace its contents`);
      if (await asAgent()) {
        // An agent's NATS user has no right on the snapshot stores: through the harness, its own runs only.
        const { restoreTree } = await import('@airlock/snapshot');
        const remote = await remoteSnapshot(c.run(runId), stepNumber(o.step));
        const stats = await restoreTree(remote.manifest, to, remote.readBlob, { concurrency: 4 });
        if (globals().json) return json({ type: 'restored', runId, step: stepNumber(o.step), digest: remote.digest, to, ...stats });
        return out(`restored step ${stepNumber(o.step)} of ${runId} (${remote.digest.slice(0, 12)}) into ${to}`);
      }
      const snap = await c.run(runId).snapshotAt(stepNumber(o.step));
      await using store = await openSnapshotStore(c.nats.nc);
      const stats = await store.restore(snap.digest, to);
      if (globals().json) return json({ type: 'restored', runId, step: snap.step, digest: snap.digest, to, ...stats });
      out(`restored step ${snap.step} of ${runId} (${snap.digest.slice(0, 12)}) into ${to}`);
    }),
  );

program
  .command('export')
  .description('write the workspace of a run after a step as a tar archive (stdout, or -o FILE)')
  .argument('<run>', 'run id')
  .requiredOption('--step <n>', 'step number (0 = as the run opened)')
  .option('-o, --output <file>', 'write to this file instead of stdout')
  .action((runId: string, o: { step: string; output?: string }) =>
    withClient(async (c) => {
      if (!o.output && process.stdout.isTTY) throw new AirlockError('bad_request', 'refusing to write a tar archive to a terminal; redirect stdout or pass -o FILE');
      const { pipeline } = await import('node:stream/promises');
      const { createWriteStream } = await import('node:fs');
      const sink = () => (o.output ? createWriteStream(o.output) : process.stdout);
      if (await asAgent()) {
        const { packManifest } = await import('@airlock/snapshot');
        const remote = await remoteSnapshot(c.run(runId), stepNumber(o.step));
        await pipeline(packManifest(remote.manifest, remote.readBlob), sink());
      } else {
        const snap = await c.run(runId).snapshotAt(stepNumber(o.step));
        await using store = await openSnapshotStore(c.nats.nc);
        await pipeline(store.exportTar(snap.digest), sink());
      }
      if (o.output) process.stderr.write(`wrote step ${stepNumber(o.step)} of ${runId} to ${o.output}\n`);
    }),
  );

program
  .command('import')
  .description('start a new run whose workspace is a tar archive (file, or - for stdin); prints the run id')
  .argument('<tar>', 'tar archive (optionally gzipped), or - for stdin')
  .option('--image <image>', 'sandbox image')
  .action((file: string, o: { image?: string }) =>
    withClient(async (c) => {
      if (await asAgent()) throw new AirlockError('forbidden', 'an agent may not import into the snapshot store: open a run and write its files, fork one of your runs (`fork`), or ask an operator to import');
      const { createReadStream } = await import('node:fs');
      const input = file === '-' ? process.stdin : createReadStream(resolve(file));
      await using store = await openSnapshotStore(c.nats.nc);
      const imported = await store.importTar(input, { group: 'imports', label: file === '-' ? 'stdin' : file.slice(-100).replace(/[^A-Za-z0-9._-]/g, '_') });
      const run = await c.open({ fromSnapshot: imported.digest, ...(o.image ? { image: o.image } : {}) });
      if (globals().json) json({ type: 'run', ...run.record });
      else out(run.runId);
    }),
  );

program
  .command('fork')
  .description('open a new run whose workspace is the workspace of RUN after step N; prints the new run id')
  .argument('<run>', 'run id')
  .requiredOption('--step <n>', 'step number (0 = as the run opened)')
  .option('--image <image>', 'sandbox image (default: the same as RUN)')
  .action((runId: string, o: { step: string; image?: string }) =>
    withClient(async (c) => {
      const snap = await c.run(runId).snapshotAt(stepNumber(o.step));
      const run = await c.open({ fromSnapshot: snap.digest, fromRun: runId, ...(o.image ? { image: o.image } : {}) });
      if (globals().json) json({ type: 'run', ...run.record, forkedFrom: { runId, step: snap.step } });
      else out(run.runId);
    }),
  );

program
  .command('gc')
  .description('delete snapshots beyond the newest N per run and the blobs no kept snapshot uses')
  .option('--keep-last <n>', "snapshots kept per run (default: the policy's snapshots.keepLast; the latest of every open run is always kept)")
  .option('--dry-run', 'report what would be deleted, delete nothing')
  .action((o: { keepLast?: string; dryRun?: boolean }) =>
    withClient(async (c) => {
      const keepLast = o.keepLast !== undefined ? Number(o.keepLast) : (await c.status()).harness.snapshotsKeepLast;
      if (!Number.isInteger(keepLast) || keepLast < 1) throw new AirlockError('bad_request', `--keep-last wants a whole number >= 1, got ${JSON.stringify(o.keepLast)}`);
      const keep: string[] = [];
      for (const r of (await c.ps()).runs) {
        const last = (await c.run(r.runId).snapshots()).at(-1);
        if (last) keep.push(last.digest);
      }
      await using store = await openSnapshotStore(c.nats.nc);
      const stats = await store.gc({ keep, keepLast, dryRun: o.dryRun ?? false });
      if (globals().json) return json({ type: 'gc', ...stats });
      out(`${o.dryRun ? 'would delete' : 'deleted'} ${stats.manifestsDeleted} snapshots and ${stats.blobsDeleted} blobs (${stats.bytesFreed} B); kept ${stats.manifestsKept} snapshots, ${stats.blobsKept} blobs`);
    }),
  );

// Codex CLI's remote environment (fronts/codex): loaded only when this command runs.
openOptions(
  program
    .command('codex-env')
    .description('serve the Codex CLI\'s exec-server protocol on stdio from a run: name this in $CODEX_HOME/environments.toml')
    .option('--run <id>', 'serve this open run (left open) instead of opening one')
    .option('--root <dir>', 'the host directory shown to the sandbox as the mount path (default: the workspace when Codex runs inside it, else Codex\'s directory)')
    .option('--timeout <ms>', 'lifetime of each step in milliseconds', '600000')
    .option('--wait-approval <duration>', 'how long a held command waits for an operator, e.g. 10m (default: fails at once)')
    .option('--keep', 'leave the run open when Codex exits')
    .option('--trace <file>', 'append every JSON-RPC message, in and out, to this file'),
).action(async (o: OpenOpts & { run?: string; root?: string; timeout: string; waitApproval?: string; keep?: boolean; trace?: string }) => {
  const { runCodexEnv } = await import('@airlock/codex-env');
  const { natsUrl, credential } = connection('agent');
  process.exitCode = await runCodexEnv({
    natsUrl,
    ...(credential ? { credential } : {}),
    // Without --workspace the workspace is the directory Codex starts this in (its working directory).
    ...(o.run ? { runId: o.run } : { open: openRequest({ ...o, workspace: o.workspace ?? '.' }) }),
    ...(o.root ? { root: resolve(o.root) } : {}),
    stepTimeoutMs: Number(o.timeout),
    keepRun: o.keep ?? false,
    waitForApprovalMs: o.waitApproval ? parseDuration(o.waitApproval, '--wait-approval') : 0,
    ...(o.trace ? { tracePath: resolve(o.trace) } : {}),
  });
});

const bundleCmd = program.command('bundle').description('proof bundles: a run\'s events, snapshot manifests and policy, signed by the harness');
bundleCmd
  .command('export')
  .description('write the proof bundle of a run to a file')
  .argument('<run>', 'run id')
  .requiredOption('-o, --output <file>', 'bundle file to write')
  .action((runId: string, o: { output: string }) =>
    withClient(async (c) => {
      const { writeFileSync } = await import('node:fs');
      const b = await c.bundle(runId);
      writeFileSync(o.output, b.text);
      if (globals().json) return json({ type: 'bundle', runId, file: o.output, events: b.events, keyId: b.keyId });
      out(`wrote ${o.output}: ${b.events} events of run ${runId}, signed by key ${b.keyId.slice(0, 16)}`);
    }),
  );
bundleCmd
  .command('verify')
  .description('check a proof bundle offline; names the first event missing, modified or out of order')
  .argument('<file>', 'bundle file')
  .option('--key-id <id>', 'the harness key id to trust (`./airlock status` shows it); without it the bundle is only checked for self-consistency')
  .action(async (file: string, o: { keyId?: string }) => {
    const { readFileSync } = await import('node:fs');
    const { verifyBundle } = await import('@airlock/trust');
    const r = verifyBundle(readFileSync(file, 'utf8'), o.keyId ? { trustedKeyId: o.keyId } : {});
    if (globals().json) json({ type: 'verify', file, ...r });
    else if (r.ok) out(`OK  ${file}: ${JSON.stringify(r)}`);
    else out(`FAIL  ${file}: ${r.problem.code}${r.problem.seq !== undefined ? ` at event ${r.problem.seq}` : ''}: ${r.problem.message}`);
    if (!r.ok) process.exitCode = 1;
  });

program
  .command('replay')
  .description('re-run a run\'s recorded commands in a fresh sandbox (no network) from the snapshot before step N, and compare')
  .argument('<run>', 'run id')
  .option('--from-step <n>', 'first step to re-run', '1')
  .option('--allow-policy-change', 'replay even if the harness now enforces another policy (recorded in the replay run)')
  .option('--include-non-idempotent', 'also re-run the steps the run\'s policy marks non-idempotent (replay.nonIdempotent: secrets, network tools, listed commands)')
  .action((runId: string, o: { fromStep: string; allowPolicyChange?: boolean; includeNonIdempotent?: boolean }) =>
    withClient(async (c) => {
      const { replayRun } = await import('../replay.ts');
      const report = await replayRun(c, runId, {
        fromStep: stepNumber(o.fromStep) || 1,
        allowPolicyChange: o.allowPolicyChange ?? false,
        includeNonIdempotent: o.includeNonIdempotent ?? false,
        onStep: (r) => {
          if (globals().json) return json({ type: 'replay.step', ...r });
          const detail = r.status === 'match' || r.status === 'differs'
            ? `exit ${r.exitCode?.recorded}->${r.exitCode?.replayed}, output ${r.output?.same ? 'same' : 'differs'}, workspace ${r.workspace?.same ? 'same' : 'differs'}`
            : (r.reason ?? '');
          out(`step ${String(r.step).padStart(3)}  ${r.status.toUpperCase().padEnd(8)} ${detail}   $ ${r.cmd.split('\n')[0]!.slice(0, 80)}`);
        },
      });
      if (globals().json) return json({ type: 'replay', ...report, steps: undefined });
      out(`replayed ${runId} as ${report.replayRunId} from step ${report.fromStep}: ${report.matched} matched, ${report.differed} differed, ${report.skipped} skipped${report.policyChanged ? ' (under a different policy, recorded)' : ''}`);
      if (report.differed > 0) process.exitCode = 1;
    }),
  );

program
  .command('mcp')
  .description('serve Airlock to an agent as an MCP server (stdio; --http PORT for Streamable HTTP on 127.0.0.1)')
  .option('--http <port>', 'serve Streamable HTTP on 127.0.0.1:PORT/mcp instead of stdio')
  .option('--run <id>', 'bind to this run: run_id becomes optional, other runs are refused')
  .option('--workspace <dir>', 'host directory open_run mounts (and its subdirectories); default: runs get an empty workspace')
  .option('--image <image>', 'sandbox image for open_run when the agent names none')
  .action(async (o: { http?: string; run?: string; workspace?: string; image?: string }) => {
    const { runMcpCommand } = await import('@airlock/mcp');
    // An MCP server serves an agent: the agent's credential unless told otherwise.
    const { natsUrl, credential } = connection('agent');
    await runMcpCommand({ natsUrl, ...(credential ? { credential } : {}), ...(o.http ? { http: Number(o.http) } : {}), ...(o.run ? { run: o.run } : {}), ...(o.workspace ? { workspace: o.workspace } : {}), ...(o.image ? { image: o.image } : {}) });
  });

addGovernanceCommands(program, { withClient, asJson: () => globals().json ?? false, out, stateDir: () => globals().stateDir });
addControlCommands(program, { withClient, asJson: () => globals().json ?? false, out, stateDir: () => globals().stateDir });

/** A duration like `90s`, `10m`, `2h` in milliseconds. */
function parseDuration(text: string, flag: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!m) throw new AirlockError('bad_request', `${flag} wants a duration like 90s, 10m or 2h, got ${JSON.stringify(text)}`);
  return Number(m[1]) * { ms: 1, s: 1e3, m: 6e4, h: 3.6e6 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

/** An ISO time, or a duration back from now (`30m`, `2h`, `1d`, `45s`). */
function parseSince(text: string): Date {
  const m = /^(\d+)([smhd])$/.exec(text);
  if (m) return new Date(Date.now() - Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[m[2] as 's' | 'm' | 'h' | 'd']);
  const t = new Date(text);
  if (Number.isNaN(t.getTime())) throw new AirlockError('bad_request', `--since wants an ISO time or a duration like 30m, got ${JSON.stringify(text)}`);
  return t;
}

// `airlock log … | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (globals().json) json({ type: 'error', ...(err instanceof AirlockError ? err.toWire() : { code: err instanceof Error && err.name === 'PolicyError' ? 'bad_request' : 'internal', message: String((err as Error)?.message ?? err) }) });
  else process.stderr.write(`airlock: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode =
    (err instanceof AirlockError && err.code === 'bad_request') || (err instanceof Error && err.name === 'PolicyError')
      ? 2
      : err instanceof AirlockError && ['validation_denied', 'validation_ask', 'policy_changed', 'verification_failed'].includes(err.code)
        ? EXIT_NOT_ALLOWED
        : err instanceof AirlockError && err.code === 'forbidden'
          ? EXIT_FORBIDDEN
          : EXIT_AIRLOCK_ERROR;
}
