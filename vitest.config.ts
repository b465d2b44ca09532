import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure logic, no services, concurrent) and `integration`
// (a real dockerd and real nats-server processes; serial, long timeouts).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{proto,transport,validate,ledger,snapshot,trust,runner,harness}/src/**/*.test.ts', 'scripts/*.test.ts'],
          environment: 'node',
        },
      },
      {
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
