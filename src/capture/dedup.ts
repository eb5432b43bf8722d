import type { PacketObservation } from './observation';

/**
 * A packet forwarded through this node is captured twice on an `any` capture: once
 * on the interface it came in by and once on the one it leaves by (pod veth and
 * uplink), the second copy with its TTL one lower. Loopback traffic is likewise seen
 * as outgoing and incoming. Everything that identifies the packet except the TTL
 * (and the header checksum that covers it) is the same, so copies seen within a
 * short window are one packet.
 *
 * Identity is a 53-bit hash of the raw bytes, computed before decoding so that
 * copies cost no decoding at all (this runs for every captured frame). The first
 * copy is kept; later copies only raise its TTL to the highest seen, because the
 * copy nearest to the sender is the one whose TTL says how far away it is.
 */
export class DuplicateFilter {
  private readonly recent = new Map<number, { timeMs: number; observation: PacketObservation }>();
  private oldestTimeMs = 0;

  constructor(private readonly windowMs = 50) {}

  /**
   * Returns the earlier observation that the frame with this identity duplicates
   * (after raising its TTL to `ttl` if higher), or null when the frame is new.
   */
  duplicateOf(identity: number, timeMs: number, ttl: number): PacketObservation | null {
    this.expire(timeMs);
    const earlier = this.recent.get(identity);
    if (earlier === undefined || timeMs - earlier.timeMs > this.windowMs) return null;
    const kept = earlier.observation.packet.ip;
    if (ttl > kept.ttl) kept.ttl = ttl;
    return earlier.observation;
  }

  /** Remembers a new packet under its identity. */
  remember(identity: number, observation: PacketObservation): void {
    this.recent.delete(identity); // keep Map order = time order
    this.recent.set(identity, { timeMs: observation.timeMs, observation });
  }

  private expire(nowMs: number): void {
    if (nowMs - this.oldestTimeMs <= this.windowMs * 4) return;
    for (const [identity, entry] of this.recent) {
      if (nowMs - entry.timeMs <= this.windowMs) break; // Map order is time order
      this.recent.delete(identity);
    }
    const first = this.recent.values().next();
    this.oldestTimeMs = first.done ? nowMs : first.value.timeMs;
  }
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
/** Bytes of the transport header that take part in the identity (TCP: ports, seq, ack, flags, window). */
const TRANSPORT_IDENTITY_BYTES = 16;

/**
 * Identity of a network-layer packet for DuplicateFilter: hash53 of every byte of
 * the IP header except TTL/hop limit and the IPv4 header checksum, plus the start
 * of the transport header.
 * Returns -1 when the bytes are not IPv4/IPv6 or too short.
 */
export function packetIdentity(bytes: Uint8Array, offset: number, end = bytes.length): number {
  const version = end > offset ? bytes[offset] >> 4 : 0;
  let headerEnd: number;
  let ttlIndex: number;
  if (version === 4) {
    headerEnd = offset + (bytes[offset] & 0x0f) * 4;
    ttlIndex = offset + 8;
  } else if (version === 6) {
    headerEnd = offset + 40;
    ttlIndex = offset + 7;
  } else {
    return -1;
  }
  const identityEnd = Math.min(end, headerEnd + TRANSPORT_IDENTITY_BYTES);
  if (identityEnd < headerEnd) return -1;
  // The IPv4 checksum (bytes 10-11) changes with the TTL; skip both.
  const checksumIndex = version === 4 ? offset + 10 : -1;
  return hash53(bytes, offset, identityEnd, ttlIndex, checksumIndex, checksumIndex + 1);
}

/**
 * A 53-bit hash of bytes[start, end) without the bytes at the skip indexes: FNV-1a
 * and a murmur-style mix in two independent 32-bit lanes, joined so that the result
 * is an exact JavaScript number (a cheap Map key).
 */
export function hash53(bytes: Uint8Array, start: number, end: number, skipA = -1, skipB = -1, skipC = -1): number {
  let lane1 = 0x811c9dc5;
  let lane2 = 0x01000193 ^ (end - start);
  for (let i = start; i < end; i++) {
    if (i === skipA || i === skipB || i === skipC) continue;
    const byte = bytes[i];
    lane1 = Math.imul(lane1 ^ byte, 0x01000193);
    lane2 = Math.imul(lane2 ^ byte, 0x5bd1e995) ^ (lane2 >>> 15);
  }
  return (lane1 >>> 0) * 0x200000 + ((lane2 >>> 0) & 0x1fffff);
}

/**
 * Where the IP header starts in AF_PACKET SOCK_DGRAM data that starts at `offset`
 * with this EtherType; -1 when not IP. A VLAN tag left in the data puts
 * [TCI, inner EtherType] before the IP header (see decodeNetwork).
 */
export function ipHeaderOffset(etherType: number, bytes: Uint8Array, offset = 0, end = bytes.length): number {
  if (etherType === ETHERTYPE_IPV4 || etherType === ETHERTYPE_IPV6) return offset;
  if ((etherType === 0x8100 || etherType === 0x88a8) && end - offset >= 4) {
    const inner = (bytes[offset + 2] << 8) | bytes[offset + 3];
    return inner === ETHERTYPE_IPV4 || inner === ETHERTYPE_IPV6 ? offset + 4 : -1;
  }
  return -1;
}
