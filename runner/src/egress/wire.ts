// How a run's egress plugs into the runner: the proxy's events go into the run's log (tagged with
// the step running then), denials also into the audit index, and a proxy that died unasked is
// logged so the step that was using it reads as a network failure, not a mystery.
import type { JetStreamClient } from '@nats-io/jetstream';
import { indexEgressDenial } from '@airlock/ledger';
import type { Policy } from '@airlock/validate';
import type { LiveRun } from '../live-run.ts';
import type { Logger } from '../logger.ts';
import type { TestResolveMap } from './address.ts';
import { RunEgress } from './run-egress.ts';
import { runAsker, type EgressAskDeps } from './ask.ts';

export interface EgressDeps {
  js: JetStreamClient;
  log: Logger;
  /** Test configuration only (runner config `egressTestResolve`). */
  testResolve: TestResolveMap;
  /** Test configuration only (runner config `egressTestUpstreamCa`). */
  testUpstreamCa: string[];
  /** Where asks for unlisted hosts go (policy `network.unlisted: ask`); absent: they are refused. */
  ask?: Omit<EgressAskDeps, 'log'> | undefined;
}

/** Starts the run's egress proxy when its policy says `network.mode: proxy`; undefined otherwise. */
export async function openRunEgress(run: LiveRun, policy: Policy, deps: EgressDeps): Promise<RunEgress | undefined> {
  if (policy.network.mode !== 'proxy') return undefined;
  const log = deps.log.child({ runId: run.runId });
  return RunEgress.start({
    runId: run.runId,
    policy,
    testResolve: deps.testResolve,
    testUpstreamCa: deps.testUpstreamCa,
    ask: deps.ask ? runAsker(run, policy, { ...deps.ask, log }) : undefined,
    onEvent: (e) => {
      const step = run.session?.step;
      void run.log
        .append({ type: 'egress.connection', ...(step !== undefined ? { step } : {}), ...e })
        .then(async (event) => {
          if (event.type === 'egress.connection' && event.decision === 'denied') await indexEgressDenial(deps.js, event);
        })
        .catch((err: unknown) => log.error({ err, egress: e }, 'could not log an egress connection'));
    },
    onExit: ({ pid, code, signal }) => {
      const step = run.session?.step;
      log.warn({ pid, code, signal }, 'the egress proxy ended');
      void run.log
        .append({ type: 'egress.proxy', state: 'died', ...(step !== undefined ? { step } : {}), reason: `the egress proxy (pid ${pid}) ended (${signal ?? `exit ${code}`}); connections through it failed, the next step gets a fresh one` })
        .catch((err: unknown) => log.error({ err }, 'could not log the egress proxy ending'));
    },
  });
}

/**
 * The step's exec spec through the run's egress, starting a fresh proxy when the last one died:
 * edge secrets (`secrets` given to the step) replaced by their placeholders, the forwarder in front.
 */
export async function egressStepSpec<S extends Parameters<RunEgress['stepSpec']>[0]>(run: LiveRun, spec: S, secrets: Readonly<Record<string, string>>): Promise<S> {
  if (!run.egress) return spec;
  await run.egress.ensure();
  const env = await run.egress.edgeEnv(spec.env, secrets);
  return run.egress.stepSpec({ ...spec, env }) as S;
}
