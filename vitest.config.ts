import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

/** Integration suites that run a second time under gVisor (`integration-runsc`). */
const RUNSC_SUITES = ['test/integration/sandbox.test.ts', 'test/integration/steps.test.ts', 'test/integration/workloads.test.ts'];

// Two projects: `unit` (pure logic, no services, concurrent) and `integration`
// (a real dockerd and real nats-server processes; serial, long timeouts).
// Packages of this repository resolve each other to their .ts sources (`airlock-source` in their
// package.json `exports`), never to a stale dist/ build. Every project extends this root config.
export default defineConfig({
  ssr: { resolve: { conditions: ['airlock-source', ...defaultServerConditions] } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['{proto,client,transport,validate,ledger,snapshot,trust,runner,harness}/src/**/*.test.ts', 'fronts/*/src/**/*.test.ts', 'scripts/*.test.ts'],
          environment: 'node',
          // Generated tests (every byte flipped, thousands of commands) are CPU-bound: 4 s alone took
          // 5.3 s inside a whole unit run at load ~4 and hit vitest's 5 s default. A deadline is no
          // speed target (those live in `npm run bench`); a test that hangs still fails.
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        extends: true,
        // The sandbox, escape, executor and workload suites again with every sandbox under gVisor:
        // the fixtures give the stack's policy `runtime: runsc` and check the engine used it.
        test: {
          name: 'integration-runsc',
          include: RUNSC_SUITES,
          environment: 'node',
          env: { AIRLOCK_TEST_RUNTIME: 'runsc' },
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        extends: true,
        // The same suite, shorter (6 runs): `make test` runs it after the integration project.
        test: {
          name: 'chaos-short',
          include: ['test/chaos/**/*.test.ts'],
          environment: 'node',
          env: { CHAOS_RUNS: '6' },
          testTimeout: 600_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'chaos',
          include: ['test/chaos/**/*.test.ts'],
          environment: 'node',
          testTimeout: 600_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
});
