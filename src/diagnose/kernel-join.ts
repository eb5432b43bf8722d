import { directionalKey, type SocketAddress } from '../flows/flow-key';

/** What the join needs from a kernel reset event (src/kernel). */
export interface KernelResetRecord {
  direction: 'send' | 'receive';
  /** Wall-clock ms since the epoch. */
  timeMs: number;
  /** Oriented like the RST packet: src is the address the RST carries as its source. */
  src: SocketAddress;
  dst: SocketAddress;
  state: string | null;
  reason: string | null;
  process: { pid: number; comm: string | null } | null;
}

/**
 * Joins captured RSTs with the kernel's own reset events. Both describe the same
 * RST by its addresses and ports; they arrive through different paths (packet ring,
 * trace_pipe) in either order, a few ms apart. Each event joins at most one packet.
 */
export class KernelEventIndex<E extends KernelResetRecord = KernelResetRecord> {
  private readonly byDirection = new Map<string, E[]>();
  private count = 0;

  constructor(private readonly toleranceMs = 2_000) {}

  get size(): number {
    return this.count;
  }

  add(event: E): void {
    const key = directionalKey(event.src, event.dst);
    const list = this.byDirection.get(key);
    if (list === undefined) this.byDirection.set(key, [event]);
    else list.push(event);
    this.count++;
  }

  /** Removes and returns the event closest in time to a RST src → dst at `timeMs`, if one is within tolerance. */
  take(direction: E['direction'], src: SocketAddress, dst: SocketAddress, timeMs: number): E | null {
    // Offline (and with kernel events off) the index stays empty: no key string per RST.
    if (this.count === 0) return null;
    const key = directionalKey(src, dst);
    const list = this.byDirection.get(key);
    if (list === undefined) return null;
    let best = -1;
    let bestDistanceMs = Infinity;
    list.forEach((event, index) => {
      const distanceMs = Math.abs(event.timeMs - timeMs);
      if (event.direction === direction && distanceMs <= this.toleranceMs && distanceMs < bestDistanceMs) {
        best = index;
        bestDistanceMs = distanceMs;
      }
    });
    if (best < 0) return null;
    const [event] = list.splice(best, 1);
    if (list.length === 0) this.byDirection.delete(key);
    this.count--;
    return event;
  }

  /** Drops events older than the tolerance. */
  expire(nowMs: number): void {
    for (const [key, list] of this.byDirection) {
      const kept = list.filter((event) => nowMs - event.timeMs <= this.toleranceMs);
      this.count -= list.length - kept.length;
      if (kept.length === 0) this.byDirection.delete(key);
      else this.byDirection.set(key, kept);
    }
  }
}
