// Ground truth for the parser-differential families: every generated member runs in real bash inside a
// throwaway sandbox container (no network), and what bash did must equal the recording the unit test
// `validate/src/differential.test.ts` checks the chain against. A member bash now treats differently,
// or a generated member missing from the recording, fails here.
// Re-record with `RECORD_DIFFERENTIALS=1 npx vitest run --project integration test/integration/differential-bash.test.ts`.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BASH_RUNNER, differentialCases, MARK } from '../../validate/src/differential-families.ts';

const TRUTH = fileURLToPath(new URL('../../validate/src/differential-truth.json', import.meta.url));
const IMAGE = 'airlock/sandbox:default';

interface Truth {
  readonly bash: string;
  readonly marker: string;
  readonly ran: Record<string, 0 | 1>;
}

/**
 * Runs every member in one `--rm` container under the docker lock. No `airlock.test` label: the suite
 * teardown would count a container still being removed as leaked.
 */
function runInBash(cmds: readonly string[]): { version: string; ran: (0 | 1)[] } {
  const out = execFileSync('flock', ['/tmp/airlock-docker.lock', 'docker', 'run', '-i', '--rm', '--network', 'none', IMAGE, 'bash', '-c', `echo "v $BASH_VERSION"; ${BASH_RUNNER}`], {
    input: cmds.map((c) => c + '\0').join(''),
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    timeout: 300_000,
  });
  const lines = out.trim().split('\n');
  const version = lines.shift()!.slice(2);
  const ran: (0 | 1)[] = [];
  for (const l of lines) {
    const [i, r] = l.split(' ');
    ran[Number(i)] = r === '1' ? 1 : 0;
  }
  return { version, ran };
}

describe('parser-differential families against real bash', () => {
  it('bash runs the marker in exactly the recorded members', () => {
    const cases = differentialCases();
    const { version, ran } = runInBash(cases.map((c) => c.cmd));
    expect(ran.length).toBe(cases.length);
    const now: Record<string, 0 | 1> = {};
    cases.forEach((c, i) => (now[c.cmd] = ran[i]!));
    if (process.env.RECORD_DIFFERENTIALS === '1') {
      const truth: Truth = { bash: version, marker: MARK, ran: now };
      writeFileSync(TRUTH, JSON.stringify(truth, null, 1) + '\n');
    }
    const recorded = JSON.parse(readFileSync(TRUTH, 'utf8')) as Truth;
    expect(recorded.marker).toBe(MARK);
    expect(recorded.bash).toBe(version);
    const disagree = cases.filter((c) => recorded.ran[c.cmd] !== now[c.cmd]).map((c) => `${c.family}: ${JSON.stringify(c.cmd)} bash=${now[c.cmd]} recorded=${recorded.ran[c.cmd]}`);
    expect(disagree).toEqual([]);
    // The marker itself runs (the runner can see it), so a 0 means bash really did not run it.
    expect(runInBash([MARK, `: ${MARK}`]).ran).toEqual([1, 0]);
  });
});
