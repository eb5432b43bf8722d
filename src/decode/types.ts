/**
 * Typed results of the packet decoders. Decoders are pure functions from bytes to
 * a `DecodeResult`: they never throw for any input (fuzzed with fast-check) and do
 * no I/O. Addresses are text (`10.0.0.1`, `fd00::1` in RFC 5952 form).
 */

/** Link-layer types, numbered as in pcap's LINKTYPE_* registry. */
export const LinkType = {
  NULL: 0, // BSD loopback: 4-byte host-order address family
  ETHERNET: 1,
  RAW: 101, // raw IPv4 or IPv6, version from the first nibble
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;
export type LinkType = (typeof LinkType)[keyof typeof LinkType];

export interface LinkInfo {
  type: LinkType;
  /** EtherType of the network layer (0x0800, 0x86dd); after any VLAN tags. */
  etherType: number;
  /** 802.1Q/802.1ad VLAN IDs, outermost first; empty when untagged. */
  vlanIds: number[];
  /** SLL/SLL2 packet type (0 host … 4 outgoing) when the link header carries it. */
  pktType: number | null;
  /** SLL2 interface index when present. */
  ifindex: number | null;
  /** Offset of the network header in the frame. */
  networkOffset: number;
}

export interface Ipv4Fragment {
  id: number;
  /** Fragment offset in bytes. */
  offsetBytes: number;
  moreFragments: boolean;
}

export interface IpInfo {
  version: 4 | 6;
  src: string;
  dst: string;
  /** IPv4 TTL or IPv6 hop limit. */
  ttl: number;
  /** IPv4 identification; null for IPv6 (unless a fragment header gives one). */
  ipId: number | null;
  dontFragment: boolean;
  /** Upper-layer protocol after IPv6 extension headers (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6). */
  protocol: number;
  /** IPv4 header with options, or IPv6 fixed header plus extension headers. */
  headerBytes: number;
  /** Total length claimed by the header (IPv4 total length, IPv6 40 + payload length). */
  totalBytes: number;
  /** Non-null when this is a fragment (IPv4, or IPv6 with a Fragment header). */
  fragment: Ipv4Fragment | null;
  /** IPv4 option types present (e.g. 7 record route); empty when none. */
  optionTypes: number[];
  /** IPv6 extension header types traversed, in order; empty for IPv4. */
  extensionHeaders: number[];
  /** Offset of this header in the frame, and of its payload. */
  offset: number;
  payloadOffset: number;
}

export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

export interface TcpOptions {
  mss: number | null;
  windowScale: number | null;
  sackPermitted: boolean;
  /** SACK blocks as [left edge, right edge] sequence numbers. */
  sackBlocks: Array<[number, number]>;
  timestamp: { value: number; echo: number } | null;
}

export interface TcpInfo {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Bit set of TcpFlag values. */
  flags: number;
  window: number;
  headerBytes: number;
  /** Payload bytes according to the IP lengths (may exceed what was captured). */
  payloadBytes: number;
  options: TcpOptions;
}

export interface UdpInfo {
  srcPort: number;
  dstPort: number;
  lengthBytes: number;
}

/** The packet an ICMP error quotes: its IP header and, when present, the start of its transport header. */
export interface QuotedPacket {
  ip: IpInfo;
  tcp: Pick<TcpInfo, 'srcPort' | 'dstPort' | 'seq'> | null;
  udp: Pick<UdpInfo, 'srcPort' | 'dstPort'> | null;
  /** ICMP echo identifier and sequence of a quoted echo request. */
  echo: { id: number; seq: number } | null;
}

export type IcmpKind =
  | 'frag-needed' // ICMPv4 type 3 code 4 (RFC 1191)
  | 'packet-too-big' // ICMPv6 type 2 (RFC 8201)
  | 'port-unreachable'
  | 'unreachable'
  | 'time-exceeded'
  | 'echo-request'
  | 'echo-reply'
  | 'other';

export interface IcmpInfo {
  version: 4 | 6;
  type: number;
  code: number;
  kind: IcmpKind;
  /** Next-hop MTU of frag-needed / packet-too-big; null otherwise or when 0. */
  mtu: number | null;
  /** Identifier and sequence of echo request/reply. */
  echo: { id: number; seq: number } | null;
  /** The quoted original packet of an error message; null for informational types or when too short. */
  quoted: QuotedPacket | null;
}

export interface DecodedPacket {
  link: LinkInfo;
  ip: IpInfo;
  tcp: TcpInfo | null;
  udp: UdpInfo | null;
  icmp: IcmpInfo | null;
}

export type DecodeErrorKind =
  | 'truncated' // fewer bytes than the header needs
  | 'unsupported' // a link type or EtherType we do not decode (ARP, …)
  | 'malformed'; // a length or field that cannot be right

export class DecodeError {
  constructor(
    readonly kind: DecodeErrorKind,
    /** Layer that failed: 'ethernet', 'ipv4', 'tcp', … */
    readonly layer: string,
    readonly message: string,
    /** Byte offset in the frame where the problem is. */
    readonly offset: number,
  ) {}
}

export type DecodeResult = { ok: true; packet: DecodedPacket } | { ok: false; error: DecodeError };
