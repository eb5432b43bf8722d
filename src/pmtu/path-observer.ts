/**
 * Passive evidence about paths, from what the agent's capture already sees (in
 * control mode: SYNs and ICMP "fragmentation needed" / "packet too big"):
 *
 * - ICMP too-big errors, by the destination of the packet they quote, with the MTU
 *   they announce and the router that sent them;
 * - MSS options of SYN and SYN-ACK segments, by peer address: a peer that advertises
 *   MSS M receives segments of M + 40 (IPv4) / M + 60 (IPv6) bytes (RFC 879, RFC 8200
 *   §8.3), which a narrower path cannot carry;
 * - which remote addresses the local gateway pods open connections to (SYN without
 *   ACK), so the scheduler probes the nodes the gateways actually talk to.
 *
 * Every table is bounded; the oldest entry goes first.
 */
import type { PacketObservation } from '../capture/observation';
import { TcpFlag, type QuotedPacket } from '../decode/types';
import { UDP_PROBE_BASE_PORT } from './probe-packet';
import { DEFAULT_MAX_PROBES } from './path-prober';

interface TooBigSeen {
  mtuBytes: number | null;
  routerIp: string;
  count: number;
  lastMs: number;
}

interface MssSeen {
  mssBytes: number;
  /** One example: "10.244.1.10 → 10.244.2.20:8080". */
  example: string;
  count: number;
  lastMs: number;
}

export interface PathObserverOptions {
  maxEntries?: number;
}

const TCP_IPV4_HEADERS_BYTES = 40; // IPv4 20 + TCP 20, without options
const TCP_IPV6_HEADERS_BYTES = 60; // IPv6 40 + TCP 20

export class PathObserver {
  private readonly tooBig = new Map<string, TooBigSeen>();
  private readonly mss = new Map<string, MssSeen>();
  private readonly peers = new Map<string, number>();
  private localSources = new Set<string>();
  private readonly maxEntries: number;

  constructor(options: PathObserverOptions = {}) {
    this.maxEntries = options.maxEntries ?? 4096;
  }

  /** The addresses whose outgoing connections define the peers (the gateway pods on this node). */
  setLocalSources(addresses: Iterable<string>): void {
    this.localSources = new Set(addresses);
  }

  /** Remote addresses the local sources opened connections to, most recent first. */
  peerAddresses(): string[] {
    return [...this.peers.entries()].sort((a, b) => b[1] - a[1]).map(([address]) => address);
  }

  observe(observation: PacketObservation): void {
    const { packet, timeMs } = observation;
    const icmp = packet.icmp;
    if (icmp !== null && (icmp.kind === 'frag-needed' || icmp.kind === 'packet-too-big') && icmp.quoted !== null) {
      if (isProbe(icmp.quoted)) return; // answers to our own probes are not evidence from traffic
      const destination = icmp.quoted.ip.dst;
      const seen = this.tooBig.get(destination);
      if (seen !== undefined) this.tooBig.delete(destination);
      remember(this.tooBig, destination, { mtuBytes: icmp.mtu, routerIp: packet.ip.src, count: (seen?.count ?? 0) + 1, lastMs: timeMs }, this.maxEntries);
      return;
    }
    const tcp = packet.tcp;
    if (tcp === null || (tcp.flags & TcpFlag.SYN) === 0) return;
    if ((tcp.flags & TcpFlag.ACK) === 0 && this.localSources.has(packet.ip.src)) {
      this.peers.delete(packet.ip.dst);
      remember(this.peers, packet.ip.dst, timeMs, this.maxEntries);
    }
    const mssBytes = tcp.options.mss;
    if (mssBytes === null) return;
    // The advertiser receives segments of this size: the path towards it must carry them.
    const example = `${(tcp.flags & TcpFlag.ACK) === 0 ? 'SYN' : 'SYN-ACK'} ${packet.ip.src}:${tcp.srcPort} → ${packet.ip.dst}:${tcp.dstPort}`;
    for (const address of [packet.ip.src, packet.ip.dst]) {
      const seen = this.mss.get(address);
      if (seen !== undefined && seen.mssBytes > mssBytes) {
        seen.count += 1;
        seen.lastMs = timeMs;
        continue;
      }
      if (seen !== undefined) this.mss.delete(address);
      remember(this.mss, address, { mssBytes, example, count: (seen?.mssBytes === mssBytes ? seen.count : 0) + 1, lastMs: timeMs }, this.maxEntries);
    }
  }

  /** Evidence lines for the path to `targetIp` measured at `pmtuBytes`. */
  evidenceFor(targetIp: string, pmtuBytes: number, family: 4 | 6): string[] {
    const lines: string[] = [];
    const tooBig = this.tooBig.get(targetIp);
    if (tooBig !== undefined) {
      const mtu = tooBig.mtuBytes === null ? 'no MTU (an old router)' : `MTU ${tooBig.mtuBytes}`;
      lines.push(
        `capture: ${tooBig.count} ICMP ${family === 4 ? 'fragmentation-needed' : 'packet-too-big'} error${tooBig.count === 1 ? '' : 's'} from ${tooBig.routerIp} for packets to ${targetIp}, announcing ${mtu}`,
      );
    }
    const mss = this.mss.get(targetIp);
    const headers = family === 4 ? TCP_IPV4_HEADERS_BYTES : TCP_IPV6_HEADERS_BYTES;
    if (mss !== undefined && mss.mssBytes + headers > pmtuBytes) {
      lines.push(
        `capture: MSS ${mss.mssBytes} advertised on connections with ${targetIp} (${mss.example}) means ${mss.mssBytes + headers}-byte packets, ${mss.mssBytes + headers - pmtuBytes} more than the path carries; clamp MSS to ${pmtuBytes - headers}`,
      );
    }
    return lines;
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V, maxEntries: number): void {
  map.set(key, value);
  if (map.size > maxEntries) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}

/** An ICMP error about a path-MTU probe (ours or another prober's): echo requests, or UDP to the probe ports. */
function isProbe(quoted: QuotedPacket): boolean {
  if (quoted.echo !== null) return true;
  return quoted.udp !== null && quoted.udp.dstPort >= UDP_PROBE_BASE_PORT && quoted.udp.dstPort < UDP_PROBE_BASE_PORT + DEFAULT_MAX_PROBES;
}
