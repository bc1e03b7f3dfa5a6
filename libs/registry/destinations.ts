import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

// Where a registry may send us besides itself: blob downloads redirected to storage, and the token
// service of a bearer challenge. Both are named by the registry, so both are attacker-chosen hosts
// unless the pipeline file vouches for them.

const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local: cloud metadata services live here
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3], // multicast and reserved
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv6');
}

/** Loopback, link-local, private, shared or reserved (also as an IPv4-mapped IPv6 address). */
export function isPrivateAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, '');
  const family = isIP(ip);
  if (family === 4) return PRIVATE.check(ip, 'ipv4');
  if (family !== 6) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (mapped) return PRIVATE.check(mapped, 'ipv4');
  return PRIVATE.check(ip, 'ipv6');
}

/** True when `url`'s host (with its port, when not the scheme's default) is in `hosts`. */
export function isListed(url: URL, hosts: readonly string[]): boolean {
  const host = url.host.toLowerCase();
  return hosts.some((h) => h.toLowerCase() === host);
}

/**
 * Why a redirect of a blob download to `to` is refused, or null when it may be followed. Allowed:
 * the registry itself, a host listed in its `redirects`, or any https host that is not an address
 * literal in a private range (names are checked when they resolve: see `publicOnlyLookup`).
 */
export function redirectRefusal(to: URL, registry: { url: string; redirects?: readonly string[] }): string | null {
  if (to.protocol !== 'https:' && to.protocol !== 'http:') return `${to.protocol} is not http(s)`;
  if (to.origin === new URL(registry.url).origin) return null;
  if (isListed(to, registry.redirects ?? [])) return null;
  if (to.protocol !== 'https:') return `plain http to a host not listed in the registry's redirects`;
  if (isPrivateAddress(to.hostname))
    return `${to.hostname} is a loopback, link-local or private address not listed in the registry's redirects`;
  return null;
}

/**
 * A DNS lookup for connections to hosts nobody configured: names that resolve only to private
 * addresses fail (a public name pointed at 127.0.0.1 or 169.254.169.254 is the classic SSRF).
 */
export function publicOnlyLookup(
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  dnsLookup(hostname, { ...options, all: true } as LookupAllOptions, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const allowed = addresses.filter((a) => !isPrivateAddress(a.address));
    if (allowed.length === 0) {
      const refused: NodeJS.ErrnoException = new Error(`${hostname} resolves only to loopback, link-local or private addresses`);
      refused.code = 'EPRIVATEADDRESS';
      return callback(refused, '', 0);
    }
    if (options.all) return callback(null, allowed);
    callback(null, allowed[0]!.address, allowed[0]!.family);
  });
}
