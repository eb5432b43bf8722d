import type { PacketObservation } from '../capture/observation';
import { flowKey, type SocketAddress } from '../flows/flow-key';

/**
 * The last packets of each tracked TCP connection, kept so that a reset finding
 * can come with a capture of its own flow. In `control` capture mode these are
 * the SYNs, FINs and RSTs; in `headers` mode every segment. Bounded three ways:
 * packets per flow (a ring), flows (least recently active evicted) and packets in
 * all. Holds the decoded packets (no copy, no encoding on the hot path); headers
 * are rebuilt only when a capture is written.
 */
export interface FlowPacketRingOptions {
  packetsPerFlow?: number;
  maxFlows?: number;
  maxPackets?: number;
}

interface FlowRing {
  packets: PacketObservation[];
  /** Index of the oldest packet once the ring is full. */
  next: number;
}

export class FlowPacketRing {
  private readonly flows = new Map<string, FlowRing>();
  private readonly packetsPerFlow: number;
  private readonly maxFlows: number;
  private readonly maxPackets: number;
  private packetCount = 0;
  evictedFlows = 0;

  constructor(options: FlowPacketRingOptions = {}) {
    this.packetsPerFlow = options.packetsPerFlow ?? 16;
    // A decoded packet is about 0.5-1 KB of objects: 16k of them stay near 10 MB.
    this.maxFlows = options.maxFlows ?? 4_096;
    this.maxPackets = options.maxPackets ?? 16_384;
  }

  get flowCount(): number {
    return this.flows.size;
  }

  get packets(): number {
    return this.packetCount;
  }

  record(observation: PacketObservation): void {
    const { ip, tcp } = observation.packet;
    if (tcp === null) return;
    const key = flowKey({ ip: ip.src, port: tcp.srcPort }, { ip: ip.dst, port: tcp.dstPort });
    let ring = this.flows.get(key);
    if (ring === undefined) {
      ring = { packets: [], next: 0 };
    } else {
      this.flows.delete(key); // re-insert: Map order is recency order
    }
    this.flows.set(key, ring);
    if (ring.packets.length < this.packetsPerFlow) {
      ring.packets.push(observation);
      this.packetCount++;
    } else {
      ring.packets[ring.next] = observation;
      ring.next = (ring.next + 1) % this.packetsPerFlow;
    }
    while (this.flows.size > this.maxFlows || this.packetCount > this.maxPackets) this.evictOldest();
  }

  /** The flow's packets, oldest first (empty when it is not tracked). */
  packetsOf(a: SocketAddress, b: SocketAddress): PacketObservation[] {
    const ring = this.flows.get(flowKey(a, b));
    if (ring === undefined) return [];
    return [...ring.packets.slice(ring.next), ...ring.packets.slice(0, ring.next)];
  }

  private evictOldest(): void {
    const oldest = this.flows.entries().next();
    if (oldest.done) return;
    this.flows.delete(oldest.value[0]);
    this.packetCount -= oldest.value[1].packets.length;
    this.evictedFlows++;
  }
}
