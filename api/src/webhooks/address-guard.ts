/**
 * The SSRF guard of webhook deliveries: a URL's host is resolved first and
 * every address it resolves to is checked; the delivery then connects to
 * the checked address (never resolving again, so DNS cannot swap in another
 * between check and connect). Loopback, private, link-local (which holds
 * the cloud metadata service, 169.254.169.254), CGNAT, unspecified,
 * multicast and reserved addresses are refused unless the operator's
 * allow-list (WEBHOOK_ALLOW_HOSTS: host names or IP addresses) names the
 * URL's host or the address.
 */
import { BlockList, isIP } from 'node:net';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
  ['2001:db8::', 32],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** Whether `address` (a literal IPv4 or IPv6 address) is one no webhook may reach. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    // IPv4-mapped (::ffff:10.0.0.1) and IPv4-compatible forms are judged as the IPv4 address.
    const mapped = /^::(ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return blocked.check(mapped[2], 'ipv4');
    return blocked.check(address, 'ipv6');
  }
  return true;
}

export type Lookup = (hostname: string) => Promise<{ address: string; family: number }[]>;

export interface ResolvedTarget {
  url: URL;
  /** The checked address the delivery connects to. */
  address: string;
  family: number;
}

export class BlockedWebhookAddress extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlockedWebhookAddress';
  }
}

const bareHost = (url: URL) => url.hostname.replace(/^\[|\]$/g, '').toLowerCase();

export function isAllowed(host: string, address: string | null, allowHosts: readonly string[]): boolean {
  return allowHosts.some((h) => h.toLowerCase() === host || (address !== null && h === address));
}

/** Refuses at once a URL whose host is a literal blocked address (nothing is resolved). */
export function checkLiteralHost(raw: string, allowHosts: readonly string[]): void {
  const url = new URL(raw);
  const host = bareHost(url);
  if (isIP(host) && isBlockedAddress(host) && !isAllowed(host, host, allowHosts)) {
    throw new BlockedWebhookAddress(`${host} is a loopback, private, link-local or reserved address; webhooks cannot call it`);
  }
}

/** Resolves the URL's host and checks every address; returns the first, to connect to. */
export async function resolveTarget(raw: string, lookup: Lookup, allowHosts: readonly string[]): Promise<ResolvedTarget> {
  const url = new URL(raw);
  const host = bareHost(url);
  checkLiteralHost(raw, allowHosts);
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host);
  if (addresses.length === 0) throw new BlockedWebhookAddress(`${host} does not resolve`);
  for (const { address } of addresses) {
    if (isBlockedAddress(address) && !isAllowed(host, address, allowHosts)) {
      throw new BlockedWebhookAddress(`${host} resolves to ${address}, a loopback, private, link-local or reserved address; webhooks cannot call it`);
    }
  }
  return { url, address: addresses[0].address, family: addresses[0].family };
}
