// The per-run certificate authority of edge secrets over HTTPS. To put a secret into an HTTPS request
// the egress proxy must read the request, so for the hosts a secret is for (and only those) it ends
// the sandbox's TLS itself with a leaf certificate for that host signed by a CA made for this run
// alone. The sandbox trusts that CA for this run only (its certificate, never its key, is in the
// run's egress directory); the key lives in the runner and the run's proxy process, in memory.
// node:crypto makes the keys; node-forge writes the X.509 certificates (node:crypto cannot).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createSecureContext, getCACertificates, type SecureContext } from 'node:tls';
import forge from 'node-forge';

/** A run's CA: the certificate the sandbox trusts and the key that never leaves the host. */
export interface RunCa {
  certPem: string;
  keyPem: string;
}

const HOUR_MS = 3_600_000;
/** A run's CA outlives any run the harness keeps open (idle runs close after 24 h by default). */
const CA_LIFETIME_MS = 30 * 24 * HOUR_MS;
const LEAF_LIFETIME_MS = 7 * 24 * HOUR_MS;

function rsaKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** A positive serial number of 16 random bytes (RFC 5280 wants it unique per issuer). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

function validity(cert: forge.pki.Certificate, lifetimeMs: number): void {
  const now = Date.now();
  // An hour back: a sandbox clock slightly behind must not see "not yet valid".
  cert.validity.notBefore = new Date(now - HOUR_MS);
  cert.validity.notAfter = new Date(now + lifetimeMs);
}

/** PEM with plain newlines (forge writes CRLF; trust bundles and tools expect LF). */
function pem(cert: forge.pki.Certificate): string {
  return forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');
}

/** Makes a fresh CA for one run (its name says which run, so a certificate found later is traceable). */
export function createRunCa(runId: string): RunCa {
  const keyPem = rsaKeyPem();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serial();
  validity(cert, CA_LIFETIME_MS);
  const name = [{ name: 'commonName', value: `Airlock egress CA for run ${runId}` }, { name: 'organizationName', value: 'Airlock' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { certPem: pem(cert), keyPem };
}

/**
 * The trust bundle a run's sandbox reads: the usual public roots (Node's bundled Mozilla store and
 * this host's system store) and the run's CA. Upstream verification in the proxy is not affected.
 */
export function trustBundle(ca: RunCa): string {
  const roots = new Set([...getCACertificates('bundled'), ...getCACertificates('system')]);
  return `${[...roots].map((c) => c.trim()).join('\n')}\n${ca.certPem.trim()}\n`;
}

/** Mints and caches a TLS server context per host, each leaf signed by the run's CA. */
export class LeafMinter {
  readonly #caCert: forge.pki.Certificate;
  readonly #caKey: forge.pki.rsa.PrivateKey;
  readonly #caPem: string;
  /** One key for every leaf of the run (a key per host buys nothing: one process holds them all). */
  readonly #leafKeyPem = rsaKeyPem();
  readonly #contexts = new Map<string, SecureContext>();

  constructor(ca: RunCa) {
    this.#caCert = forge.pki.certificateFromPem(ca.certPem);
    this.#caKey = forge.pki.privateKeyFromPem(ca.keyPem) as forge.pki.rsa.PrivateKey;
    this.#caPem = ca.certPem;
  }

  /** The server context for `host` (a DNS name; the proxy never intercepts IP literals). */
  contextFor(host: string): SecureContext {
    const known = this.#contexts.get(host);
    if (known) return known;
    const ctx = createSecureContext({ key: this.#leafKeyPem, cert: `${this.#leaf(host)}${this.#caPem}` });
    this.#contexts.set(host, ctx);
    return ctx;
  }

  #leaf(host: string): string {
    const key = forge.pki.privateKeyFromPem(this.#leafKeyPem) as forge.pki.rsa.PrivateKey;
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
    cert.serialNumber = serial();
    validity(cert, LEAF_LIFETIME_MS);
    cert.setSubject([{ name: 'commonName', value: host }]);
    cert.setIssuer(this.#caCert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: host }] },
      { name: 'authorityKeyIdentifier', keyIdentifier: this.#caCert.generateSubjectKeyIdentifier().getBytes() },
    ]);
    cert.sign(this.#caKey, forge.md.sha256.create());
    return pem(cert);
  }
}
