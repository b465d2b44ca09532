// The harness's image, built on demand: airlock/sandbox:default plus strace and common tools
// (sandbox-images/soundness). Idempotent like sandbox-images/build.sh: the hash of its inputs (the
// Dockerfile, the driver, the base image's id) is a label, and an image whose label matches is reused.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The image every soundness sandbox runs. */
export const SOUNDNESS_IMAGE = 'airlock/soundness:local';
const BASE_IMAGE = 'airlock/sandbox:default';
const CONTEXT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'sandbox-images', 'soundness');

function docker(args: readonly string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DOCKER_BUILDKIT: '0' } }).trim();
}

/** sha256 (16 hex) over the build context's files and the base image id: the `airlock.inputs` label. */
export function imageInputs(): string {
  const h = createHash('sha256');
  for (const f of ['Dockerfile', 'driver.py']) h.update(f).update('\0').update(readFileSync(join(CONTEXT, f))).update('\0');
  h.update(docker(['image', 'inspect', '-f', '{{.Id}}', BASE_IMAGE]));
  return h.digest('hex').slice(0, 16);
}

/**
 * Builds {@link SOUNDNESS_IMAGE} unless an image with the same inputs exists. `apt-get` inside the build
 * needs the host network (the engine runs without a bridge); nothing the image later runs has a network.
 */
export function ensureSoundnessImage(log: (line: string) => void = () => {}): string {
  const inputs = imageInputs();
  let current = '';
  try {
    current = docker(['image', 'inspect', '-f', '{{ index .Config.Labels "airlock.inputs" }}', SOUNDNESS_IMAGE]);
  } catch {
    current = '';
  }
  if (current === inputs) return SOUNDNESS_IMAGE;
  log(`==> building ${SOUNDNESS_IMAGE} (apt-get install strace …, ~1 min)`);
  docker(['build', '--quiet', '--network', 'host', '--label', `airlock.inputs=${inputs}`, '-t', SOUNDNESS_IMAGE, CONTEXT]);
  return SOUNDNESS_IMAGE;
}
