/**
 * Builds well-formed frames from an options struct, with correct lengths and
 * checksums (IPv4 header checksum; TCP, UDP, ICMPv6 with their pseudo-headers;
 * ICMPv4 over the message). Used by decoder and filter tests, by other components'
 * tests and by benchmarks, so it stays general: every field a decoder reports can
 * be set, and everything has a sensible default.
 *
 *   buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 8080, dstPort: 40000, flags: 'RST', seq: 1 })
 *   buildTcp({ link: 'sll2', vlanIds: [10], src: 'fd00::1', dst: 'fd00::2', flags: ['SYN'], mss: 1460 })
 *   buildIcmpFragNeeded({ src: '10.0.0.254', dst: '10.0.0.1', mtu: 1400, quoted: buildTcp({ link: 'raw', … }) })
 *
 * The builder throws (plain Error) on options that cannot be encoded, e.g. TCP
 * options over 40 bytes or an unparsable address: it is a test tool.
 */
import { parseIpAddress } from '../../src/decode/address';
import { finishChecksum, internetChecksum, onesComplementSum, pseudoHeaderSum } from '../../src/decode/checksum';
import { TcpFlag } from '../../src/decode/types';

/**
 * How the frame starts. 'raw' is a bare IP packet (LINKTYPE_RAW); 'dgram' is what an
 * AF_PACKET SOCK_DGRAM socket reads: the IP packet preceded by one [TCI, inner
 * EtherType] remainder per VLAN tag the kernel did not strip (its EtherType for
 * `decodeNetwork` comes from `dgramEtherType`).
 */
export type LinkKind = 'ethernet' | 'raw' | 'sll' | 'sll2' | 'null' | 'dgram';
export type TcpFlagName = keyof typeof TcpFlag;

export interface LinkBuildOptions {
  /** Default 'ethernet'. */
  link?: LinkKind;
  /** VLAN IDs, outermost first (ethernet, sll, sll2, dgram). */
  vlanIds?: number[];
  /** TPID per tag; default 0x8100 for a single tag, 0x88a8 outer + 0x8100 inner for QinQ. */
  vlanTpids?: number[];
  /** 802.1p priority written into every TCI (0–7). */
  vlanPriority?: number;
  srcMac?: string;
  dstMac?: string;
  /** SLL/SLL2 packet type: 0 host, 1 broadcast, 2 multicast, 3 other host, 4 outgoing. */
  pktType?: number;
  /** SLL2 interface index. */
  ifindex?: number;
  /** BSD loopback: byte order of the family field (default 'little'), and the AF_INET6 value (24, 28 or 30; default 24). */
  nullByteOrder?: 'little' | 'big';
  nullInet6Family?: 24 | 28 | 30;
  /** Cut the finished frame to this many bytes, as a capture's snap length would. */
  snapBytes?: number;
}

/** An IPv6 extension header to insert; its content is padding (options headers use PadN, RFC 8200 §4.2). */
export interface Ipv6ExtensionHeaderSpec {
  /** 0 hop-by-hop, 43 routing, 44 fragment (takes `fragment`), 51 AH, 60 destination options. */
  type: number;
  /** Total length: a multiple of 8, at least 8 (AH: at least 12, multiple of 8 for IPv6). Defaults 8; AH 24; fragment always 8. */
  lengthBytes?: number;
}

export interface FragmentSpec {
  /** IPv6 fragment header identification; IPv4 uses `ipId`. */
  id?: number;
  /** Multiple of 8. */
  offsetBytes: number;
  moreFragments: boolean;
}

export interface IpBuildOptions extends LinkBuildOptions {
  /** IPv4 dotted or IPv6 text; both must be the same family. */
  src: string;
  dst: string;
  /** TTL or hop limit; default 64. */
  ttl?: number;
  /** IPv4 identification; default 0. */
  ipId?: number;
  /** IPv4 DF flag; default true (Linux sets it with PMTU discovery on). */
  df?: boolean;
  /** IPv4 TOS / IPv6 traffic class. */
  tos?: number;
  flowLabel?: number;
  /** Raw IPv4 option bytes; padded with End-of-List to a multiple of 4 (at most 40). */
  ipv4Options?: number[] | Uint8Array;
  ipv6ExtensionHeaders?: Ipv6ExtensionHeaderSpec[];
  /** IPv4: sets MF and the offset. IPv6: the fragment header, placed where `ipv6ExtensionHeaders` lists type 44, else last. */
  fragment?: FragmentSpec;
  /** Overrides the protocol / last next-header value (default: the transport's). */
  protocol?: number;
}

export interface TcpBuildOptions extends IpBuildOptions {
  srcPort?: number;
  dstPort?: number;
  /** 'RST', ['SYN', 'ACK'] or a bit set of TcpFlag values; default ACK. */
  flags?: TcpFlagName | TcpFlagName[] | number;
  seq?: number;
  ack?: number;
  /** Default 64240. */
  window?: number;
  urgentPointer?: number;
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  sack?: Array<[number, number]>;
  timestamp?: { value: number; echo: number };
  /** Extra raw option bytes appended after the known ones (e.g. an unknown kind). */
  rawTcpOptions?: number[];
  payload?: Uint8Array;
}

export interface UdpBuildOptions extends IpBuildOptions {
  srcPort?: number;
  dstPort?: number;
  payload?: Uint8Array;
}

export interface IcmpEchoBuildOptions extends IpBuildOptions {
  /** Default 'request'. ICMPv4 or ICMPv6 follows the address family. */
  echo?: 'request' | 'reply';
  id?: number;
  seq?: number;
  payload?: Uint8Array;
}

export interface IcmpErrorBuildOptions extends IpBuildOptions {
  type: number;
  code: number;
  /** The 4 type-specific header bytes as a u32 (MTU, pointer, gateway…); default 0. */
  restOfHeader?: number;
  /** The offending packet as network-layer bytes: build it with `link: 'raw'`. */
  quoted: Uint8Array;
  /** Quote at most this many bytes. Default: IPv4 548 (576-byte message, RFC 1812 §4.3.2.3), IPv6 1232 (1280, RFC 4443 §2.4(c)). */
  quotedBytes?: number;
}

export type IcmpMtuBuildOptions = Omit<IcmpErrorBuildOptions, 'type' | 'code' | 'restOfHeader'> & { mtu: number };

const PROTOCOL_ICMP = 1;
const PROTOCOL_TCP = 6;
const PROTOCOL_UDP = 17;
const PROTOCOL_ICMPV6 = 58;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const TPID_8021Q = 0x8100;
const TPID_8021AD = 0x88a8;

// ---------- small byte helpers ----------

/** Hex text (whitespace, colons and `0x` prefixes allowed, e.g. pasted from `tcpdump -xx`) to bytes. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/0x[0-9a-f]{4}:/gi, '').replace(/[^0-9a-f]/gi, '');
  if (clean.length % 2 !== 0) throw new Error(`odd number of hex digits (${clean.length})`);
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function writeU16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 8) & 0xff;
  bytes[offset + 1] = value & 0xff;
}

function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  writeU16(bytes, offset, (value >>> 16) & 0xffff);
  writeU16(bytes, offset + 2, value & 0xffff);
}

function parseMac(text: string): Uint8Array {
  const parts = text.split(':');
  if (parts.length !== 6) throw new Error(`bad MAC address ${text}`);
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

function address(text: string): Uint8Array {
  const bytes = parseIpAddress(text);
  if (bytes === null) throw new Error(`bad IP address ${text}`);
  return bytes;
}

export function tcpFlagBits(flags: TcpBuildOptions['flags']): number {
  if (flags === undefined) return TcpFlag.ACK;
  if (typeof flags === 'number') return flags;
  const names = Array.isArray(flags) ? flags : [flags];
  return names.reduce((bits, name) => bits | TcpFlag[name], 0);
}

// ---------- network layer ----------

function ipv4Header(options: IpBuildOptions, protocol: number, payloadBytes: number): Uint8Array {
  const rawOptions = Uint8Array.from(options.ipv4Options ?? []);
  const optionBytes = Math.ceil(rawOptions.length / 4) * 4; // pad with End-of-List (0)
  if (optionBytes > 40) throw new Error(`IPv4 options of ${rawOptions.length} bytes exceed 40`);
  const headerBytes = 20 + optionBytes;
  const header = new Uint8Array(headerBytes);
  header[0] = 0x40 | (headerBytes / 4);
  header[1] = options.tos ?? 0;
  writeU16(header, 2, headerBytes + payloadBytes);
  writeU16(header, 4, options.ipId ?? 0);
  const fragment = options.fragment;
  const flags = (options.df ?? true ? 0x4000 : 0) | (fragment?.moreFragments ? 0x2000 : 0);
  writeU16(header, 6, flags | ((fragment?.offsetBytes ?? 0) >>> 3));
  header[8] = options.ttl ?? 64;
  header[9] = options.protocol ?? protocol;
  header.set(address(options.src), 12);
  header.set(address(options.dst), 16);
  header.set(rawOptions, 20);
  writeU16(header, 10, internetChecksum(header));
  return header;
}

function ipv6ExtensionHeader(spec: Ipv6ExtensionHeaderSpec, nextHeader: number, fragment: FragmentSpec | undefined): Uint8Array {
  if (spec.type === 44) {
    const header = new Uint8Array(8);
    header[0] = nextHeader;
    writeU16(header, 2, (fragment?.offsetBytes ?? 0) | (fragment?.moreFragments ? 1 : 0));
    writeU32(header, 4, fragment?.id ?? 0);
    return header;
  }
  const lengthBytes = spec.lengthBytes ?? (spec.type === 51 ? 24 : 8);
  if (lengthBytes % 8 !== 0 || lengthBytes < (spec.type === 51 ? 16 : 8)) {
    throw new Error(`extension header ${spec.type} cannot be ${lengthBytes} bytes`);
  }
  const header = new Uint8Array(lengthBytes);
  header[0] = nextHeader;
  if (spec.type === 51) {
    header[1] = lengthBytes / 4 - 2; // RFC 4302 §2.2
    writeU32(header, 4, 0x100); // SPI
    writeU32(header, 8, 1); // sequence number
  } else {
    header[1] = lengthBytes / 8 - 1; // RFC 8200 §4.3
    if (spec.type === 0 || spec.type === 60) {
      // One PadN option fills the rest (RFC 8200 §4.2); 6 bytes at least, so never Pad1.
      header[2] = 1;
      header[3] = lengthBytes - 4;
    } // routing: type 0 fields with Segments Left 0 are ignored by every node (RFC 8200 §4.4)
  }
  return header;
}

function ipv6Header(options: IpBuildOptions, protocol: number, payloadBytes: number): Uint8Array {
  const specs = [...(options.ipv6ExtensionHeaders ?? [])];
  if (options.fragment !== undefined && !specs.some((s) => s.type === 44)) specs.push({ type: 44 });
  const lastNextHeader = options.protocol ?? protocol;
  const extensions: Uint8Array[] = [];
  for (let i = 0; i < specs.length; i++) {
    const next = i + 1 < specs.length ? specs[i + 1].type : lastNextHeader;
    extensions.push(ipv6ExtensionHeader(specs[i], next, options.fragment));
  }
  const extensionBytes = extensions.reduce((n, e) => n + e.length, 0);
  const fixed = new Uint8Array(40);
  const trafficClass = options.tos ?? 0;
  const flowLabel = options.flowLabel ?? 0;
  writeU32(fixed, 0, ((6 << 28) | (trafficClass << 20) | (flowLabel & 0xfffff)) >>> 0);
  writeU16(fixed, 4, extensionBytes + payloadBytes);
  fixed[6] = specs.length > 0 ? specs[0].type : lastNextHeader;
  fixed[7] = options.ttl ?? 64;
  fixed.set(address(options.src), 8);
  fixed.set(address(options.dst), 24);
  return concat([fixed, ...extensions]);
}

export function isIpv6Text(text: string): boolean {
  return text.includes(':');
}

/**
 * An IP packet around `transport`. `checksumOffset` is where the transport's
 * checksum goes (null for none); `pseudoHeader` says whether it covers the
 * pseudo-header (TCP, UDP, ICMPv6) or only the message (ICMPv4).
 */
export function buildIpPacket(
  options: IpBuildOptions,
  protocol: number,
  transport: Uint8Array,
  checksumOffset: number | null,
  pseudoHeader = true,
): Uint8Array {
  const v6 = isIpv6Text(options.src);
  if (v6 !== isIpv6Text(options.dst)) throw new Error(`mixed address families ${options.src} → ${options.dst}`);
  if (checksumOffset !== null) {
    transport[checksumOffset] = 0;
    transport[checksumOffset + 1] = 0;
    const initial = pseudoHeader ? pseudoHeaderSum(address(options.src), address(options.dst), protocol, transport.length) : 0;
    writeU16(transport, checksumOffset, finishChecksum(onesComplementSum(transport, 0, transport.length, initial)));
  }
  const header = v6 ? ipv6Header(options, protocol, transport.length) : ipv4Header(options, protocol, transport.length);
  return concat([header, transport]);
}

// ---------- link layer ----------

/** The EtherType an AF_PACKET SOCK_DGRAM socket reports for a 'dgram' frame built with these options. */
export function dgramEtherType(options: IpBuildOptions): number {
  const tpids = vlanTpids(options);
  if (tpids.length > 0) return tpids[0];
  return isIpv6Text(options.src) ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
}

function vlanTpids(options: LinkBuildOptions): number[] {
  const ids = options.vlanIds ?? [];
  return ids.map((_, i) => options.vlanTpids?.[i] ?? (ids.length > 1 && i === 0 ? TPID_8021AD : TPID_8021Q));
}

/** [TCI, next type] per tag; the caller writes the first TPID in its own type field. */
function vlanRemainders(options: LinkBuildOptions, networkEtherType: number): Uint8Array {
  const ids = options.vlanIds ?? [];
  const tpids = vlanTpids(options);
  const out = new Uint8Array(ids.length * 4);
  ids.forEach((id, i) => {
    writeU16(out, i * 4, (((options.vlanPriority ?? 0) & 7) << 13) | (id & 0x0fff));
    writeU16(out, i * 4 + 2, i + 1 < ids.length ? tpids[i + 1] : networkEtherType);
  });
  return out;
}

/** Puts the link header `options.link` in front of an IP packet. */
export function wrapLink(options: LinkBuildOptions, packet: Uint8Array): Uint8Array {
  const version = packet[0] >> 4;
  const networkEtherType = version === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
  const tpids = vlanTpids(options);
  const outerType = tpids.length > 0 ? tpids[0] : networkEtherType;
  const tags = vlanRemainders(options, networkEtherType);
  const srcMac = parseMac(options.srcMac ?? '02:00:00:00:00:01');
  const dstMac = parseMac(options.dstMac ?? '02:00:00:00:00:02');
  const link = options.link ?? 'ethernet';
  let frame: Uint8Array;
  switch (link) {
    case 'ethernet': {
      const header = new Uint8Array(14);
      header.set(dstMac, 0);
      header.set(srcMac, 6);
      writeU16(header, 12, outerType);
      frame = concat([header, tags, packet]);
      break;
    }
    case 'sll': {
      // https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html
      const header = new Uint8Array(16);
      writeU16(header, 0, options.pktType ?? 0);
      writeU16(header, 2, 1); // ARPHRD_ETHER
      writeU16(header, 4, 6);
      header.set(srcMac, 6);
      writeU16(header, 14, outerType);
      frame = concat([header, tags, packet]);
      break;
    }
    case 'sll2': {
      // https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html
      const header = new Uint8Array(20);
      writeU16(header, 0, outerType);
      writeU32(header, 4, (options.ifindex ?? 1) >>> 0);
      writeU16(header, 8, 1); // ARPHRD_ETHER
      header[10] = options.pktType ?? 0;
      header[11] = 6;
      header.set(srcMac, 12);
      frame = concat([header, tags, packet]);
      break;
    }
    case 'null': {
      const family = version === 6 ? options.nullInet6Family ?? 24 : 2;
      const header = new Uint8Array(4);
      if ((options.nullByteOrder ?? 'little') === 'little') header[0] = family;
      else header[3] = family;
      frame = concat([header, packet]);
      break;
    }
    case 'dgram':
      frame = concat([tags, packet]);
      break;
    case 'raw':
      if (tags.length > 0) throw new Error('raw IP frames cannot carry VLAN tags');
      frame = packet;
      break;
  }
  return options.snapBytes !== undefined ? frame.slice(0, options.snapBytes) : frame;
}

// ---------- transports ----------

function tcpOptionBytes(options: TcpBuildOptions): Uint8Array {
  const bytes: number[] = [];
  if (options.mss !== undefined) bytes.push(2, 4, (options.mss >>> 8) & 0xff, options.mss & 0xff);
  const u32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  // Linux's SYN layout: MSS | SACK-permitted + timestamps | NOP + window scale.
  if (options.sackPermitted && options.timestamp) {
    bytes.push(4, 2, 8, 10, ...u32(options.timestamp.value), ...u32(options.timestamp.echo));
  } else {
    if (options.sackPermitted) bytes.push(1, 1, 4, 2);
    if (options.timestamp) bytes.push(1, 1, 8, 10, ...u32(options.timestamp.value), ...u32(options.timestamp.echo));
  }
  if (options.windowScale !== undefined) bytes.push(1, 3, 3, options.windowScale);
  if (options.sack !== undefined && options.sack.length > 0) {
    bytes.push(1, 1, 5, 2 + 8 * options.sack.length);
    for (const [left, right] of options.sack) bytes.push(...u32(left), ...u32(right));
  }
  if (options.rawTcpOptions) bytes.push(...options.rawTcpOptions);
  while (bytes.length % 4 !== 0) bytes.push(0); // End-of-List padding
  if (bytes.length > 40) throw new Error(`TCP options of ${bytes.length} bytes exceed 40`);
  return Uint8Array.from(bytes);
}

/** The TCP segment alone (header with options + payload), checksum zero. */
export function tcpSegment(options: TcpBuildOptions): Uint8Array {
  const tcpOptions = tcpOptionBytes(options);
  const payload = options.payload ?? new Uint8Array(0);
  const headerBytes = 20 + tcpOptions.length;
  const segment = new Uint8Array(headerBytes + payload.length);
  writeU16(segment, 0, options.srcPort ?? 40000);
  writeU16(segment, 2, options.dstPort ?? 8080);
  writeU32(segment, 4, options.seq ?? 1);
  writeU32(segment, 8, options.ack ?? 0);
  segment[12] = (headerBytes / 4) << 4;
  segment[13] = tcpFlagBits(options.flags);
  writeU16(segment, 14, options.window ?? 64240);
  writeU16(segment, 18, options.urgentPointer ?? 0);
  segment.set(tcpOptions, 20);
  segment.set(payload, headerBytes);
  return segment;
}

export function buildTcp(options: TcpBuildOptions): Uint8Array {
  return wrapLink(options, buildIpPacket(options, PROTOCOL_TCP, tcpSegment(options), 16));
}

export function buildUdp(options: UdpBuildOptions): Uint8Array {
  const payload = options.payload ?? new Uint8Array(0);
  const datagram = new Uint8Array(8 + payload.length);
  writeU16(datagram, 0, options.srcPort ?? 40000);
  writeU16(datagram, 2, options.dstPort ?? 53);
  writeU16(datagram, 4, datagram.length);
  datagram.set(payload, 8);
  return wrapLink(options, buildIpPacket(options, PROTOCOL_UDP, datagram, 6));
}

function buildIcmpMessage(options: IpBuildOptions, type: number, code: number, restOfHeader: number, body: Uint8Array): Uint8Array {
  const v6 = isIpv6Text(options.src);
  const message = new Uint8Array(8 + body.length);
  message[0] = type;
  message[1] = code;
  writeU32(message, 4, restOfHeader >>> 0);
  message.set(body, 8);
  // ICMPv4 checksums the message only (RFC 792); ICMPv6 adds the pseudo-header (RFC 4443 §2.3).
  const packet = buildIpPacket(options, v6 ? PROTOCOL_ICMPV6 : PROTOCOL_ICMP, message, 2, v6);
  return wrapLink(options, packet);
}

/** ICMP or ICMPv6 echo request/reply, by the address family. */
export function buildIcmpEcho(options: IcmpEchoBuildOptions): Uint8Array {
  const v6 = isIpv6Text(options.src);
  const reply = options.echo === 'reply';
  const type = v6 ? (reply ? 129 : 128) : reply ? 0 : 8;
  const rest = (((options.id ?? 1) & 0xffff) << 16) | ((options.seq ?? 1) & 0xffff);
  return buildIcmpMessage(options, type, 0, rest, options.payload ?? new Uint8Array(0));
}

/** Any ICMP error message quoting `options.quoted`, ICMPv4 or ICMPv6 by the address family. */
export function buildIcmpError(options: IcmpErrorBuildOptions): Uint8Array {
  const limit = options.quotedBytes ?? (isIpv6Text(options.src) ? 1232 : 548);
  return buildIcmpMessage(options, options.type, options.code, options.restOfHeader ?? 0, options.quoted.slice(0, limit));
}

/** ICMPv4 destination unreachable, fragmentation needed (type 3 code 4) with the next-hop MTU (RFC 1191 §4). */
export function buildIcmpFragNeeded(options: IcmpMtuBuildOptions): Uint8Array {
  return buildIcmpError({ ...options, type: 3, code: 4, restOfHeader: options.mtu & 0xffff });
}

/** ICMPv6 packet too big (type 2 code 0) with the MTU (RFC 4443 §3.2, RFC 8201). */
export function buildIcmpv6PacketTooBig(options: IcmpMtuBuildOptions): Uint8Array {
  return buildIcmpError({ ...options, type: 2, code: 0, restOfHeader: options.mtu });
}
