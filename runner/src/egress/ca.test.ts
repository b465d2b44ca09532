// The run CA and its leaves, checked with node:crypto's X.509 parser and a real TLS handshake.
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { createRunCa, LeafMinter, trustBundle } from './ca.ts';

/** Handshakes with a server that answers with the minter's leaf for whatever name is asked. */
async function handshake(minter: LeafMinter, servername: string, ca: string[]): Promise<{ authorized: boolean; error?: string; subjectaltname?: string }> {
  const server = createServer({ SNICallback: (name, cb) => cb(null, minter.contextFor(name)) }, (s) => s.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    return await new Promise((resolve) => {
      const c = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername, ca, rejectUnauthorized: false }, () => {
        resolve({ authorized: c.authorized, ...(c.authorizationError ? { error: String(c.authorizationError) } : {}), subjectaltname: c.getPeerCertificate().subjectaltname });
        c.end();
      });
      c.on('error', (err) => resolve({ authorized: false, error: err.message }));
    });
  } finally {
    server.close();
  }
}

describe('the run CA', () => {
  const ca = createRunCa('01TESTRUN');
  const minter = new LeafMinter(ca);

  it('is a CA named after its run, limited to signing leaves (path length 0)', () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toContain('CN=Airlock egress CA for run 01TESTRUN');
    expect(cert.checkIssued(cert)).toBe(true);
    expect(ca.certPem).not.toContain('\r');
  });

  it("mints a leaf per host that a client trusting only the run CA accepts; a client trusting another run’s CA refuses it", async () => {
    expect(await handshake(minter, 'api.github.test', [ca.certPem])).toEqual({ authorized: true, subjectaltname: 'DNS:api.github.test' });
    // The same server asked for another name answers with that name's leaf, still trusted (one per host).
    expect((await handshake(minter, 'other.test', [ca.certPem])).subjectaltname).toBe('DNS:other.test');
    // Another run's CA does not vouch for this run's leaves.
    const stranger = createRunCa('01OTHERRUN');
    expect(await handshake(minter, 'api.github.test', [stranger.certPem])).toMatchObject({ authorized: false, error: 'SELF_SIGNED_CERT_IN_CHAIN' });
  });

  it('the bundle holds public roots and the run CA, never a key', () => {
    const bundle = trustBundle(ca);
    expect(bundle.split('-----BEGIN CERTIFICATE-----').length - 1).toBeGreaterThan(100);
    expect(bundle.trimEnd().endsWith(ca.certPem.trimEnd())).toBe(true);
    expect(bundle).not.toContain('PRIVATE KEY');
    expect(ca.keyPem).toContain('PRIVATE KEY');
  });
});
