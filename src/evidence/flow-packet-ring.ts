import type { PacketObservation } from '../capture/observation';
import { flowKey, type SocketAddress } from '../flows/flow-key';

/**
 * The last packets of each tracked TCP connection, kept so that a reset finding
 * can come with a capture of its own flow. In `control` capture mode these are
 * the SYNs, FINs and RSTs; in `headers` mode every segment. Bounded three ways:
 * packets per flow (a ring), flows (least recently active evicted) and packets in
 * all. Holds the decoded packets and a copy of each one's captured bytes from the
 * IP header on (up to SNAP_BYTES: the headers, and the start of any payload), in one
 * buffer per flow so that recording a packet allocates nothing.
 */
export interface FlowPacketRingOptions {
  packetsPerFlow?: number;
  maxFlows?: number;
  maxPackets?: number;
}

/** Bytes kept per packet from its IP header on: IPv6 (40) + TCP with options (60), and some payload. */
export const SNAP_BYTES = 128;

/** A kept packet: decoded, and as captured from its IP header (null when the capture gave no bytes). */
export interface RingPacket {
  observation: PacketObservation;
  ipBytes: Uint8Array | null;
}

interface FlowRing {
  packets: PacketObservation[];
  /** Packet i's bytes are bytes[i * SNAP_BYTES, + lengths[i]); length 0: none. */
  bytes: Uint8Array;
  lengths: Uint16Array;
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
    // A decoded packet is about 0.5-1 KB of objects, plus SNAP_BYTES: 16k of them stay near 12 MB.
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
      ring = { packets: [], bytes: new Uint8Array(this.packetsPerFlow * SNAP_BYTES), lengths: new Uint16Array(this.packetsPerFlow), next: 0 };
    } else {
      this.flows.delete(key); // re-insert: Map order is recency order
    }
    this.flows.set(key, ring);
    let slot: number;
    if (ring.packets.length < this.packetsPerFlow) {
      slot = ring.packets.length;
      ring.packets.push(observation);
      this.packetCount++;
    } else {
      slot = ring.next;
      ring.packets[slot] = observation;
      ring.next = (ring.next + 1) % this.packetsPerFlow;
    }
    ring.lengths[slot] = copyIpBytes(observation, ring.bytes, slot * SNAP_BYTES);
    while (this.flows.size > this.maxFlows || this.packetCount > this.maxPackets) this.evictOldest();
  }

  /** The flow's packets, oldest first (empty when it is not tracked). */
  packetsOf(a: SocketAddress, b: SocketAddress): RingPacket[] {
    const ring = this.flows.get(flowKey(a, b));
    if (ring === undefined) return [];
    const kept = ring.packets.map((observation, slot): RingPacket => {
      const length = ring.lengths[slot];
      return { observation, ipBytes: length === 0 ? null : ring.bytes.slice(slot * SNAP_BYTES, slot * SNAP_BYTES + length) };
    });
    return [...kept.slice(ring.next), ...kept.slice(0, ring.next)];
  }

  private evictOldest(): void {
    const oldest = this.flows.entries().next();
    if (oldest.done) return;
    this.flows.delete(oldest.value[0]);
    this.packetCount -= oldest.value[1].packets.length;
    this.evictedFlows++;
  }
}

/** Copies the observation's captured bytes from its IP header (at most SNAP_BYTES) to `into` at `at`; returns how many (0: none). */
function copyIpBytes(observation: PacketObservation, into: Uint8Array, at: number): number {
  const { frame, frameIpOffset } = observation;
  if (frame === undefined || frameIpOffset === undefined || frameIpOffset < 0 || frameIpOffset >= frame.length) return 0;
  const length = Math.min(SNAP_BYTES, frame.length - frameIpOffset);
  // A plain loop: a subarray for set() would allocate a view per packet.
  for (let i = 0; i < length; i++) into[at + i] = frame[frameIpOffset + i];
  return length;
}
