import { TcpFlag } from '../decode/types';
import type { PacketObservation } from '../capture/observation';
import type { SocketAddress } from './flow-key';

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
  /** When this side's TTL last went into the TTL baseline (the analyzer refreshes it at most once a second). */
  ttlRecordedMs: number | null;
  ttlRecorded: number | null;
}

export interface FlowRecord {
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
  /** CLOCK reference bit: set by each segment, cleared when eviction passes over the flow. */
  touched: boolean;
  /** Closed by RST or by FINs from both sides: kept only `closedExpiryMs` for late segments and RSTs. */
  closed: boolean;
  /** The two endpoints, in key order. */
  endA: SocketAddress;
  endB: SocketAddress;
  /** Next flow with the same port pair (FlowTable's numeric index); null in snapshots. */
  nextInBucket: FlowRecord | null;
  /** The side that sent the latest segment. */
  lastSide: FlowSide;
  /** Set when the table dropped the flow (evicted or expired), for holders of the live record. */
  removed: boolean;
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
 * on memory: beyond `maxFlows` a least recently active flow is evicted and counted.
 * Recency is tracked the CLOCK way (a reference bit per flow, second chance at
 * eviction) rather than by moving each flow to the end of the Map on every
 * segment: a delete and re-insert per packet costs more than the rest of the
 * flow update together. Flows idle longer than `idleExpiryMs`, and closed flows
 * after `closedExpiryMs`, are dropped by `expire`.
 */
export class FlowTable {
  /** Every flow, in CLOCK order (Set order is insertion order). */
  private readonly flows = new Set<FlowRecord>();
  evicted = 0;
  private lastExpireMs = 0;
  /**
   * Live records keep times as integer ms since this base: small integers stay
   * unboxed in V8 objects, where epoch ms (doubles) would each be a separate heap
   * number — a fifth of the table's heap in bench/diagnosis.ts. Snapshots give
   * epoch ms again.
   */
  private baseMs: number | null = null;
  /** Set by find(): whether the segment's source is the flow's endA. */
  private foundSrcIsA = true;
  /**
   * One string per address for all flows: the decoder builds each address anew per
   * packet as a rope of concatenated octets (several hundred bytes as V8 keeps it);
   * kept per flow that would be most of a flow's memory.
   */
  private readonly addresses = new Map<string, string>();
  /**
   * Per-packet lookup by a number made of the port pair and a hash of the two
   * addresses, with the addresses compared in the (short) bucket: hashing a fresh
   * 30-character key string per packet was the largest cost of the whole analysis
   * (bench/diagnosis.ts). The addresses are in the number so that a flood from
   * many spoofed addresses with one source port does not make one long bucket.
   */
  private readonly byPorts = new Map<number, FlowRecord>();

  constructor(
    private readonly maxFlows = 100_000,
    private readonly idleExpiryMs = 30 * 60_000,
    private readonly closedExpiryMs = 60_000,
  ) {}

  get size(): number {
    return this.flows.size;
  }

  /** `timeMs` (epoch ms) on the live records' scale (see baseMs). */
  tableTimeMs(timeMs: number): number {
    this.baseMs ??= Math.floor(timeMs);
    return Math.round(timeMs - this.baseMs);
  }

  /**
   * Records a TCP segment and returns the live flow record (its `lastSide` is the
   * segment's sender); times in live records are on the table's scale (tableTimeMs).
   */
  observe(observation: PacketObservation): FlowRecord | null {
    const { ip, tcp } = observation.packet;
    if (tcp === null) return null;
    const timeMs = this.tableTimeMs(observation.timeMs);
    let flow = this.find(ip.src, tcp.srcPort, ip.dst, tcp.dstPort);
    if (flow === null) {
      const src = { ip: this.intern(ip.src), port: tcp.srcPort };
      const dst = { ip: this.intern(ip.dst), port: tcp.dstPort };
      const srcFirst = src.ip < dst.ip || (src.ip === dst.ip && src.port <= dst.port);
      const first = newSide(src, timeMs);
      flow = {
        client: null,
        sides: [first],
        lastMs: timeMs,
        gapBeforeBurstMs: null,
        burstStartMs: timeMs,
        touched: true,
        closed: false,
        endA: srcFirst ? src : dst,
        endB: srcFirst ? dst : src,
        nextInBucket: null,
        lastSide: first,
        removed: false,
      };
      this.insert(flow);
      this.foundSrcIsA = srcFirst;
    }
    flow.touched = true;
    // Sides share their address object with endA/endB: an identity check, no string compare.
    const end = this.foundSrcIsA ? flow.endA : flow.endB;
    let side = flow.sides[0].address === end ? flow.sides[0] : (flow.sides[1] ?? null);
    if (side === null) {
      side = newSide(end, timeMs);
      flow.sides = [flow.sides[0], side];
    }
    const gapMs = timeMs - flow.lastMs;
    const isFirstPacket = side.packets === 0 && flow.sides.length === 1;
    if ((tcp.flags & TcpFlag.FIN) !== 0 && side.finMs === null && !isFirstPacket) side.idleBeforeFinMs = Math.max(0, gapMs);
    if (gapMs >= QUIET_GAP_MS) {
      flow.gapBeforeBurstMs = gapMs;
      flow.burstStartMs = timeMs;
    }
    if (timeMs > flow.lastMs) flow.lastMs = timeMs;
    side.packets++;
    side.lastSeenMs = timeMs;
    if (ip.ttl > side.ttl || side.packets === 1) side.ttl = ip.ttl;
    side.ipId = ip.ipId;
    if (tcp.payloadBytes > 0) side.lastPayloadMs = timeMs;
    if ((tcp.flags & TcpFlag.SYN) !== 0) {
      side.synSeq = tcp.seq;
      side.synMs = timeMs;
      side.synAck = (tcp.flags & TcpFlag.ACK) !== 0;
      if (tcp.options.mss !== null) side.mss = tcp.options.mss;
      if (!side.synAck) flow.client = side.address;
    }
    if ((tcp.flags & TcpFlag.FIN) !== 0 && side.finMs === null) side.finMs = timeMs;
    if ((tcp.flags & TcpFlag.RST) !== 0 || (flow.sides.length === 2 && flow.sides[0].finMs !== null && flow.sides[1]!.finMs !== null)) flow.closed = true;
    flow.lastSide = side;
    return flow;
  }

  /** A copy of the flow as seen from `src`, to judge a packet against the flow's past before observing it. */
  snapshot(src: SocketAddress, dst: SocketAddress): FlowView | null {
    const flow = this.find(src.ip, src.port, dst.ip, dst.port);
    if (flow === null) return null;
    const base = this.baseMs ?? 0;
    const epoch = (timeMs: number | null): number | null => (timeMs === null ? null : timeMs + base);
    const sides = flow.sides.map((side) => ({
      ...side,
      firstSeenMs: side.firstSeenMs + base,
      lastSeenMs: side.lastSeenMs + base,
      lastPayloadMs: epoch(side.lastPayloadMs),
      synMs: epoch(side.synMs),
      finMs: epoch(side.finMs),
      ttlRecordedMs: epoch(side.ttlRecordedMs),
    })) as FlowRecord['sides'];
    const lastSide = sides[flow.sides.indexOf(flow.lastSide)] ?? sides[0];
    const copy: FlowRecord = { ...flow, sides, lastMs: flow.lastMs + base, burstStartMs: flow.burstStartMs + base, nextInBucket: null, lastSide };
    return { flow: copy, sender: findSide(copy, src.ip, src.port), receiver: findSide(copy, dst.ip, dst.port) };
  }

  /** Drops idle and closed flows; scans the table at most once per EXPIRE_SCAN_MS. */
  expire(nowMs: number): void {
    if (nowMs - this.lastExpireMs < EXPIRE_SCAN_MS) return;
    this.lastExpireMs = nowMs;
    const tableNowMs = this.tableTimeMs(nowMs);
    for (const flow of this.flows) {
      const idleMs = tableNowMs - flow.lastMs;
      if (idleMs > this.idleExpiryMs || (flow.closed && idleMs > this.closedExpiryMs)) this.remove(flow);
    }
  }

  private intern(ip: string): string {
    const known = this.addresses.get(ip);
    if (known !== undefined) return known;
    if (this.addresses.size >= MAX_INTERNED_ADDRESSES) this.addresses.clear();
    const flat = flatString(ip);
    this.addresses.set(flat, flat);
    return flat;
  }

  private find(srcIp: string, srcPort: number, dstIp: string, dstPort: number): FlowRecord | null {
    let flow = this.byPorts.get(bucketKey(srcIp, srcPort, dstIp, dstPort)) ?? null;
    while (flow !== null) {
      const a = flow.endA;
      const b = flow.endB;
      if (a.port === srcPort && b.port === dstPort && a.ip === srcIp && b.ip === dstIp) {
        this.foundSrcIsA = true;
        return flow;
      }
      if (a.port === dstPort && b.port === srcPort && a.ip === dstIp && b.ip === srcIp) {
        this.foundSrcIsA = false;
        return flow;
      }
      flow = flow.nextInBucket;
    }
    return null;
  }

  private insert(flow: FlowRecord): void {
    if (this.flows.size >= this.maxFlows) this.evictOne();
    this.flows.add(flow);
    const bucket = bucketKey(flow.endA.ip, flow.endA.port, flow.endB.ip, flow.endB.port);
    flow.nextInBucket = this.byPorts.get(bucket) ?? null;
    this.byPorts.set(bucket, flow);
  }

  private remove(flow: FlowRecord): void {
    this.flows.delete(flow);
    flow.removed = true;
    const bucket = bucketKey(flow.endA.ip, flow.endA.port, flow.endB.ip, flow.endB.port);
    const head = this.byPorts.get(bucket);
    if (head === flow) {
      if (flow.nextInBucket === null) this.byPorts.delete(bucket);
      else this.byPorts.set(bucket, flow.nextInBucket);
    } else {
      let previous = head ?? null;
      while (previous !== null && previous.nextInBucket !== flow) previous = previous.nextInBucket;
      if (previous !== null) previous.nextInBucket = flow.nextInBucket;
    }
    flow.nextInBucket = null;
  }

  /** CLOCK: the oldest-inserted flow not touched since the hand last passed it; touched ones move to the back. */
  private evictOne(): void {
    for (let passes = 0; passes < MAX_SECOND_CHANCES; passes++) {
      const oldest = this.flows.values().next();
      if (oldest.done) return;
      const flow = oldest.value;
      if (!flow.touched || flow.closed) {
        this.remove(flow);
        this.evicted++;
        return;
      }
      flow.touched = false;
      this.flows.delete(flow); // to the back of the CLOCK
      this.flows.add(flow);
    }
    const oldest = this.flows.values().next();
    if (!oldest.done) {
      this.remove(oldest.value);
      this.evicted++;
    }
  }
}

/** A flat copy of a string that V8 may hold as a rope of concatenated parts (keys and addresses are ASCII). */
function flatString(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

/** Direction-independent number for a flow: the port pair (32 bits) and the sum of the address hashes (21 bits). */
function bucketKey(ipA: string, portA: number, ipB: string, portB: number): number {
  const ports = portA <= portB ? portA * 65_536 + portB : portB * 65_536 + portA;
  return ports * 2_097_152 + ((addressHash(ipA) + addressHash(ipB)) & 0x1f_ffff);
}

/** FNV-1a over the address text, 20 bits. */
function addressHash(ip: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < ip.length; index++) hash = Math.imul(hash ^ ip.charCodeAt(index), 0x01000193);
  return (hash >>> 12) & 0xf_ffff;
}

/** Bound on the address strings shared by flows (a new set starts when full). */
const MAX_INTERNED_ADDRESSES = 65_536;
/** How often expire() walks the table. */
const EXPIRE_SCAN_MS = 5_000;
/** Bound on the flows one eviction may pass over (keeps each insert O(1)). */
const MAX_SECOND_CHANCES = 32;

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
    ttlRecordedMs: null,
    ttlRecorded: null,
  };
}

function findSide(flow: FlowRecord, ip: string, port: number): FlowSide | null {
  for (const side of flow.sides) {
    if (side.address.port === port && side.address.ip === ip) return side;
  }
  return null;
}
