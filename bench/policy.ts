// A benchmark repeats one command hundreds of times on purpose: the loop detectors (issue 14) would
// pause such a run after four identical steps. Benches that repeat a command run under the shipped
// policy with every detector set to `off`; nothing else differs from what users get.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOOP_DETECTORS } from '@airlock/proto';
import { defaultPolicy } from '@airlock/validate';

/** Writes the shipped policy with loop detection off to a temporary file; returns its path. */
export async function repeatablePolicyFile(extra: Record<string, unknown> = {}): Promise<string> {
  const policy = await defaultPolicy();
  const loops = Object.fromEntries(LOOP_DETECTORS.map((d) => [d, { action: 'off' }]));
  const file = join(mkdtempSync(join(tmpdir(), 'airlock-bench-policy-')), 'policy.json');
  writeFileSync(file, JSON.stringify({ ...policy, ...extra, governance: { ...policy.governance, loops } }));
  return file;
}
