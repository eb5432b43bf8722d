import { LinkType } from '../decode/types';

/**
 * A look at raw frame bytes, without decoding, that answers one question fast:
 * is this a "plain" TCP segment (no SYN, FIN or RST, not a fragment, no IPv6
 * extension headers), and which direction of which connection is it? Plain
 * segments only move a flow's clock and counters forward, so the offline pipeline
 * can keep the latest of them per direction and decode just that one later
 * (SegmentCoalescer). Anything else is decoded in full.
 */
export interface PlainSegmentInfo {
  /** Key of the connection, the same for both directions (a 32-bit hash, a small integer for the Map). */
  key: number;
  /** A second, independent 32-bit hash of the connection, to tell two connections with one `key` apart. */
  check: number;
  /** 0 when the source is the connection's lower endpoint, 1 otherwise. */
  direction: 0 | 1;
  /** What tells one packet from a second copy of it seen on another interface. */
  sameness: number;
  ttl: number;
  /** Offset of the TTL / hop limit byte from the frame's start. */
  ttlIndex: number;
  hasPayload: boolean;
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const TCP = 6;
/** SYN | FIN | RST (RFC 9293 §3.1). */
const CONTROL_FLAGS = 0x07;

function isVlan(etherType: number): boolean {
  return etherType === 0x8100 || etherType === 0x88a8 || etherType === 0x9100;
}

/** IP header offset of the frame at bytes[start, end), or -1 when it is not IPv4/IPv6 (mirrors src/decode/link.ts). */
export function ipOffsetOf(linkType: LinkType, bytes: Uint8Array, start: number, end: number): number {
  let at: number;
  let etherType: number;
  switch (linkType) {
    case LinkType.ETHERNET:
      at = start + 14;
      etherType = at <= end ? (bytes[start + 12] << 8) | bytes[start + 13] : 0;
      break;
    case LinkType.LINUX_SLL:
      at = start + 16;
      etherType = at <= end ? (bytes[start + 14] << 8) | bytes[start + 15] : 0;
      break;
    case LinkType.LINUX_SLL2:
      at = start + 20;
      etherType = at <= end ? (bytes[start] << 8) | bytes[start + 1] : 0;
      break;
    case LinkType.NULL:
      return start + 4 < end ? start + 4 : -1;
    default:
      return start < end ? start : -1; // raw IP: the version nibble is checked by the caller
  }
  while (isVlan(etherType) && at + 4 <= end) {
    etherType = (bytes[at + 2] << 8) | bytes[at + 3];
    at += 4;
  }
  return etherType === ETHERTYPE_IPV4 || etherType === ETHERTYPE_IPV6 ? at : -1;
}

/** A big-endian 32-bit word as a signed integer: V8 keeps those unboxed (Smi), where values above 2^31 would be allocated. */
const i32 = (bytes: Uint8Array, at: number): number => (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];

/**
 * Two independent 32-bit hashes of (lower endpoint, higher endpoint): addresses
 * (1 or 4 words each) and the port pair, mixed FNV-style and murmur-style, into
 * `info.key` and `info.check`.
 */
function hashEndpoints(bytes: Uint8Array, lowAt: number, highAt: number, addressWords: number, ports: number, info: PlainSegmentInfo): void {
  let lane1 = 0x811c9dc5 | 0;
  let lane2 = 0x01000193;
  for (let index = 0; index < 2 * addressWords + 1; index++) {
    const word = index < addressWords ? i32(bytes, lowAt + index * 4) : index < 2 * addressWords ? i32(bytes, highAt + (index - addressWords) * 4) : ports;
    lane1 = Math.imul(lane1 ^ word, 0x01000193) ^ (lane1 >>> 13);
    lane2 = Math.imul(lane2 ^ word, 0x5bd1e995) ^ (lane2 >>> 15);
  }
  info.key = lane1 | 0;
  info.check = lane2 | 0;
}

/** hashEndpoints for IPv4 (one address word each), unrolled: same keys, no loop or word selection per packet. */
function hashEndpoints4(low: number, high: number, ports: number, info: PlainSegmentInfo): void {
  let lane1 = 0x811c9dc5 | 0;
  let lane2 = 0x01000193;
  lane1 = Math.imul(lane1 ^ low, 0x01000193) ^ (lane1 >>> 13);
  lane2 = Math.imul(lane2 ^ low, 0x5bd1e995) ^ (lane2 >>> 15);
  lane1 = Math.imul(lane1 ^ high, 0x01000193) ^ (lane1 >>> 13);
  lane2 = Math.imul(lane2 ^ high, 0x5bd1e995) ^ (lane2 >>> 15);
  lane1 = Math.imul(lane1 ^ ports, 0x01000193) ^ (lane1 >>> 13);
  lane2 = Math.imul(lane2 ^ ports, 0x5bd1e995) ^ (lane2 >>> 15);
  info.key = lane1 | 0;
  info.check = lane2 | 0;
}

export const SegmentKind = {
  /** Not a TCP segment this fast path reads (not IP, not TCP, a fragment, IPv6 extension headers). */
  OTHER: 0,
  /** ACK or data only. */
  PLAIN: 1,
  /** SYN, FIN or RST: `key` and `direction` are set, the rest is not. */
  CONTROL: 2,
} as const;
export type SegmentKind = (typeof SegmentKind)[keyof typeof SegmentKind];

/** Whether the source endpoint sorts after the destination (addresses word by word, then ports). */
function sourceIsHigher(bytes: Uint8Array, srcAt: number, dstAt: number, addressWords: number, ports: number): boolean {
  // Any fixed order will do (both directions must pick the same endpoint first): signed words compare cheapest.
  for (let word = 0; word < addressWords; word++) {
    const src = i32(bytes, srcAt + word * 4);
    const dst = i32(bytes, dstAt + word * 4);
    if (src !== dst) return src > dst;
  }
  return ports >>> 16 > (ports & 0xffff);
}

/**
 * Classifies the frame at bytes[start, end). Fills `info`: everything for a plain
 * segment; the key and direction for a SYN/FIN/RST.
 */
export function readSegment(linkType: LinkType, bytes: Uint8Array, start: number, end: number, info: PlainSegmentInfo): SegmentKind {
  const ip = ipOffsetOf(linkType, bytes, start, end);
  if (ip < 0 || ip + 40 > end) return SegmentKind.OTHER;
  const version = bytes[ip] >> 4;
  let tcp: number;
  let addressWords: number;
  let srcAt: number;
  let payloadBytes: number;
  if (version === 4) {
    const headerBytes = (bytes[ip] & 0x0f) * 4;
    // Not TCP, or a fragment (MF set or an offset): decode in full.
    if (bytes[ip + 9] !== TCP || headerBytes < 20 || ((bytes[ip + 6] & 0x3f) | bytes[ip + 7]) !== 0) return SegmentKind.OTHER;
    tcp = ip + headerBytes;
    addressWords = 1;
    srcAt = ip + 12;
    payloadBytes = ((bytes[ip + 2] << 8) | bytes[ip + 3]) - headerBytes;
    info.ttlIndex = ip + 8 - start;
  } else if (version === 6) {
    if (bytes[ip + 6] !== TCP) return SegmentKind.OTHER; // extension headers: decode in full
    tcp = ip + 40;
    addressWords = 4;
    srcAt = ip + 8;
    payloadBytes = (bytes[ip + 4] << 8) | bytes[ip + 5];
    info.ttlIndex = ip + 7 - start;
  } else {
    return SegmentKind.OTHER;
  }
  if (tcp + 20 > end) return SegmentKind.OTHER;
  const ports = i32(bytes, tcp);
  const dstAt = srcAt + addressWords * 4;
  if (addressWords === 1) {
    const src = i32(bytes, srcAt);
    const dst = i32(bytes, dstAt);
    if (src > dst || (src === dst && ports >>> 16 > (ports & 0xffff))) {
      info.direction = 1;
      hashEndpoints4(dst, src, ((ports & 0xffff) << 16) | (ports >>> 16), info);
    } else {
      info.direction = 0;
      hashEndpoints4(src, dst, ports, info);
    }
  } else if (sourceIsHigher(bytes, srcAt, dstAt, addressWords, ports)) {
    info.direction = 1;
    hashEndpoints(bytes, dstAt, srcAt, addressWords, ((ports & 0xffff) << 16) | (ports >>> 16), info);
  } else {
    info.direction = 0;
    hashEndpoints(bytes, srcAt, dstAt, addressWords, ports, info);
  }
  if ((bytes[tcp + 13] & CONTROL_FLAGS) !== 0) return SegmentKind.CONTROL;
  // Sequence and acknowledgment numbers, flags and window, and the IPv4 ID: equal in every copy of one packet.
  const ipId = version === 4 ? (bytes[ip + 4] << 8) | bytes[ip + 5] : 0;
  info.sameness = i32(bytes, tcp + 4) ^ Math.imul(i32(bytes, tcp + 8), 0x9e3779b1 | 0) ^ i32(bytes, tcp + 12) ^ (ipId << 8);
  info.ttl = bytes[ip + (version === 4 ? 8 : 7)];
  info.hasPayload = payloadBytes - (bytes[tcp + 12] >> 4) * 4 > 0;
  return SegmentKind.PLAIN;
}
