// Integration suites need a real dockerd, a nats-server binary and the sandbox image.
// Fail loudly when one is missing: `make test` sets them up, a bare `vitest` may not have.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

function need(what: string, check: () => void, fix: string): void {
  try {
    check();
  } catch (err) {
    throw new Error(`integration tests need ${what}: ${fix}\n(${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
  }
}

export default function setup(): () => void {
  need('a Docker engine', () => execFileSync('docker', ['info'], { stdio: 'pipe' }), 'run `make setup` (it starts dockerd)');
  need('nats-server', () => execFileSync('nats-server', ['--version'], { stdio: 'pipe' }), 'run `make setup` (apt install nats-server)');
  need('the sandbox image', () => execFileSync('docker', ['image', 'inspect', 'airlock/sandbox:default'], { stdio: 'pipe' }), 'run `make images`');
  // This test run's containers carry `airlock.test=<session>` (the workers inherit the variable), so
  // the teardown below removes only its own: another checkout's tests on the same dockerd keep theirs.
  const session = (process.env.AIRLOCK_TEST_SESSION ??= randomBytes(6).toString('hex'));
  return () => {
    // Nothing the suites created may outlive them.
    const left = execFileSync('docker', ['ps', '-aq', '--filter', `label=airlock.test=${session}`], { encoding: 'utf8' }).trim();
    if (left) {
      execFileSync('docker', ['rm', '-f', ...left.split('\n')], { stdio: 'pipe' });
      throw new Error(`sandbox containers leaked by the suites (removed now): ${left.split('\n').join(', ')}`);
    }
  };
}
