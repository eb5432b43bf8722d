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
  /**
   * Initial sequence number of its SYN (or SYN-ACK), and when it was sent. Live
   * records keep the number signed (`| 0`, a small integer in V8 where half of all
   * ISNs would each be a heap number); snapshots give it unsigned as on the wire.
   */
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
  /**
   * The two endpoints in key order (lower address first), as plain fields so a
   * lookup reads only the record, and the side each one sent (null until it did).
   */
  ipA: string;
  portA: number;
  ipB: string;
  portB: number;
  sideA: FlowSide | null;
  sideB: FlowSide | null;
  /** FlowTable's hash of the two endpoints (a small integer) and the next flow in its bucket; null in snapshots. */
  bucketHash: number;
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
  /** Set by find(): whether the segment's source is the flow's endpoint A. */
  private foundSrcIsA = true;
  /**
   * One string per address for all flows. The decoder's AddressTextCache already
   * shares the (flat) text of recent addresses, but forgets one on a slot
   * collision; flows keep the string they were opened with, so that the address
   * compares in find() are mostly identity checks.
   */
  private readonly addresses = new Map<string, string>();
  /**
   * Per-packet lookup: a chained hash table of its own, indexed by a hash of the
   * port pair and the two addresses, with the endpoints compared in the (short)
   * bucket. Hashing a fresh 30-character key string per packet was once the
   * largest cost of the whole analysis (bench/diagnosis.ts), and a Map keyed by a
   * 53-bit number boxes that number on every lookup. The addresses are in the
   * hash so that a flood from many spoofed addresses with one source port does
   * not make one long bucket. The table doubles when flows outnumber buckets.
   */
  private buckets: Array<FlowRecord | null> = new Array<FlowRecord | null>(INITIAL_BUCKETS).fill(null);

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
      const srcIp = this.intern(ip.src);
      const dstIp = this.intern(ip.dst);
      const srcFirst = srcIp < dstIp || (srcIp === dstIp && tcp.srcPort <= tcp.dstPort);
      const first = newSide({ ip: srcIp, port: tcp.srcPort }, timeMs);
      // What a lookup reads first, so that it stays in the record's first cache line.
      flow = {
        ipA: srcFirst ? srcIp : dstIp,
        portA: srcFirst ? tcp.srcPort : tcp.dstPort,
        ipB: srcFirst ? dstIp : srcIp,
        portB: srcFirst ? tcp.dstPort : tcp.srcPort,
        nextInBucket: null,
        sideA: srcFirst ? first : null,
        sideB: srcFirst ? null : first,
        touched: true,
        lastMs: timeMs,
        gapBeforeBurstMs: null,
        burstStartMs: timeMs,
        closed: false,
        client: null,
        sides: [first],
        bucketHash: flowHash(srcIp, tcp.srcPort, dstIp, tcp.dstPort),
        lastSide: first,
        removed: false,
      };
      this.insert(flow);
      this.foundSrcIsA = srcFirst;
    }
    flow.touched = true;
    const srcIsA = this.foundSrcIsA;
    let side = srcIsA ? flow.sideA : flow.sideB;
    if (side === null) {
      side = srcIsA ? newSide({ ip: flow.ipA, port: flow.portA }, timeMs) : newSide({ ip: flow.ipB, port: flow.portB }, timeMs);
      flow.sides = [flow.sides[0], side];
      if (srcIsA) flow.sideA = side;
      else flow.sideB = side;
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
      side.synSeq = tcp.seq | 0;
      side.synMs = timeMs;
      side.synAck = (tcp.flags & TcpFlag.ACK) !== 0;
      if (tcp.options.mss !== null) side.mss = tcp.options.mss;
      if (!side.synAck) flow.client = side.address;
    }
    if ((tcp.flags & TcpFlag.FIN) !== 0 && side.finMs === null) side.finMs = timeMs;
    if ((tcp.flags & TcpFlag.RST) !== 0 || (flow.sideA?.finMs != null && flow.sideB?.finMs != null)) flow.closed = true;
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
      synSeq: side.synSeq === null ? null : side.synSeq >>> 0,
      synMs: epoch(side.synMs),
      finMs: epoch(side.finMs),
      ttlRecordedMs: epoch(side.ttlRecordedMs),
    })) as FlowRecord['sides'];
    const copyOf = (side: FlowSide | null): FlowSide | null => (side === null ? null : sides[flow.sides.indexOf(side)]);
    const lastSide = copyOf(flow.lastSide) ?? sides[0];
    const copy: FlowRecord = {
      ...flow,
      sides,
      sideA: copyOf(flow.sideA),
      sideB: copyOf(flow.sideB),
      lastMs: flow.lastMs + base,
      burstStartMs: flow.burstStartMs + base,
      nextInBucket: null,
      lastSide,
    };
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
    this.addresses.set(ip, ip);
    return ip;
  }

  private find(srcIp: string, srcPort: number, dstIp: string, dstPort: number): FlowRecord | null {
    const buckets = this.buckets;
    let flow = buckets[flowHash(srcIp, srcPort, dstIp, dstPort) & (buckets.length - 1)];
    while (flow !== null) {
      if (flow.portA === srcPort && flow.portB === dstPort && flow.ipA === srcIp && flow.ipB === dstIp) {
        this.foundSrcIsA = true;
        return flow;
      }
      if (flow.portA === dstPort && flow.portB === srcPort && flow.ipA === dstIp && flow.ipB === srcIp) {
        this.foundSrcIsA = false;
        return flow;
      }
      flow = flow.nextInBucket;
    }
    return null;
  }

  private insert(flow: FlowRecord): void {
    if (this.flows.size >= this.maxFlows) this.evictOne();
    if (this.flows.size >= this.buckets.length) this.growBuckets();
    this.flows.add(flow);
    const bucket = flow.bucketHash & (this.buckets.length - 1);
    flow.nextInBucket = this.buckets[bucket];
    this.buckets[bucket] = flow;
  }

  /** Twice the buckets, every flow rechained by its stored hash. */
  private growBuckets(): void {
    const buckets = new Array<FlowRecord | null>(this.buckets.length * 2).fill(null);
    const mask = buckets.length - 1;
    for (const flow of this.flows) {
      const bucket = flow.bucketHash & mask;
      flow.nextInBucket = buckets[bucket];
      buckets[bucket] = flow;
    }
    this.buckets = buckets;
  }

  private remove(flow: FlowRecord): void {
    this.flows.delete(flow);
    flow.removed = true;
    const bucket = flow.bucketHash & (this.buckets.length - 1);
    const head = this.buckets[bucket];
    if (head === flow) {
      this.buckets[bucket] = flow.nextInBucket;
    } else {
      let previous = head;
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

/**
 * Direction-independent hash of a flow: the port pair and the sum of the address
 * hashes, mixed (murmur3's finalizer); 30 bits, so V8 keeps it a small integer.
 */
function flowHash(ipA: string, portA: number, ipB: string, portB: number): number {
  const ports = portA <= portB ? (portA << 16) | portB : (portB << 16) | portA;
  let hash = ports ^ Math.imul((addressHash(ipA) + addressHash(ipB)) | 0, 0x9e3779b1);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) & 0x3fff_ffff;
}

/** Java's string hash over the address text: a shift and an add per character (flowHash mixes the bits after). */
function addressHash(ip: string): number {
  let hash = 0;
  for (let index = 0; index < ip.length; index++) hash = ((hash << 5) - hash + ip.charCodeAt(index)) | 0;
  return hash;
}

/** Bound on the address strings shared by flows (a new set starts when full). */
const MAX_INTERNED_ADDRESSES = 65_536;
/** Buckets of an empty table (a power of two; the table doubles as flows come). */
const INITIAL_BUCKETS = 1_024;
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
