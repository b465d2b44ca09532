// Makes (or completes) one deployment's NATS credentials in a directory, for a NATS you run yourself
// or for docker-compose (its `credentials` service runs this first):
//
//   node --conditions=airlock-source deploy/credentials.ts --dir /var/lib/airlock/credentials --runners 4 [--resolver-dir DIR] [--harness-key FILE]
//
// Writes nats/auth.conf (every nats-server's config: NATS operator mode, the accounts preloaded;
// --resolver-dir is where each server keeps pushed account JWTs, default <dir>/nats/resolver),
// harness/runners.json (the harness pins these runner keys: AIRLOCK_RUNNERS_FILE), harness/ and
// client/nats.login (`JWT:SEED`, the login a NATS URL carries), the keys that sign every NATS user
// (harness/nats-authority.json), and one runners/<id>.json identity (with its runners/<id>.jwt) per
// runner (give each runner its own: --identity FILE). Idempotent:
// what exists is kept; --runners N only ever adds identities. Runner ids are `<tag>-<n>`, with a
// tag made once per directory, so two deployments on one Docker host never share a runner id.
// With --harness-key FILE (the harness's AIRLOCK_HARNESS_KEY_FILE; made there, 0600, if missing) it
// also writes roles/<role>.json for agent, operator, reviewer and admin: the role's NATS login and a
// credential signed by that key, what a client needs against a harness with AIRLOCK_AUTH=required.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDeployment } from '@airlock/harness';

const { values } = parseArgs({ options: { dir: { type: 'string' }, runners: { type: 'string', default: '4' }, 'resolver-dir': { type: 'string' }, 'harness-key': { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
if (values.help || !values.dir) {
  process.stdout.write('Usage: node --conditions=airlock-source deploy/credentials.ts --dir DIR [--runners N] [--resolver-dir DIR] [--harness-key FILE]\n');
  process.exit(values.help ? 0 : 2);
}
const dir = values.dir;
const want = Number(values.runners);
if (!Number.isInteger(want) || want < 1 || want > 256) {
  process.stderr.write('--runners is a number of runners, 1 to 256\n');
  process.exit(2);
}
mkdirSync(dir, { recursive: true, mode: 0o700 });
const tagFile = join(dir, 'runner-id-tag');
if (!existsSync(tagFile)) writeFileSync(tagFile, `r${randomBytes(3).toString('hex')}\n`);
const tag = readFileSync(tagFile, 'utf8').trim();
const existing = existsSync(join(dir, 'runners')) ? readdirSync(join(dir, 'runners')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)) : [];
const ids = [...existing];
for (let n = 1; ids.length < want; n++) if (!ids.includes(`${tag}-${n}`)) ids.push(`${tag}-${n}`);
const d = await ensureDeployment(dir, ids.sort(), {
  ...(values['resolver-dir'] ? { resolverDir: values['resolver-dir'] } : {}),
  ...(values['harness-key'] ? { harnessKeyFile: values['harness-key'] } : {}),
});
// Runners (compose) wait for this before claiming an identity: every file above is complete.
writeFileSync(join(dir, 'runners', 'READY'), `${d.runners.length}\n`);
const roles = values['harness-key'] ? `, role credentials in ${join(dir, 'roles')}` : '';
process.stdout.write(`credentials for ${d.runners.length} runners in ${dir} (nats config ${d.natsConf}${roles})\n`);
