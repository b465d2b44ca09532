// The chain's model of the sandbox's shell start-up files (validate/src/startup.ts) against the images
// themselves: every summarised file has the content its digest names, every file the model says is absent is
// absent, and every directory the model lists (`/etc/profile.d/`) holds exactly the files it names.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SANDBOX_STARTUP, type StartupModel } from '@airlock/validate';
import { ensureSoundnessImage } from '../soundness/image.ts';
import { HARNESS_STARTUP } from '../soundness/startup.ts';

/** One container: sha256 or `absent` per path, and the listing of each modelled directory. */
function inspect(image: string, home: string | null, model: StartupModel): { files: Map<string, string>; dirs: Map<string, string[]> } {
  const paths = Object.keys(model.files).filter((p) => !p.endsWith('/') && (home !== null || !p.startsWith('~/')));
  const dirs = Object.keys(model.files).filter((p) => p.endsWith('/'));
  const abs = (p: string) => (p.startsWith('~/') ? `${home}/${p.slice(2)}` : p);
  const script = [
    ...paths.map((p) => `if [ -e '${abs(p)}' ]; then echo "F ${p} $(sha256sum '${abs(p)}' | cut -d' ' -f1)"; else echo "F ${p} absent"; fi`),
    ...dirs.map((d) => `echo "D ${d} $(ls -A '${d}' | tr '\\n' ' ')"`),
  ].join('\n');
  // No flock here: the suite runs under the machine's docker lock taken by its caller (make test, or flock … npx vitest).
  const out = execFileSync('docker', ['run', '--rm', '--network', 'none', '--label', `airlock.test=${process.env.AIRLOCK_TEST_SESSION ?? '1'}`, image, 'sh', '-c', script], { encoding: 'utf8' });
  const files = new Map<string, string>();
  const listing = new Map<string, string[]>();
  for (const line of out.split('\n')) {
    const [kind, p, ...rest] = line.split(' ');
    if (kind === 'F') files.set(p!, rest[0]!);
    if (kind === 'D') listing.set(p!, rest.filter(Boolean).sort());
  }
  return { files, dirs: listing };
}

function check(model: StartupModel, seen: ReturnType<typeof inspect>): string[] {
  const wrong: string[] = [];
  for (const [p, state] of seen.files) {
    const text = model.files[p];
    if (text === null && state !== 'absent') wrong.push(`${p}: the model says absent, the image has it`);
    if (text !== null && text !== undefined && model.digests?.[p] && model.digests[p] !== state) wrong.push(`${p}: sha256 ${state}, the model's summary is for ${model.digests[p]}`);
    if (text !== null && state === 'absent') wrong.push(`${p}: the model has a script for it, the image has no such file`);
  }
  for (const [d, names] of seen.dirs) {
    const listed = Object.keys(model.files).filter((f) => f.startsWith(d) && f !== d).map((f) => f.slice(d.length)).sort();
    if (JSON.stringify(listed) !== JSON.stringify(names)) wrong.push(`${d}: the image holds [${names.join(', ')}], the model lists [${listed.join(', ')}]`);
  }
  return wrong;
}

describe('the start-up model is the image', () => {
  it('airlock/sandbox:default matches SANDBOX_STARTUP (home /tmp starts empty)', () => {
    const seen = inspect('airlock/sandbox:default', '/tmp', SANDBOX_STARTUP);
    expect(seen.files.get('/etc/profile')).toBe(SANDBOX_STARTUP.digests!['/etc/profile']);
    expect(check(SANDBOX_STARTUP, seen)).toEqual([]);
  }, 600_000);

  it('the soundness image matches HARNESS_STARTUP (its home is prepared per batch from judge.ts)', () => {
    ensureSoundnessImage();
    const seen = inspect('airlock/soundness:local', null, HARNESS_STARTUP);
    expect(seen.dirs.get('/etc/profile.d/')).toContain('gawk.sh');
    expect(check(HARNESS_STARTUP, seen)).toEqual([]);
  }, 600_000);

  it('a model that is wrong about the image is caught', () => {
    const wrong: StartupModel = { ...SANDBOX_STARTUP, digests: { ...SANDBOX_STARTUP.digests, '/etc/profile': '0'.repeat(64) } };
    const seen = inspect('airlock/sandbox:default', '/tmp', wrong);
    expect(check(wrong, seen)).toEqual([expect.stringMatching(/^\/etc\/profile: sha256/)]);
    const missing = inspect('airlock/soundness:local', null, SANDBOX_STARTUP);
    expect(check(SANDBOX_STARTUP, missing).join('\n')).toMatch(/\/etc\/profile\.d\/: the image holds \[gawk\.csh, gawk\.sh\]/);
  }, 600_000);
});
