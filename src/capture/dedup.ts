import type { PacketObservation } from './observation';

/**
 * A packet forwarded through this node is captured twice on an `any` capture: once
 * on the interface it came in by and once on the one it leaves by (pod veth and
 * uplink), the second copy with its TTL one lower. Loopback traffic is likewise seen
 * as outgoing and incoming. Everything that identifies the segment except the TTL
 * is the same, so copies seen within a short window are one packet.
 *
 * The first copy is kept and later copies only raise its TTL to the highest seen:
 * the copy nearest to the sender is the one whose TTL says how far away it is.
 */
export class DuplicateFilter {
  private readonly recent = new Map<string, { timeMs: number; observation: PacketObservation }>();
  private oldestTimeMs = 0;

  constructor(private readonly windowMs = 50) {}

  /** Returns true when `observation` is a new packet, false when it is a copy of one seen within the window. */
  accept(observation: PacketObservation): boolean {
    const key = identity(observation);
    if (key === null) return true;
    this.expire(observation.timeMs);
    const earlier = this.recent.get(key);
    if (earlier !== undefined && observation.timeMs - earlier.timeMs <= this.windowMs) {
      const kept = earlier.observation.packet.ip;
      if (observation.packet.ip.ttl > kept.ttl) kept.ttl = observation.packet.ip.ttl;
      return false;
    }
    this.recent.set(key, { timeMs: observation.timeMs, observation });
    return true;
  }

  private expire(nowMs: number): void {
    if (nowMs - this.oldestTimeMs <= this.windowMs * 4) return;
    for (const [key, entry] of this.recent) {
      if (nowMs - entry.timeMs > this.windowMs) this.recent.delete(key);
      else break; // insertion order is time order (captures deliver in order)
    }
    const first = this.recent.values().next();
    this.oldestTimeMs = first.done ? nowMs : first.value.timeMs;
  }
}

/** What stays the same when a router forwards a packet (all but TTL and checksum). */
function identity(observation: PacketObservation): string | null {
  const { ip, tcp, icmp } = observation.packet;
  const ids = `${ip.src} ${ip.dst} ${ip.protocol} ${ip.ipId ?? ''} ${ip.totalBytes}`;
  if (tcp !== null) return `${ids} ${tcp.srcPort} ${tcp.dstPort} ${tcp.seq} ${tcp.ack} ${tcp.flags} ${tcp.window}`;
  if (icmp !== null) return `${ids} ${icmp.type} ${icmp.code} ${icmp.mtu ?? ''}`;
  return null;
}
