/**
 * Secret reads by method.
 *
 * Files that hold secrets are data in the policy (`paths`, rule
 * `exfil.secret_read`): every argument and redirect the chain reads is
 * checked against them whatever the tool. This module covers what a path
 * cannot: commands whose OUTPUT is a secret (`gh auth token`, `aws configure
 * export-credentials`, `kubectl get secret -o yaml`, `printenv GITHUB_TOKEN`,
 * `echo $API_KEY`), and where a secret goes next: printed is `ask`, sent over
 * the network or encoded (`| base64`, `| curl -d @-`) is `deny`. Pure
 * functions over argv and the walked commands; analyze.ts reports.
 */
import type { Cmd, Walked } from './walk.ts';
import type { Word } from './words.ts';

/** One command that prints a secret. */
export interface SecretCommand {
  /** Program basenames (`docker-credential-*` is a pattern). */
  readonly commands: readonly string[];
  /** Non-option words that must appear, in this order (`['auth', 'token']`). */
  readonly words: readonly (string | RegExp)[];
  /** One argument must match this as well (`-t`, `--raw`, `-o yaml`). */
  readonly arg?: RegExp;
  readonly reason: string;
  /** An example (tests are generated from these). */
  readonly example: string;
  /** A command of the same tool that prints no secret. */
  readonly benign?: string;
}

/** Commands whose output is a credential. */
export const SECRET_COMMANDS: readonly SecretCommand[] = [
  { commands: ['gh'], words: ['auth', 'token'], reason: 'prints the GitHub CLI token', example: 'gh auth token', benign: 'gh auth status' },
  { commands: ['gh'], words: ['auth', 'status'], arg: /^(-t|--show-token|-[a-zA-Z]*t[a-zA-Z]*)$/, reason: 'prints the GitHub CLI token', example: 'gh auth status -t', benign: 'gh auth status -h github.com' },
  { commands: ['glab'], words: ['auth', 'status'], arg: /^(-t|--show-token)$/, reason: 'prints the GitLab CLI token', example: 'glab auth status -t' },
  { commands: ['glab'], words: ['config', 'get', 'token'], reason: 'prints the GitLab CLI token', example: 'glab config get token' },
  { commands: ['git'], words: ['credential'], arg: /^(fill|get)$/, reason: 'prints stored git credentials', example: 'git credential fill' },
  { commands: ['git'], words: ['config'], arg: /^(credential\..*|http\..*extraheader|.*\.(token|password))$/i, reason: 'prints a git credential setting', example: 'git config --get credential.helper', benign: 'git config --get user.name' },
  { commands: ['git-credential-store', 'git-credential-cache', 'git-credential-osxkeychain', 'git-credential-libsecret', 'git-credential-manager', 'git-credential-manager-core', 'git-credential-wincred'], words: ['get'], reason: 'prints stored git credentials', example: 'git-credential-store get' },
  { commands: ['aws'], words: ['configure', 'get'], arg: /(key|secret|token|password)/i, reason: 'prints an AWS credential', example: 'aws configure get aws_secret_access_key', benign: 'aws configure get region' },
  { commands: ['aws'], words: ['configure', 'export-credentials'], reason: 'prints AWS credentials', example: 'aws configure export-credentials' },
  { commands: ['aws'], words: ['sts'], arg: /^(get-session-token|assume-role|assume-role-with-web-identity|assume-role-with-saml|get-federation-token)$/, reason: 'prints temporary AWS credentials', example: 'aws sts get-session-token', benign: 'aws sts get-caller-identity' },
  { commands: ['aws'], words: ['ecr'], arg: /^(get-login-password|get-authorization-token)$/, reason: 'prints a registry password', example: 'aws ecr get-login-password' },
  { commands: ['aws'], words: ['codeartifact', 'get-authorization-token'], reason: 'prints a package-registry token', example: 'aws codeartifact get-authorization-token --domain d' },
  { commands: ['aws'], words: ['secretsmanager', 'get-secret-value'], reason: 'prints a stored secret', example: 'aws secretsmanager get-secret-value --secret-id prod/db' },
  { commands: ['aws'], words: ['ssm'], arg: /^--with-decryption$/, reason: 'prints decrypted parameters', example: 'aws ssm get-parameter --name /db/pw --with-decryption' },
  { commands: ['aws'], words: ['iam', 'create-access-key'], reason: 'creates and prints an access key', example: 'aws iam create-access-key' },
  { commands: ['aws'], words: ['rds', 'generate-db-auth-token'], reason: 'prints a database token', example: 'aws rds generate-db-auth-token --hostname h --port 5432 --username u' },
  { commands: ['aws'], words: ['eks', 'get-token'], reason: 'prints a cluster token', example: 'aws eks get-token --cluster-name c' },
  { commands: ['gcloud'], words: ['auth'], arg: /^(print-access-token|print-identity-token)$/, reason: 'prints a Google Cloud token', example: 'gcloud auth print-access-token', benign: 'gcloud auth list' },
  { commands: ['gcloud'], words: ['config', 'config-helper'], reason: 'prints a Google Cloud token', example: 'gcloud config config-helper --format=json' },
  { commands: ['gcloud'], words: ['secrets', 'versions', 'access'], reason: 'prints a stored secret', example: 'gcloud secrets versions access latest --secret=db' },
  { commands: ['gcloud'], words: ['sql', 'generate-login-token'], reason: 'prints a database token', example: 'gcloud sql generate-login-token' },
  { commands: ['az'], words: ['account', 'get-access-token'], reason: 'prints an Azure token', example: 'az account get-access-token', benign: 'az account show' },
  { commands: ['az'], words: ['keyvault', 'secret'], arg: /^(show|download)$/, reason: 'prints a Key Vault secret', example: 'az keyvault secret show --vault-name v --name n' },
  { commands: ['az'], words: ['storage', 'account', 'keys', 'list'], reason: 'prints storage account keys', example: 'az storage account keys list -n acct' },
  { commands: ['az'], words: ['acr', 'login'], arg: /^--expose-token$/, reason: 'prints a registry token', example: 'az acr login -n r --expose-token' },
  { commands: ['kubectl', 'oc', 'k'], words: ['config', 'view'], arg: /^(--raw|--flatten)$/, reason: 'prints cluster credentials from the kubeconfig', example: 'kubectl config view --raw', benign: 'kubectl config view' },
  { commands: ['kubectl', 'oc', 'k'], words: ['get', /^(secrets?|secrets?\/.+)$/], arg: /^(-o|--output=)?(yaml|json|jsonpath.*|go-template.*|template.*|custom-columns.*)$|^-o(yaml|json)$/, reason: 'prints Kubernetes secrets', example: 'kubectl get secret db -o yaml', benign: 'kubectl get secrets' },
  { commands: ['kubectl', 'oc', 'k'], words: ['create', 'token'], reason: 'creates and prints a service-account token', example: 'kubectl create token default' },
  { commands: ['kubectl', 'oc', 'k'], words: ['view-secret'], reason: 'prints a Kubernetes secret', example: 'kubectl view-secret db' },
  { commands: ['docker-credential-*'], words: [], arg: /^(get|list)$/, reason: 'prints stored registry credentials', example: 'docker-credential-desktop get' },
  { commands: ['op'], words: ['read'], reason: 'prints a 1Password secret', example: 'op read op://vault/item/password' },
  { commands: ['op'], words: ['item', 'get'], reason: 'prints a 1Password item', example: 'op item get github --reveal' },
  { commands: ['op'], words: ['document', 'get'], reason: 'prints a 1Password document', example: 'op document get key' },
  { commands: ['op'], words: ['inject'], reason: 'fills secrets into a template', example: 'op inject -i tpl.env' },
  { commands: ['bw'], words: ['get'], reason: 'prints a Bitwarden secret', example: 'bw get password github' },
  { commands: ['bw'], words: ['export'], reason: 'exports the Bitwarden vault', example: 'bw export' },
  { commands: ['bw'], words: ['unlock'], arg: /^--raw$/, reason: 'prints a Bitwarden session key', example: 'bw unlock --raw' },
  { commands: ['lpass'], words: ['show'], reason: 'prints a LastPass secret', example: 'lpass show github' },
  { commands: ['keepassxc-cli'], words: [], arg: /^(show|export|clip)$/, reason: 'prints a KeePass entry', example: 'keepassxc-cli show db.kdbx github' },
  { commands: ['vault'], words: ['read'], reason: 'prints a Vault secret', example: 'vault read secret/foo' },
  { commands: ['vault'], words: ['kv', 'get'], reason: 'prints a Vault secret', example: 'vault kv get secret/foo', benign: 'vault status' },
  { commands: ['vault'], words: ['token', 'create'], reason: 'creates and prints a Vault token', example: 'vault token create' },
  { commands: ['vault'], words: ['print', 'token'], reason: 'prints the Vault token', example: 'vault print token' },
  { commands: ['security'], words: [], arg: /^(find-generic-password|find-internet-password|dump-keychain|export)$/, reason: 'reads the macOS keychain', example: 'security find-generic-password -s github -w', benign: 'security list-keychains' },
  { commands: ['pass', 'gopass'], words: ['show'], reason: 'prints a password-store entry', example: 'pass show email/gmail', benign: 'pass ls' },
  { commands: ['secret-tool'], words: ['lookup'], reason: 'prints a keyring secret', example: 'secret-tool lookup service github' },
  { commands: ['kwallet-query'], words: [], arg: /^(-r|--read-password)$/, reason: 'prints a KWallet secret', example: 'kwallet-query -r github kdewallet' },
  { commands: ['heroku'], words: [], arg: /^(auth:token|config|config:get)$/, reason: 'prints a Heroku token or config vars', example: 'heroku auth:token' },
  { commands: ['npm', 'pnpm'], words: ['token'], arg: /^(list|ls|create)$/, reason: 'prints npm tokens', example: 'npm token list' },
  { commands: ['npm', 'pnpm', 'yarn'], words: ['config', 'get'], arg: /(auth|token|password)/i, reason: 'prints a registry credential', example: 'npm config get //registry.npmjs.org/:_authToken', benign: 'npm config get registry' },
  { commands: ['gpg', 'gpg2'], words: [], arg: /^--export-secret-(keys|subkeys)$/, reason: 'exports private keys', example: 'gpg --export-secret-keys -a', benign: 'gpg --list-keys' },
  { commands: ['sops'], words: [], arg: /^(-d|--decrypt|decrypt|exec-env|exec-file)$/, reason: 'decrypts a secrets file', example: 'sops -d secrets.enc.yaml' },
  { commands: ['ansible-vault'], words: [], arg: /^(view|decrypt)$/, reason: 'decrypts a vault file', example: 'ansible-vault view vars.yml' },
  { commands: ['doppler'], words: ['secrets'], arg: /^(get|download)$|^secrets$/, reason: 'prints Doppler secrets', example: 'doppler secrets download --no-file' },
  { commands: ['infisical'], words: [], arg: /^(secrets|export)$/, reason: 'prints Infisical secrets', example: 'infisical export' },
  { commands: ['terraform', 'tofu'], words: ['state', 'pull'], reason: 'prints Terraform state (holds secrets)', example: 'terraform state pull', benign: 'terraform state list' },
  { commands: ['getent'], words: [/^g?shadow$/], reason: 'prints password hashes', example: 'getent shadow', benign: 'getent passwd root' },
  { commands: ['systemctl'], words: ['show-environment'], reason: 'prints the service manager environment', example: 'systemctl show-environment' },
];

const SECRET_CMD_BY_NAME = new Map<string, SecretCommand[]>();
const SECRET_CMD_PATTERNS: { re: RegExp; entry: SecretCommand }[] = [];
for (const e of SECRET_COMMANDS) {
  for (const c of e.commands) {
    if (c.includes('*')) SECRET_CMD_PATTERNS.push({ re: new RegExp('^' + c.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.+') + '$'), entry: e });
    else SECRET_CMD_BY_NAME.set(c, [...(SECRET_CMD_BY_NAME.get(c) ?? []), e]);
  }
}

/** The entry when `name args…` prints a secret, else null. */
export function secretCommand(name: string, args: readonly Word[]): SecretCommand | null {
  let list = SECRET_CMD_BY_NAME.get(name);
  if (list === undefined) {
    if (!name.includes('-')) return null;
    const p = SECRET_CMD_PATTERNS.find((x) => x.re.test(name));
    if (!p) return null;
    list = [p.entry];
  }
  const vals = args.map((a) => a.value ?? '');
  for (const e of list) {
    if (!wordsInOrder(vals, e.words)) continue;
    if (e.arg && !vals.some((v) => e.arg!.test(v))) continue;
    return e;
  }
  return null;
}

function wordsInOrder(vals: readonly string[], words: readonly (string | RegExp)[]): boolean {
  let k = 0;
  for (const v of vals) {
    if (k === words.length) break;
    const w = words[k]!;
    if (typeof w === 'string' ? v === w : w.test(v)) k++;
  }
  return k === words.length;
}

// ---------------------------------------------------------------------------
// Variables whose name says they hold a secret

/**
 * `GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`, `OPENAI_API_KEY`, `DB_PASSWORD`,
 * `DATABASE_URL`; not `PUBLIC` keys, not `KEY` alone (a loop variable).
 */
const SECRET_NAME = /^(?!.*PUBLIC)(?:[A-Z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|PRIVATE_KEY|CREDENTIAL)[A-Z0-9_]*|[A-Z0-9_]+_(?:KEY|PASS|PAT|DSN|COOKIE|APIKEY)|(?:[A-Z0-9_]+_)?DATABASE_URL)$/;

/** Whether a variable's name says it holds a secret. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Secret-named variables whose value a word expands (not `${#X}`, `${X:+set}`). */
export function secretValuesIn(w: Word): string[] {
  const out: string[] = [];
  for (const v of w.vars) {
    if (!isSecretName(v) || out.includes(v)) continue;
    // Every use is a length, an "is it set" test or one short prefix (`${KEY:0:8}`): the value is not printed.
    const uses = w.raw.match(new RegExp(`\\$\\{?#?${v}(?![A-Za-z0-9_])[^}\\s"]{0,8}\\}?`, 'g')) ?? [];
    const prefixes = uses.filter((u) => new RegExp(`^\\$\\{${v}:0?:([1-9]|1[0-2])\\}`).test(u)).length;
    if (uses.length > 0 && prefixes <= 1 && uses.every((u) => u.startsWith('${#') || new RegExp(`^\\$\\{${v}(:?\\+|:0?:([1-9]|1[0-2])\\})`).test(u))) continue;
    out.push(v);
  }
  return out;
}

const PRINTERS = new Set(['echo', 'printf', 'print', 'printenv', 'cat', 'tee', 'xxd', 'od', 'base64']);

/**
 * Secret-named variables a command prints: `echo $TOKEN`, `printf %s "$KEY"`,
 * `printenv GITHUB_TOKEN`, `cat <<< "$PASSWORD"`.
 */
export function printedSecrets(name: string, args: readonly Word[], cmd: Cmd): string[] {
  if (!PRINTERS.has(name)) return [];
  const out: string[] = [];
  if (name === 'printenv') {
    for (const a of args) if (a.value !== null && isSecretName(a.value)) out.push(a.value);
    return out;
  }
  for (const a of args) out.push(...secretValuesIn(a));
  const st = cmd.stdin;
  if (st?.kind === 'dynamic') out.push(...secretValuesIn(st.word));
  return out;
}

/** Variables that hold the PATH of a credential file (`cat "$GOOGLE_APPLICATION_CREDENTIALS"`). */
const CRED_PATH_VAR = /^(KUBECONFIG|GOOGLE_APPLICATION_CREDENTIALS|AWS_SHARED_CREDENTIALS_FILE|AWS_WEB_IDENTITY_TOKEN_FILE|AWS_CONFIG_FILE|DOCKER_CONFIG|NETRC|PGPASSFILE|VAULT_TOKEN_FILE|SSH_KEY|SSH_KEY_PATH|GIT_SSH_KEY|[A-Z0-9_]*_(KEY|TOKEN|PASSWORD|SECRET|CREDENTIALS?)_(FILE|PATH))$/;
const FILE_READERS = new Set(['cat', 'head', 'tail', 'less', 'more', 'strings', 'base64', 'xxd', 'od', 'jq', 'yq', 'bat', 'tac', 'nl', 'cp', 'scp', 'rsync', 'grep', 'sed', 'awk', 'tar', 'zip', 'openssl', 'gpg', 'source', '.']);

/** Credential-path variables whose file a reader opens. */
export function credentialFileReads(name: string, args: readonly Word[]): string[] {
  if (!FILE_READERS.has(name)) return [];
  const out: string[] = [];
  for (const a of args) for (const v of a.vars) if (CRED_PATH_VAR.test(v) && !out.includes(v)) out.push(v);
  return out;
}

const HUNT_PATTERN = /passw|secret|token|api[_-]?key|apikey|AKIA|PRIVATE KEY|private[_ ]key|credential|bearer/i;
const HUNT_ROOT = /^(~|~\/|\/|\/home(\/[^/]*)?\/?|\/Users(\/[^/]*)?\/?|\/root\/?|\/etc\/?|\/var\/?|\/opt\/?|\/srv\/?|\/mnt\/?|\/proc\/?|~\/\.[^/]+\/?)$/;

/** `grep -r password ~`, `rg -i 'api_key' /`: a recursive search for secrets outside the workspace. */
export function secretHunt(name: string, args: readonly Word[]): boolean {
  if (!PATTERN_TOOLS.has(name) || name === 'sed' || /awk$/.test(name) || name === 'jq' || name === 'yq' || name === 'perl' || name === 'expr') return false;
  const recursive = name === 'rg' || name === 'ag' || name === 'ack' || args.some((a) => /^-[a-zA-Z]*[rR]|^--(recursive|dereference-recursive)$/.test(a.value ?? ''));
  if (!recursive) return false;
  const text = args.map((a) => a.value ?? a.raw);
  return text.some((t) => HUNT_PATTERN.test(t)) && args.some((a) => HUNT_ROOT.test(a.pattern.replace(/\u0001/g, '')) && !(a.value ?? '').startsWith('-'));
}

/** `ps e`, `ps auxeww`: BSD-style options with `e` print every process's environment. */
export function psShowsEnvironment(args: readonly Word[]): boolean {
  return args.some((a) => a.value !== null && /^[a-zA-Z]*e[a-zA-Z]*$/.test(a.value) && /^[aAcefhjlmrsSTuvwxXZ]+$/.test(a.value));
}

// ---------------------------------------------------------------------------
// Where output goes

/** Tools whose output hides what they read from a person reading the log (encoded, compressed, encrypted). */
const ENCODERS = new Set(['base64', 'base32', 'basenc', 'uuencode', 'gzip', 'bzip2', 'xz', 'zstd', 'lz4', 'brotli', 'openssl', 'gpg', 'gpg2', 'rev', 'zip', '7z', 'qrencode', 'age']);

/**
 * Whether `name args` encodes its input. Hex dumps that print the text
 * beside the bytes (`hexdump -C`, `xxd`, `od -c`) show the secret as it is;
 * plain hex (`xxd -p`, `od` in octal) hides it.
 */
export function encodes(name: string, args: readonly Word[]): boolean {
  if (ENCODERS.has(name)) return true;
  const vals = args.map((a) => a.value ?? '');
  if (name === 'xxd') return vals.some((v) => /^-(p|ps|postscript|plain|i|include|b|bits)$/.test(v));
  if (name === 'hexdump' || name === 'hd') return name === 'hexdump' && !vals.some((v) => /^-[a-zA-Z]*C|^-e$/.test(v));
  if (name === 'od') return !vals.some((v) => /^-[a-zA-Z]*[ac]|^-t[ac]|^(-t|--format=)/.test(v));
  return false;
}

function base(n: string): string {
  const i = n.lastIndexOf('/');
  return i >= 0 ? n.slice(i + 1) : n;
}

/** Where a command's output ends up, as far as the walk shows. */
export interface Sink {
  readonly network: string | null;
  readonly encoder: string | null;
}

/**
 * Follows `cmd`'s stdout through pipes (transitively) and out of a `$(…)`
 * into the command whose argument holds it; reports the first network tool
 * and the first encoder on the way.
 */
export function sinkOf(walked: Walked, cmd: Cmd, isNetwork: (name: string) => boolean): Sink {
  let network: string | null = null;
  let encoder: string | null = null;
  const seen = new Set<Cmd>([cmd]);
  const queue: Cmd[] = [cmd];
  for (let steps = 0; queue.length > 0 && steps < 64; steps++) {
    const c = queue.shift()!;
    for (const d of walked.cmds) {
      if (seen.has(d)) continue;
      const piped = c.pipesOut && d.stdin?.kind === 'pipe' && d.stdin.from.includes(c);
      const captured = c.inSubstitution && d !== c && d.start <= c.start && c.end <= d.end && d.args.some((a) => a.start <= c.start && c.end <= a.end);
      if (!piped && !captured) continue;
      seen.add(d);
      const n = d.name?.value ? base(d.name.value) : '';
      if (network === null && isNetwork(n)) network = n;
      if (encoder === null && encodes(n, d.args)) encoder = n;
      queue.push(d);
    }
  }
  return { network, encoder };
}

// ---------------------------------------------------------------------------
// Which argument is a pattern, not a file

const PATTERN_TOOLS = new Set(['grep', 'egrep', 'fgrep', 'rg', 'ag', 'ack', 'sed', 'awk', 'gawk', 'mawk', 'git-grep', 'zgrep', 'jq', 'yq', 'perl', 'expr']);

/**
 * Index of the argument that is a search pattern or program text rather than
 * a file (`grep PATTERN file`, `awk 'prog' file`, `perl -pe 'code' file`),
 * or -1. A pattern given by option (`grep -e p`, `-f file`, `perl -pe1`)
 * leaves every positional a file, so `perl -pe1 ~/.netrc` is a read.
 */
export function patternArgIndex(name: string, args: readonly Word[]): number {
  if (!PATTERN_TOOLS.has(name)) return -1;
  const perl = name === 'perl';
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value;
    if (v === null) return i;
    if (v === '--') return i + 1 < args.length ? i + 1 : -1;
    if (!v.startsWith('-') || v === '-') return perl ? -1 : i;
    if (perl) {
      if (/^-[a-zA-Z]*[eE]$/.test(v)) return i + 1;
      if (/^-[a-zA-Z]*[eE]./.test(v)) return -1;
      continue;
    }
    if (/^-[a-zA-Z]*[ef]/.test(v) || /^--(regexp|file|expression|from-file)(=|$)/.test(v)) return -1;
  }
  return -1;
}

/** Rule ids of findings that mean "this command reads a secret". */
export const SECRET_READ_RULES: ReadonlySet<string> = new Set(['exfil.history_read', 'exfil.secret_read', 'exfil.process_read', 'exfil.env_file_read', 'exfil.secret_command', 'exfil.secret_env']);
