import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { parseIpAddress } from '../decode/address';

/**
 * The network namespace's routing table as the kernel exposes it in
 * /proc/net/route and /proc/net/ipv6_route (proc(5)). Used to tell whether an
 * address is on a connected link (no router between) or behind a gateway.
 */
export interface Route {
  family: 4 | 6;
  prefix: bigint;
  prefixBits: number;
  gateway: string | null;
  ifname: string;
}

const RTF_GATEWAY = 0x0002; // linux/route.h

export class RouteTable {
  constructor(private readonly routes: Route[]) {}

  static read(procNetDir = '/proc/net'): RouteTable {
    return new RouteTable([...readIpv4Routes(procNetDir), ...readIpv6Routes(procNetDir)]);
  }

  /** Longest-prefix match; null when no route covers the address. */
  lookup(ip: string): Route | null {
    const family = isIPv4(ip) ? 4 : 6;
    const value = addressValue(ip);
    if (value === null) return null;
    const width = family === 4 ? 32 : 128;
    let best: Route | null = null;
    for (const route of this.routes) {
      if (route.family !== family || (best !== null && route.prefixBits <= best.prefixBits)) continue;
      const shift = BigInt(width - route.prefixBits);
      if (value >> shift === route.prefix >> shift) best = route;
    }
    return best;
  }
}

function readLines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n');
  } catch {
    return [];
  }
}

/** /proc/net/route: Iface Destination Gateway Flags … Mask, addresses as little-endian hex. */
function readIpv4Routes(dir: string): Route[] {
  const routes: Route[] = [];
  for (const line of readLines(`${dir}/route`).slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 8) continue;
    const flags = parseInt(cols[3], 16);
    const mask = littleEndianHexToBigint(cols[7]);
    routes.push({
      family: 4,
      prefix: littleEndianHexToBigint(cols[1]),
      prefixBits: popcount(mask),
      gateway: (flags & RTF_GATEWAY) !== 0 ? ipv4FromBigint(littleEndianHexToBigint(cols[2])) : null,
      ifname: cols[0],
    });
  }
  return routes;
}

/** /proc/net/ipv6_route: dest destbits src srcbits nexthop metric refcnt use flags iface. */
function readIpv6Routes(dir: string): Route[] {
  const routes: Route[] = [];
  for (const line of readLines(`${dir}/ipv6_route`)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10) continue;
    const flags = parseInt(cols[8], 16);
    const nexthop = BigInt(`0x${cols[4]}`);
    routes.push({
      family: 6,
      prefix: BigInt(`0x${cols[0]}`),
      prefixBits: parseInt(cols[1], 16),
      gateway: (flags & RTF_GATEWAY) !== 0 && nexthop !== 0n ? cols[4] : null,
      ifname: cols[9],
    });
  }
  return routes;
}

function littleEndianHexToBigint(hex: string): bigint {
  const bytes = hex.match(/../g) ?? [];
  return BigInt(`0x${bytes.reverse().join('') || '0'}`);
}

function popcount(value: bigint): number {
  let count = 0;
  for (let v = value; v > 0n; v >>= 1n) count += Number(v & 1n);
  return count;
}

function ipv4FromBigint(value: bigint): string {
  return [24, 16, 8, 0].map((shift) => Number((value >> BigInt(shift)) & 0xffn)).join('.');
}

/** An address as an unsigned integer (32 or 128 bits); null when not an address. */
export function addressValue(ip: string): bigint | null {
  const bytes = parseIpAddress(ip);
  if (bytes === null) return null;
  return bytes.reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
}
