/**
 * ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) messages, with the next-hop MTU of
 * "fragmentation needed" (RFC 1191 §4) and "packet too big" (RFC 8201 §4), and
 * the original packet an error message quotes.
 */
import { readU16, readU32 } from './bytes';
import { decodeIpv4 } from './ipv4';
import { decodeIpv6 } from './ipv6';
import { DecodeError, type IcmpInfo, type IcmpKind, type QuotedPacket } from './types';

export const ICMP_HEADER_BYTES = 8; // type, code, checksum, 4 type-specific bytes

/** ICMPv4 types (RFC 792, IANA "ICMP Type Numbers"). */
export const Icmpv4Type = {
  ECHO_REPLY: 0,
  DESTINATION_UNREACHABLE: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
  PARAMETER_PROBLEM: 12,
} as const;
const ICMPV4_CODE_PORT_UNREACHABLE = 3;
const ICMPV4_CODE_FRAGMENTATION_NEEDED = 4;

/** ICMPv6 types (RFC 4443 §2.1); types below 128 are errors and quote a packet. */
export const Icmpv6Type = {
  DESTINATION_UNREACHABLE: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAMETER_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
} as const;
const ICMPV6_FIRST_INFORMATIONAL_TYPE = 128;
const ICMPV6_CODE_PORT_UNREACHABLE = 4;

const IP_PROTOCOL_TCP = 6;
const IP_PROTOCOL_UDP = 17;
const IP_PROTOCOL_ICMP = 1;
const IP_PROTOCOL_ICMPV6 = 58;
/** RFC 792 quotes the IP header plus 64 bits of the original datagram: enough for ports and the TCP sequence. */
const QUOTED_TRANSPORT_BYTES = 8;

function icmpv4Kind(type: number, code: number): IcmpKind {
  switch (type) {
    case Icmpv4Type.ECHO_REPLY:
      return 'echo-reply';
    case Icmpv4Type.ECHO_REQUEST:
      return 'echo-request';
    case Icmpv4Type.TIME_EXCEEDED:
      return 'time-exceeded';
    case Icmpv4Type.DESTINATION_UNREACHABLE:
      if (code === ICMPV4_CODE_FRAGMENTATION_NEEDED) return 'frag-needed';
      return code === ICMPV4_CODE_PORT_UNREACHABLE ? 'port-unreachable' : 'unreachable';
    default:
      return 'other';
  }
}

function icmpv6Kind(type: number, code: number): IcmpKind {
  switch (type) {
    case Icmpv6Type.ECHO_REPLY:
      return 'echo-reply';
    case Icmpv6Type.ECHO_REQUEST:
      return 'echo-request';
    case Icmpv6Type.TIME_EXCEEDED:
      return 'time-exceeded';
    case Icmpv6Type.PACKET_TOO_BIG:
      return 'packet-too-big';
    case Icmpv6Type.DESTINATION_UNREACHABLE:
      return code === ICMPV6_CODE_PORT_UNREACHABLE ? 'port-unreachable' : 'unreachable';
    default:
      return 'other';
  }
}

function quotesPacket(version: 4 | 6, type: number): boolean {
  if (version === 6) return type < ICMPV6_FIRST_INFORMATIONAL_TYPE;
  return (
    type === Icmpv4Type.DESTINATION_UNREACHABLE ||
    type === Icmpv4Type.SOURCE_QUENCH ||
    type === Icmpv4Type.REDIRECT ||
    type === Icmpv4Type.TIME_EXCEEDED ||
    type === Icmpv4Type.PARAMETER_PROBLEM
  );
}

/**
 * Decodes the packet quoted at `offset`: its IP header must be there in full;
 * its transport header is read when the first 8 bytes are. Null when the quote is
 * too short or not a valid header: a bad quote does not make the ICMP message bad.
 */
export function decodeQuotedPacket(bytes: Uint8Array, offset: number, version: 4 | 6): QuotedPacket | null {
  const ip = version === 4 ? decodeIpv4(bytes, offset) : decodeIpv6(bytes, offset);
  if (ip instanceof DecodeError) return null;
  const quoted: QuotedPacket = { ip, tcp: null, udp: null, echo: null };
  const at = ip.payloadOffset;
  if ((ip.fragment !== null && ip.fragment.offsetBytes !== 0) || at + QUOTED_TRANSPORT_BYTES > bytes.length) return quoted;
  if (ip.protocol === IP_PROTOCOL_TCP) {
    quoted.tcp = { srcPort: readU16(bytes, at), dstPort: readU16(bytes, at + 2), seq: readU32(bytes, at + 4) };
  } else if (ip.protocol === IP_PROTOCOL_UDP) {
    quoted.udp = { srcPort: readU16(bytes, at), dstPort: readU16(bytes, at + 2) };
  } else if (
    (ip.protocol === IP_PROTOCOL_ICMP && bytes[at] === Icmpv4Type.ECHO_REQUEST) ||
    (ip.protocol === IP_PROTOCOL_ICMPV6 && bytes[at] === Icmpv6Type.ECHO_REQUEST)
  ) {
    quoted.echo = { id: readU16(bytes, at + 4), seq: readU16(bytes, at + 6) };
  }
  return quoted;
}

/** Decodes the ICMPv4 (`version` 4) or ICMPv6 (`version` 6) message at `offset`. */
export function decodeIcmp(bytes: Uint8Array, offset: number, version: 4 | 6): IcmpInfo | DecodeError {
  const layer = version === 4 ? 'icmp' : 'icmpv6';
  if (offset + ICMP_HEADER_BYTES > bytes.length) {
    return new DecodeError('truncated', layer, `ICMP header needs ${ICMP_HEADER_BYTES} bytes`, offset);
  }
  const type = bytes[offset];
  const code = bytes[offset + 1];
  const kind = version === 4 ? icmpv4Kind(type, code) : icmpv6Kind(type, code);
  let mtu: number | null = null;
  if (kind === 'frag-needed') mtu = readU16(bytes, offset + 6) || null; // RFC 1191 §4: old routers send 0
  else if (kind === 'packet-too-big') mtu = readU32(bytes, offset + 4) || null;
  const echo =
    kind === 'echo-request' || kind === 'echo-reply' ? { id: readU16(bytes, offset + 4), seq: readU16(bytes, offset + 6) } : null;
  const quoted = quotesPacket(version, type) ? decodeQuotedPacket(bytes, offset + ICMP_HEADER_BYTES, version) : null;
  return { version, type, code, kind, mtu, echo, quoted };
}
