import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AirlockError } from '@airlock/proto';
import { DEFAULT_MIN_SECRET_LENGTH } from '@airlock/trust';

/** Where secrets come from. Pluggable: anything that can list and read named values. */
export interface SecretSource {
  readonly name: string;
  get(name: string): string | undefined;
  names(): string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `AIRLOCK_SECRET_<NAME>=value` variables of the harness's own environment. */
export function envSecrets(env: NodeJS.ProcessEnv, prefix = 'AIRLOCK_SECRET_'): SecretSource {
  const values = new Map<string, string>();
  for (const [k, v] of Object.entries(env)) if (k.startsWith(prefix) && v !== undefined && NAME.test(k.slice(prefix.length))) values.set(k.slice(prefix.length), v);
  return { name: 'env', get: (n) => values.get(n), names: () => [...values.keys()] };
}

/**
 * One file per secret in `dir` (file name = secret name, content = value, one trailing newline
 * dropped). A file readable by group or others is refused: secrets must be mode 0600 or stricter.
 */
export function fileSecrets(dir: string, warn: (msg: string) => void): SecretSource {
  const values = new Map<string, string>();
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return { name: `files:${dir}`, get: () => undefined, names: () => [] };
  }
  for (const file of entries) {
    if (!NAME.test(file)) continue;
    const path = join(dir, file);
    const st = statSync(path);
    if (!st.isFile()) continue;
    if ((st.mode & 0o077) !== 0) {
      warn(`secret file ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}); not loaded: chmod 600 it`);
      continue;
    }
    values.set(file, readFileSync(path, 'utf8').replace(/\r?\n$/, ''));
  }
  return { name: `files:${dir}`, get: (n) => values.get(n), names: () => [...values.keys()] };
}

/** `${secret:NAME}`: the only way a request refers to a secret. */
export const SECRET_PLACEHOLDER = /^\$\{secret:([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** The harness's secrets: first source that has a name wins. Values never leave it except to one step. */
export class SecretStore {
  readonly #sources: SecretSource[];

  constructor(sources: SecretSource[]) {
    this.#sources = sources;
  }

  get(name: string): string | undefined {
    for (const s of this.#sources) {
      const v = s.get(name);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** Every value held (for redacting what the harness itself writes). */
  all(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const s of [...this.#sources].reverse()) for (const n of s.names()) out[n] = s.get(n)!;
    return out;
  }

  /**
   * Splits a step's requested env into plain variables and granted secrets. A value `${secret:NAME}`
   * must name a secret the policy grants to this step's commands and the store holds; otherwise the
   * step is refused (`secret_denied`). Returns the secrets as env name -> value.
   */
  resolve(
    env: Record<string, string>,
    grants: ReadonlyArray<{ name: string; commands?: string[] | undefined; hosts?: string[] | undefined }>,
    commands: readonly string[],
  ): { env: Record<string, string>; secrets: Record<string, string>; names: string[] } {
    const plain: Record<string, string> = {};
    const secrets: Record<string, string> = {};
    const names: string[] = [];
    for (const [key, value] of Object.entries(env)) {
      const m = SECRET_PLACEHOLDER.exec(value);
      if (!m) {
        plain[key] = value;
        continue;
      }
      const name = m[1]!;
      const grant = grants.find((g) => g.name === name);
      if (!grant) throw new AirlockError('secret_denied', `the policy grants no step the secret ${name}`);
      if (grant.commands && !commands.every((c) => grant.commands!.includes(c))) {
        throw new AirlockError('secret_denied', `the policy grants ${name} only to ${grant.commands.join(', ')}; this step runs ${commands.join(', ') || 'nothing it can name'}`);
      }
      // An edge secret (given by the egress proxy to its hosts) is known to the runner by its name:
      // under another variable the sandbox would get the value itself instead of a placeholder.
      if (grant.hosts && key !== name) throw new AirlockError('secret_denied', `${name} is given at the edge (policy secrets.hosts): pass it as ${name}=\${secret:${name}}, not as ${key}`);
      const v = this.get(name);
      if (v === undefined) throw new AirlockError('secret_denied', `the harness holds no secret ${name} (AIRLOCK_SECRET_${name}, or a 0600 file in the secrets directory)`);
      // The runner cannot redact a value this short (it would match everywhere): granting it would
      // stream it out in clear. Refuse here, where the operator can still fix the secret.
      if ([...v].length < DEFAULT_MIN_SECRET_LENGTH) {
        throw new AirlockError('secret_denied', `secret ${name} is ${[...v].length} characters long, too short to redact from output (at least ${DEFAULT_MIN_SECRET_LENGTH}); it is never granted: replace it with a longer value`, {
          data: { secret: name, reason: 'too_short', length: [...v].length, minLength: DEFAULT_MIN_SECRET_LENGTH },
        });
      }
      secrets[key] = v;
      names.push(name);
    }
    return { env: plain, secrets, names };
  }
}
