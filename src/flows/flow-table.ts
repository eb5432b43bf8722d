import { TcpFlag } from '../decode/types';
import type { PacketObservation } from '../capture/observation';
import { flowKey, type SocketAddress } from './flow-key';

/** What one endpoint of a connection has sent, as far as the capture saw it. */
export interface FlowSide {
  address: SocketAddress;
  packets: number;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Last segment that carried payload. */
  lastPayloadMs: number | null;
  /** Initial sequence number of its SYN (or SYN-ACK), and when it was sent. */
  synSeq: number | null;
  synMs: number | null;
  synAck: boolean;
  finMs: number | null;
  /** Silence of the whole flow (both sides) right before this side's FIN: how long it waited before closing. */
  idleBeforeFinMs: number | null;
  /** Highest TTL seen from this side (the copy nearest the sender, see DuplicateFilter). */
  ttl: number;
  ipId: number | null;
  mss: number | null;
}

export interface FlowRecord {
  key: string;
  /** The endpoint that sent the first SYN without ACK, when seen. */
  client: SocketAddress | null;
  sides: [FlowSide] | [FlowSide, FlowSide];
  /** Latest segment of either side. */
  lastMs: number;
  /**
   * The silence before the current burst: a burst starts with the first segment
   * after at least QUIET_GAP_MS without any. A reset usually ends a burst it
   * belongs to (the peer's request, then the RST), so the idle time that matters
   * is this gap, not the few ms since the request. Null while the flow had no gap.
   */
  gapBeforeBurstMs: number | null;
  burstStartMs: number;
}

/** Segments closer than this belong to one exchange (request, answer, ACKs, FIN handshake). */
export const QUIET_GAP_MS = 500;

/** A flow's two sides as seen from one packet's direction. */
export interface FlowView {
  flow: FlowRecord;
  sender: FlowSide | null;
  receiver: FlowSide | null;
}

/**
 * Per-connection context (handshake, last activity, FIN, TTL, MSS) with a hard cap
 * on memory: beyond `maxFlows` the least recently active flow is evicted and
 * counted. Flows idle longer than `idleExpiryMs` are dropped by `expire`.
 */
export class FlowTable {
  private readonly flows = new Map<string, FlowRecord>();
  evicted = 0;

  constructor(
    private readonly maxFlows = 100_000,
    private readonly idleExpiryMs = 30 * 60_000,
  ) {}

  get size(): number {
    return this.flows.size;
  }

  /** Records a TCP segment. */
  observe(observation: PacketObservation): void {
    const { ip, tcp } = observation.packet;
    if (tcp === null) return;
    const src = { ip: ip.src, port: tcp.srcPort };
    const dst = { ip: ip.dst, port: tcp.dstPort };
    const key = flowKey(src, dst);
    let flow = this.flows.get(key);
    if (flow === undefined) {
      flow = { key, client: null, sides: [newSide(src, observation.timeMs)], lastMs: observation.timeMs, gapBeforeBurstMs: null, burstStartMs: observation.timeMs };
      this.insert(key, flow);
    } else {
      this.flows.delete(key); // re-insert: Map order is recency order
      this.flows.set(key, flow);
    }
    let side = findSide(flow, src);
    if (side === null) {
      side = newSide(src, observation.timeMs);
      flow.sides = [flow.sides[0], side];
    }
    const gapMs = observation.timeMs - flow.lastMs;
    const isFirstPacket = side.packets === 0 && flow.sides.length === 1;
    if ((tcp.flags & TcpFlag.FIN) !== 0 && side.finMs === null && !isFirstPacket) side.idleBeforeFinMs = Math.max(0, gapMs);
    if (gapMs >= QUIET_GAP_MS) {
      flow.gapBeforeBurstMs = gapMs;
      flow.burstStartMs = observation.timeMs;
    }
    if (observation.timeMs > flow.lastMs) flow.lastMs = observation.timeMs;
    side.packets++;
    side.lastSeenMs = observation.timeMs;
    if (ip.ttl > side.ttl || side.packets === 1) side.ttl = ip.ttl;
    side.ipId = ip.ipId;
    if (tcp.payloadBytes > 0) side.lastPayloadMs = observation.timeMs;
    if ((tcp.flags & TcpFlag.SYN) !== 0) {
      side.synSeq = tcp.seq;
      side.synMs = observation.timeMs;
      side.synAck = (tcp.flags & TcpFlag.ACK) !== 0;
      if (tcp.options.mss !== null) side.mss = tcp.options.mss;
      if (!side.synAck) flow.client = src;
    }
    if ((tcp.flags & TcpFlag.FIN) !== 0 && side.finMs === null) side.finMs = observation.timeMs;
  }

  /** A copy of the flow as seen from `src`, to judge a packet against the flow's past before observing it. */
  snapshot(src: SocketAddress, dst: SocketAddress): FlowView | null {
    const flow = this.flows.get(flowKey(src, dst));
    if (flow === undefined) return null;
    const sides = flow.sides.map((side) => ({ ...side })) as FlowRecord['sides'];
    const copy: FlowRecord = { ...flow, sides };
    return { flow: copy, sender: findSide(copy, src), receiver: findSide(copy, dst) };
  }

  expire(nowMs: number): void {
    for (const [key, flow] of this.flows) {
      if (nowMs - flow.lastMs <= this.idleExpiryMs) break; // oldest first
      this.flows.delete(key);
    }
  }

  private insert(key: string, flow: FlowRecord): void {
    if (this.flows.size >= this.maxFlows) {
      const oldest = this.flows.keys().next();
      if (!oldest.done) {
        this.flows.delete(oldest.value);
        this.evicted++;
      }
    }
    this.flows.set(key, flow);
  }
}

function newSide(address: SocketAddress, timeMs: number): FlowSide {
  return {
    address,
    packets: 0,
    firstSeenMs: timeMs,
    lastSeenMs: timeMs,
    lastPayloadMs: null,
    synSeq: null,
    synMs: null,
    synAck: false,
    finMs: null,
    idleBeforeFinMs: null,
    ttl: 0,
    ipId: null,
    mss: null,
  };
}

function findSide(flow: FlowRecord, address: SocketAddress): FlowSide | null {
  for (const side of flow.sides) {
    if (side.address.port === address.port && side.address.ip === address.ip) return side;
  }
  return null;
}
