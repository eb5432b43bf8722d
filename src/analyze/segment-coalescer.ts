import type { CapturedPacket } from '../capture-file/types';
import type { LinkType } from '../decode/types';
import { QUIET_GAP_MS } from '../flows/flow-table';
import { ConnectionIndex, type IndexedEntry } from './connection-index';
import type { PlainSegmentInfo } from './plain-segment';

/**
 * Offline, most segments of a capture are plain ACK/data segments inside a busy
 * connection, and all they change in the flow table is its clock (last seen, last
 * payload) and TTL. Decoding each of them is most of the cost of a multi-gigabyte
 * file, so the pipeline holds, per connection direction, the latest plain segment
 * (and the latest with payload when bare ACKs followed it) and decodes only those,
 * at the latest when:
 *   - a SYN, FIN or RST of the connection comes (its verdict sees the flow as the
 *     full sequence would have left it),
 *   - the connection has been quiet for QUIET_GAP_MS (the flow table's burst
 *     boundary), or a segment has been held for `holdMs` of capture time (TTL
 *     baselines lag by at most that),
 *   - more than `maxConnections` connections are tracked (the oldest goes),
 *   - the file ends.
 * A plain segment that starts a burst (QUIET_GAP_MS or more after the connection's
 * previous segment, or the first one seen) is decoded at once, never held, so the
 * flow table measures the same gaps as with every segment decoded; and what is
 * held is decoded before the decoded segments of a burst would lie QUIET_GAP_MS
 * apart. What is lost:
 * per-side packet counts. A second copy of a held packet (same sequence, ack,
 * flags, window and IP ID, within the duplicate window, e.g. seen again on the pod
 * veth) only raises the held copy's TTL, as the live DuplicateFilter does.
 *
 * A held frame first points into the reader's buffer; only frames still held when
 * the reader is about to reuse that buffer are copied out (`detach`), so a busy
 * direction is copied once per buffer, not once per segment.
 */
interface HeldFrame {
  /** Where the bytes are: the reader's buffer until detached, then `own`. */
  source: Buffer;
  start: number;
  length: number;
  readonly own: Buffer;
  linkType: LinkType;
  timeMs: number;
  sameness: number;
  ttlIndex: number;
  hasPayload: boolean;
  held: boolean;
  attached: boolean;
}

interface Connection extends IndexedEntry {
  /** PlainSegmentInfo.check of the connection: a different connection with the same key is not coalesced. */
  check: number;
  /** Latest segment of the connection, held or decoded. */
  lastMs: number;
  /** Latest segment of the connection decoded. */
  lastDeliveredMs: number;
  /** Time of the oldest frame held now; +Infinity when none is. */
  oldestHeldMs: number;
  /** Per direction: [last, last with payload]. */
  readonly frames: [HeldFrame, HeldFrame, HeldFrame, HeldFrame];
}

/** Link + IPv4/IPv6 + TCP headers with options fit; the payload is not needed. */
const HELD_BYTES = 192;
/**
 * The flow table rounds times to whole ms before it compares a gap with
 * QUIET_GAP_MS, so a 499.4 ms gap can count as a burst boundary there: gaps are
 * treated as boundaries here from 2 ms earlier (decoding one more segment is
 * always safe; holding one that starts a burst is not).
 */
const BURST_GAP_MS = QUIET_GAP_MS - 2;
/** Same window as the live DuplicateFilter. */
const DUPLICATE_WINDOW_MS = 50;

function newFrame(): HeldFrame {
  const own = Buffer.alloc(HELD_BYTES);
  return { source: own, start: 0, length: 0, own, linkType: 0, timeMs: 0, sameness: 0, ttlIndex: 0, hasPayload: false, held: false, attached: false };
}

export class SegmentCoalescer {
  private readonly connections: ConnectionIndex<Connection>;
  private readonly free: Connection[] = [];
  /** Frames that may point into the reader's buffer. */
  private readonly attached: HeldFrame[] = [];
  private readonly releasing: HeldFrame[] = [];
  /** Frames decoded (held ones released, burst starts) and plain segments seen. */
  delivered = 0;
  seen = 0;

  constructor(
    /** Decodes the frame at buffer[start, start + length) (valid only during the call). */
    private readonly deliver: (linkType: LinkType, buffer: Buffer, start: number, length: number, timeMs: number) => void,
    private readonly holdMs = 1_000,
    private readonly maxConnections = 50_000,
  ) {
    this.connections = new ConnectionIndex<Connection>(maxConnections);
  }

  /** A plain segment: held, or decoded at once when it starts a burst. */
  plain(packet: CapturedPacket, info: PlainSegmentInfo): void {
    this.seen++;
    // Fields read here, not passed as arguments: a double argument would be boxed on every call.
    const { linkType, buffer, offset: start, capturedBytes: length, timeMs } = packet;
    let connection = this.connections.get(info.key);
    if (connection !== undefined && connection.check !== info.check) {
      this.delivered++; // two connections share the key (a 2^-32 chance): decode this one in full
      this.deliver(linkType, buffer, start, length, timeMs);
      return;
    }
    if (connection === undefined) {
      if (this.connections.size >= this.maxConnections) this.dropOldest();
      connection = this.free.pop() ?? {
        key: 0,
        indexId: -1,
        older: null,
        newer: null,
        check: 0,
        lastMs: 0,
        lastDeliveredMs: 0,
        oldestHeldMs: Infinity,
        frames: [newFrame(), newFrame(), newFrame(), newFrame()],
      };
      connection.check = info.check;
      connection.lastMs = timeMs;
      connection.oldestHeldMs = Infinity;
      this.connections.add(info.key, connection);
      this.deliverNow(connection, linkType, buffer, start, length, timeMs);
      return;
    }
    const gapMs = timeMs - connection.lastMs;
    if (timeMs > connection.lastMs) connection.lastMs = timeMs;
    if (gapMs >= BURST_GAP_MS) {
      this.release(connection);
      this.deliverNow(connection, linkType, buffer, start, length, timeMs);
      return;
    }
    // Decoded segments must never be QUIET_GAP_MS apart inside a burst, or the flow
    // table would see a silence that was not there: decode the newest held segment
    // (just before this one) first. Its direction's older held segment goes with it,
    // oldest first, so that side's clock never runs backwards; the other direction
    // may stay held (its side's clock lags by at most holdMs, as always).
    if (timeMs - connection.lastDeliveredMs >= BURST_GAP_MS) this.releaseNewestDirection(connection);
    const frames = connection.frames;
    const lastIndex = info.direction * 2;
    let last = frames[lastIndex];
    if (last.held) {
      if (last.sameness === info.sameness && timeMs - last.timeMs <= DUPLICATE_WINDOW_MS && last.linkType === linkType) {
        if (info.ttl > last.source[last.start + last.ttlIndex]) {
          this.copyOut(last); // never write into the reader's buffer
          last.own[last.ttlIndex] = info.ttl;
        }
        return;
      }
      if (last.hasPayload && !info.hasPayload) {
        // Keep the payload-bearing segment: it sets the flow's last-payload time.
        frames[lastIndex] = frames[lastIndex + 1];
        frames[lastIndex + 1] = last;
        last = frames[lastIndex];
      } else if (info.hasPayload) {
        frames[lastIndex + 1].held = false;
      }
    }
    last.held = true;
    last.source = buffer;
    last.start = start;
    last.length = length < HELD_BYTES ? length : HELD_BYTES;
    if (!last.attached) {
      last.attached = true;
      this.attached.push(last);
    }
    last.linkType = linkType;
    last.timeMs = timeMs;
    last.sameness = info.sameness;
    last.ttlIndex = info.ttlIndex;
    last.hasPayload = info.hasPayload;
    if (timeMs < connection.oldestHeldMs) connection.oldestHeldMs = timeMs;
  }

  /** Before a SYN, FIN or RST of the connection is decoded: what is held for it, oldest first. */
  control(info: PlainSegmentInfo, timeMs: number): void {
    const connection = this.connections.get(info.key);
    if (connection === undefined || connection.check !== info.check) return;
    this.release(connection);
    if (timeMs > connection.lastMs) connection.lastMs = timeMs;
    if (timeMs > connection.lastDeliveredMs) connection.lastDeliveredMs = timeMs;
  }

  /** Copies every held frame out of the reader's buffer, which is about to be reused. */
  detach(): void {
    const attached = this.attached;
    for (let index = 0; index < attached.length; index++) this.copyOut(attached[index]);
    attached.length = 0;
  }

  /**
   * As capture time passes: decodes frames held longer than `holdMs` or of
   * connections quiet for QUIET_GAP_MS, and forgets quiet connections (their next
   * segment starts a burst and is decoded at once anyway).
   */
  expire(nowMs: number): void {
    // Oldest first; a recycled connection keeps its `newer` link, so the walk goes on from it.
    for (let connection = this.connections.oldest; connection !== null; connection = connection.newer as Connection | null) {
      const quiet = nowMs - connection.lastMs >= BURST_GAP_MS;
      if (quiet || nowMs - connection.oldestHeldMs >= this.holdMs) this.release(connection);
      if (quiet) this.recycle(connection);
    }
  }

  releaseAll(): void {
    for (let connection = this.connections.oldest; connection !== null; connection = connection.newer as Connection | null) {
      this.release(connection);
      this.recycle(connection);
    }
  }

  get size(): number {
    return this.connections.size;
  }

  private dropOldest(): void {
    const oldest = this.connections.oldest;
    if (oldest === null) return;
    this.release(oldest);
    this.recycle(oldest);
  }

  private release(connection: Connection): void {
    if (connection.oldestHeldMs === Infinity) return;
    // At most four frames: an insertion sort by time (stable, as Array.sort), without sort's scratch copy and comparator calls.
    const frames = this.releasing;
    let count = 0;
    for (let index = 0; index < 4; index++) {
      const frame = connection.frames[index];
      if (!frame.held) continue;
      frame.held = false;
      let at = count++;
      while (at > 0 && frames[at - 1].timeMs > frame.timeMs) {
        frames[at] = frames[at - 1];
        at--;
      }
      frames[at] = frame;
    }
    for (let index = 0; index < count; index++) {
      const frame = frames[index];
      this.deliverNow(connection, frame.linkType, frame.source, frame.start, frame.length, frame.timeMs);
    }
    connection.oldestHeldMs = Infinity;
  }

  private releaseNewestDirection(connection: Connection): void {
    const frames = connection.frames;
    const newest = !frames[0].held ? 2 : !frames[2].held ? 0 : frames[0].timeMs >= frames[2].timeMs ? 0 : 2;
    const last = frames[newest];
    if (!last.held) return;
    const payload = frames[newest + 1];
    if (payload.held) this.deliverNow(connection, payload.linkType, payload.source, payload.start, payload.length, payload.timeMs);
    this.deliverNow(connection, last.linkType, last.source, last.start, last.length, last.timeMs);
    payload.held = false;
    last.held = false;
    const other = frames[2 - newest];
    connection.oldestHeldMs = other.held ? Math.min(other.timeMs, frames[3 - newest].held ? frames[3 - newest].timeMs : Infinity) : Infinity;
  }

  private deliverNow(connection: Connection, linkType: LinkType, buffer: Buffer, start: number, length: number, timeMs: number): void {
    this.delivered++;
    if (timeMs > connection.lastDeliveredMs) connection.lastDeliveredMs = timeMs;
    this.deliver(linkType, buffer, start, length, timeMs);
  }

  private copyOut(frame: HeldFrame): void {
    frame.attached = false;
    if (frame.source === frame.own) return;
    frame.source.copy(frame.own, 0, frame.start, frame.start + frame.length);
    frame.source = frame.own;
    frame.start = 0;
  }

  private recycle(connection: Connection): void {
    this.connections.delete(connection.key);
    this.free.push(connection);
  }
}
