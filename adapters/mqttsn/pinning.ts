import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import type { Peer } from './peer.js';

/** One parsed `mqttsn.clients.<id>.address` entry: an address or CIDR range, optionally one port. */
interface AddressSpec {
  list: BlockList;
  port?: number;
}

/** IPv4-mapped IPv6 (a udp6 socket's view of an IPv4 sender) compared as the IPv4 address. */
export function plainAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

const family = (ip: string) => (isIP(ip) === 6 ? 'ipv6' : 'ipv4');

/**
 * "10.0.3.7", "10.0.3.7:50000", "[fd00::7]:50000", "fd00::7", "10.0.3.0/24", "fd00::/64" -> spec, or an
 * error message. Names are refused: pinning to a DNS answer would move with whoever controls DNS.
 */
export function parseAddressSpec(s: string): AddressSpec | string {
  let host = s.trim();
  let port: number | undefined;
  const v6port = /^\[([^\]]+)\]:(\d+)$/.exec(host);
  const v4port = /^([^:/]+):(\d+)$/.exec(host);
  const m = v6port ?? v4port;
  if (m) {
    host = m[1]!;
    port = Number(m[2]);
    if (!(port >= 1 && port <= 65535)) return `port ${m[2]} out of range 1-65535 in ${JSON.stringify(s)}`;
  }
  const list = new BlockList();
  const cidr = /^(.+)\/(\d+)$/.exec(host);
  if (cidr && port === undefined) {
    const ip = plainAddress(cidr[1]!);
    const bits = Number(cidr[2]);
    const max = isIP(ip) === 6 ? 128 : 32;
    if (!isIP(ip) || bits > max)
      return `expected a CIDR range like 10.0.3.0/24 or fd00::/64, got ${JSON.stringify(s)}`;
    list.addSubnet(ip, bits, family(ip));
    return { list };
  }
  const ip = plainAddress(host);
  if (!isIP(ip))
    return `expected an IP address, ip:port, [ipv6]:port or CIDR range (no host names), got ${JSON.stringify(s)}`;
  list.addAddress(ip, family(ip));
  return port === undefined ? { list } : { list, port };
}

const addressSpec = z.string().superRefine((s, ctx) => {
  const r = parseAddressSpec(s);
  if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
});

/** `mqttsn.clients`: per client id settings; `address` pins the id to where it may connect from. */
export const clientsSchema = z
  .record(
    z.string().min(1),
    z.strictObject({
      /** Where this client id may CONNECT / PINGREQ from: one or more addresses, ip:port or CIDR ranges. */
      address: z.preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(addressSpec).min(1)).optional(),
    }),
  )
  .default({});
export type ClientsConfig = z.output<typeof clientsSchema>;

/** Address pinning: a pinned client id is only accepted from its configured addresses. */
export class AddressPins {
  private readonly pins = new Map<string, AddressSpec[]>();

  constructor(clients: ClientsConfig) {
    for (const [id, c] of Object.entries(clients)) {
      if (!c.address) continue;
      this.pins.set(
        id,
        c.address.map((a) => parseAddressSpec(a) as AddressSpec),
      );
    }
  }

  isPinned(clientId: string): boolean {
    return this.pins.has(clientId);
  }

  /** True when the client id is unpinned or the peer is one of its addresses. */
  admits(clientId: string, peer: Peer): boolean {
    const specs = this.pins.get(clientId);
    if (!specs) return true;
    const ip = plainAddress(peer.address);
    if (!isIP(ip)) return false;
    return specs.some((s) => (s.port === undefined || s.port === peer.port) && s.list.check(ip, family(ip)));
  }
}

/**
 * Client ids are substituted into topics ({device}, ACL {client}): a level separator, a wildcard or a
 * control character would let one reach other devices' topics. Invalid UTF-8 never gets here (decode).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const UNSAFE_ID = /[/+#\u0000-\u001f\u007f-\u009f\u2028\u2029\ufffd]/;
export const topicSafeClientId = (id: string) => !UNSAFE_ID.test(id);
