// Test upstreams for the egress suites: a CA and server certificate made by openssl (not by the code
// under test), and a bare git repository served as static files.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A test CA (`/CN=<caName>`) and one server certificate for `names` (the first is its CN), in `dir`. */
export function makeUpstreamPki(dir: string, caName: string, names: readonly string[]): { caPem: string; key: string; cert: string } {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${caName}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', `/CN=${names[0]}`);
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nextendedKeyUsage=serverAuth\n`);
  ssl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '2', '-extfile', 'ext.cnf');
  return { caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'), key: readFileSync(join(dir, 'srv.key'), 'utf8'), cert: readFileSync(join(dir, 'srv.pem'), 'utf8') };
}

/** A bare repository at `<dir>/www/repo.git`, one commit of `hello.txt` holding `text`, served as static files (git's dumb HTTP protocol). */
export function makeBareRepo(dir: string, text: string): void {
  const src = join(dir, 'src');
  mkdirSync(src);
  const git = (...args: string[]) => execFileSync('git', ['-C', src, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  writeFileSync(join(src, 'hello.txt'), text);
  git('add', '.');
  git('commit', '-q', '-m', 'first');
  execFileSync('git', ['clone', '-q', '--bare', src, join(dir, 'www', 'repo.git')], { stdio: 'pipe' });
  execFileSync('git', ['-C', join(dir, 'www', 'repo.git'), 'update-server-info'], { stdio: 'pipe' });
}
