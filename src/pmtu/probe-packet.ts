/**
 * The probes the path-MTU search sends and the answers it reads back, as pure
 * functions over bytes. Sizes are whole IP packets (header included), the number
 * an MTU limits; no IP options or IPv6 extension headers are sent.
 *
 * - ICMP echo (RFC 792 / RFC 4443 §4.1): answered by an echo reply.
 * - UDP to an unused high port (the traceroute idea): answered by ICMP port
 *   unreachable (RFC 1122 §4.1.3.1), for targets whose echo is filtered.
 * Both can draw "fragmentation needed" (RFC 1191) / "packet too big" (RFC 8201),
 * which quote our packet: the echo id/seq or the UDP ports say which probe it was.
 */
import { internetChecksum } from '../decode/checksum';
import { decodeIcmp } from '../decode/icmp';
import { decodeIpv4 } from '../decode/ipv4';
import { DecodeError } from '../decode/types';
import type { ProbeOutcome } from './search';

export type IpFamily = 4 | 6;
export type ProbeMethod = 'icmp-echo' | 'udp';

export const IPV4_HEADER_BYTES = 20;
export const IPV6_HEADER_BYTES = 40;
const ICMP_ECHO_HEADER_BYTES = 8;
const ICMPV4_ECHO_REQUEST = 8;
const ICMPV6_ECHO_REQUEST = 128;
/** Traceroute's first port (RFC 1393 era convention): rarely bound by anything. */
export const UDP_PROBE_BASE_PORT = 33434;

export function ipHeaderBytes(family: IpFamily): number {
  return family === 4 ? IPV4_HEADER_BYTES : IPV6_HEADER_BYTES;
}

/** The smallest probe: IP header plus the 8-byte ICMP or UDP header. */
export function minimumProbeBytes(family: IpFamily): number {
  return ipHeaderBytes(family) + 8;
}

/**
 * An echo request whose IP packet is `sizeBytes` long. The IPv4 checksum is ours to
 * compute; for ICMPv6 the kernel fills it in on raw sockets (RFC 3542 §3.1).
 */
export function buildEchoRequest(family: IpFamily, id: number, seq: number, sizeBytes: number): Buffer {
  const message = Buffer.alloc(sizeBytes - ipHeaderBytes(family));
  message[0] = family === 4 ? ICMPV4_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
  message.writeUInt16BE(id, 4);
  message.writeUInt16BE(seq, 6);
  for (let i = ICMP_ECHO_HEADER_BYTES; i < message.length; i += 1) message[i] = i & 0xff;
  if (family === 4) message.writeUInt16BE(internetChecksum(message), 2);
  return message;
}

/**
 * A UDP datagram whose IP packet is `sizeBytes` long, from `srcPort` to
 * UDP_PROBE_BASE_PORT + seq. IPv4 sends checksum 0 ("no checksum", RFC 768); for
 * IPv6 the socket has IPV6_CHECKSUM set so the kernel computes it (RFC 8200 §8.1).
 */
export function buildUdpProbe(family: IpFamily, srcPort: number, seq: number, sizeBytes: number): Buffer {
  const datagram = Buffer.alloc(sizeBytes - ipHeaderBytes(family));
  datagram.writeUInt16BE(srcPort, 0);
  datagram.writeUInt16BE(UDP_PROBE_BASE_PORT + seq, 2);
  datagram.writeUInt16BE(datagram.length, 4);
  return datagram;
}

/** Which probes this search sent: the answers of other processes' probes are ignored. */
export interface ProbeIdentity {
  family: IpFamily;
  method: ProbeMethod;
  targetIp: string;
  /** Echo identifier, or the UDP source port. */
  id: number;
}

export interface ProbeAnswer {
  seq: number;
  outcome: ProbeOutcome;
  /** Who answered (the target, or the router that sent the ICMP error). */
  fromIp: string;
}

/**
 * Reads one message from a raw ICMP socket (IPv4: with its IP header; IPv6: the
 * ICMPv6 message alone, RFC 3542 §3) and says which of our probes it answers.
 * Null for anything else: other traffic, other processes' probes, garbage.
 */
export function parseProbeAnswer(message: Uint8Array, sourceIp: string, probe: ProbeIdentity): ProbeAnswer | null {
  let offset = 0;
  if (probe.family === 4) {
    const ip = decodeIpv4(message, 0);
    if (ip instanceof DecodeError) return null;
    offset = ip.payloadOffset;
  }
  const icmp = decodeIcmp(message, offset, probe.family);
  if (icmp instanceof DecodeError) return null;
  if (icmp.kind === 'echo-reply') {
    if (probe.method !== 'icmp-echo' || icmp.echo === null || icmp.echo.id !== probe.id || sourceIp !== probe.targetIp) return null;
    return { seq: icmp.echo.seq, outcome: { kind: 'reply' }, fromIp: sourceIp };
  }
  const quoted = icmp.quoted;
  if (quoted === null || quoted.ip.dst !== probe.targetIp) return null;
  let seq: number | null = null;
  if (probe.method === 'icmp-echo' && quoted.echo !== null && quoted.echo.id === probe.id) seq = quoted.echo.seq;
  if (probe.method === 'udp' && quoted.udp !== null && quoted.udp.srcPort === probe.id) seq = quoted.udp.dstPort - UDP_PROBE_BASE_PORT;
  if (seq === null || seq < 0) return null;
  switch (icmp.kind) {
    case 'frag-needed':
    case 'packet-too-big':
      return { seq, outcome: { kind: 'too-big', source: 'icmp', mtuBytes: icmp.mtu }, fromIp: sourceIp };
    case 'port-unreachable':
      // The datagram reached the target whole: for the UDP method this is the answer.
      return probe.method === 'udp' && sourceIp === probe.targetIp ? { seq, outcome: { kind: 'reply' }, fromIp: sourceIp } : null;
    default:
      // Unreachable, time exceeded, filtered: no answer about the size; counts as silence.
      return { seq, outcome: { kind: 'silent' }, fromIp: sourceIp };
  }
}
