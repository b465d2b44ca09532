// Where an allowed name goes: the egress proxy resolves names itself (the sandbox has no resolver),
// so what the allowlist approved is what is dialled. IP literals never pass (a policy allows names,
// see validate's egress-policy.ts), and a name that resolves to this host, a private network or a
// link-local address (cloud metadata) is refused: DNS must not turn an allowed name into a door to
// the runner's own services.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/** A resolved destination. */
export interface Destination {
  address: string;
  port: number;
}

/**
 * Test configuration only (never from a policy): names resolved to fixed loopback destinations,
 * `pypi.test` -> `127.0.0.1:PORT`, whatever port was asked. These skip the private-address check.
 * `dns:NAME` instead stands for a DNS record pointing the name where NAME points (`rebind.test` ->
 * `dns:localhost`): NAME is looked up with the system resolver and checked like any other name.
 */
export type TestResolveMap = Readonly<Record<string, string>>;

/** The prefix of a test-map entry looked up through the system resolver (see {@link TestResolveMap}). */
const TEST_ALIAS = 'dns:';

/** A host written as an IP literal (v4, v6, bracketed v6), which the proxy never dials. */
export function isIpLiteral(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  // Also the forms inet_aton accepts that isIP does not (`2130706433`, `0x7f.1`, `127.1`).
  return isIP(bare) !== 0 || /^(0x[0-9a-f]+|\d+)(\.(0x[0-9a-f]+|\d+)){0,3}$/i.test(bare);
}

const internal = new BlockList();
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) {
  internal.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) {
  internal.addSubnet(net, bits, 'ipv6');
}

/** Whether an address is loopback, private, link-local, multicast or otherwise not a public host. */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return internal.check(address, 'ipv4');
  // An IPv4-mapped IPv6 address is its IPv4 address (a rule for ::ffff:0:0/96 would match every IPv4).
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return internal.check(mapped[1]!, 'ipv4');
  if (/^::ffff:/i.test(address)) return true;
  if (family === 6) return internal.check(address, 'ipv6');
  return true;
}

/** A name the proxy could not or would not dial; the message is shown to the sandbox and logged. */
export class ResolveError extends Error {
  override name = 'ResolveError';
}

/** Resolves an allowed name to the address the proxy dials (the test map first). */
export async function resolveDestination(host: string, port: number, testMap: TestResolveMap): Promise<Destination> {
  const fixed = testMap[host];
  if (fixed !== undefined && !fixed.startsWith(TEST_ALIAS)) {
    const i = fixed.lastIndexOf(':');
    return { address: fixed.slice(0, i), port: Number(fixed.slice(i + 1)) };
  }
  let addresses: { address: string }[];
  try {
    addresses = await lookup(fixed?.slice(TEST_ALIAS.length) ?? host, { all: true, verbatim: true });
  } catch (err) {
    throw new ResolveError(`${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const usable = addresses.filter((a) => !isInternalAddress(a.address));
  if (usable.length === 0) throw new ResolveError(`${host} resolves to ${addresses.map((a) => a.address).join(', ')}: an internal address, refused`);
  return { address: usable[0]!.address, port };
}
