/**
 * Keeps a reset storm from costing a full analysis per packet. RSTs are grouped
 * into classes by (source address, destination address); each class may have
 * `ratePerSecond` RSTs analysed in full (token bucket, `burst` deep). Past that, a
 * RST is only counted: it costs a hash and a Map lookup on the raw bytes, no
 * decoding. The counts are handed to the analyzer, which adds them to the finding
 * of the class's last analysed RST and says so in its evidence.
 *
 * The live capture runs the same guard inside the addon (native/src/storm_guard.cc,
 * same key and bucket), so suppressed RSTs are never copied to JavaScript at all;
 * this class is the reference for it and serves readers without the addon.
 */

import { hash53 } from './dedup';

const IPPROTO_TCP = 6;
const TCP_RST = 0x04;

export interface StormClassCount {
  classKey: number;
  count: number;
  firstMs: number;
  lastMs: number;
}

interface StormClass {
  tokens: number;
  refilledMs: number;
  suppressed: number;
  firstSuppressedMs: number;
  lastSuppressedMs: number;
  lastSeenMs: number;
}

/** The live capture's budget: RSTs per second and bucket depth per class, and classes tracked. */
export const STORM_RATE_PER_SECOND = 25;
export const STORM_BURST = 50;
export const STORM_MAX_CLASSES = 20_000;

/** Returned by `admit` for packets that are not RSTs (the guard does not apply). */
export const NOT_A_RESET = -1;
/** Returned by `admit` for a RST that was counted but is not to be analysed. */
export const SUPPRESSED = -2;

export class StormGuard {
  private readonly classes = new Map<number, StormClass>();
  suppressedTotal = 0;

  constructor(
    private readonly ratePerSecond = STORM_RATE_PER_SECOND,
    private readonly burst = STORM_BURST,
    private readonly maxClasses = STORM_MAX_CLASSES,
  ) {}

  /**
   * For an IP packet at `ipOffset` (bytes up to `end`): NOT_A_RESET, SUPPRESSED,
   * or the class key (≥ 0) of a RST to analyse.
   */
  admit(bytes: Uint8Array, ipOffset: number, end: number, timeMs: number): number {
    const classKey = resetClassKey(bytes, ipOffset, end);
    if (classKey < 0) return NOT_A_RESET;
    let storm = this.classes.get(classKey);
    if (storm === undefined) {
      if (this.classes.size >= this.maxClasses) this.evictIdle(timeMs);
      storm = { tokens: this.burst, refilledMs: timeMs, suppressed: 0, firstSuppressedMs: 0, lastSuppressedMs: 0, lastSeenMs: timeMs };
      this.classes.set(classKey, storm);
    }
    storm.lastSeenMs = timeMs;
    const elapsedMs = timeMs - storm.refilledMs;
    if (elapsedMs > 0) {
      storm.tokens = Math.min(this.burst, storm.tokens + (elapsedMs * this.ratePerSecond) / 1000);
      storm.refilledMs = timeMs;
    }
    if (storm.tokens >= 1) {
      storm.tokens -= 1;
      return classKey;
    }
    if (storm.suppressed === 0) storm.firstSuppressedMs = timeMs;
    storm.suppressed++;
    storm.lastSuppressedMs = timeMs;
    this.suppressedTotal++;
    return SUPPRESSED;
  }

  /** Counts suppressed since the last call, per class; forgets classes idle for `idleMs`. */
  drain(nowMs: number, idleMs = 60_000): StormClassCount[] {
    const counts: StormClassCount[] = [];
    for (const [classKey, storm] of this.classes) {
      if (storm.suppressed > 0) {
        counts.push({ classKey, count: storm.suppressed, firstMs: storm.firstSuppressedMs, lastMs: storm.lastSuppressedMs });
        storm.suppressed = 0;
      } else if (nowMs - storm.lastSeenMs > idleMs) {
        this.classes.delete(classKey);
      }
    }
    return counts;
  }

  private evictIdle(nowMs: number): void {
    for (const [classKey, storm] of this.classes) {
      if (storm.suppressed === 0 && nowMs - storm.lastSeenMs > 1_000) this.classes.delete(classKey);
    }
  }
}

/**
 * 53-bit key of (source, destination) of a TCP RST at `ipOffset`, or -1 when the
 * packet is not a TCP RST whose header is in the captured bytes (IPv4 first
 * fragments and IPv6 without extension headers; anything else is left to the
 * full analysis).
 */
export function resetClassKey(bytes: Uint8Array, ipOffset: number, end: number): number {
  if (end - ipOffset < 20) return -1;
  const version = bytes[ipOffset] >> 4;
  let addressStart: number;
  let addressEnd: number;
  let flagsIndex: number;
  if (version === 4) {
    const fragmentOffset = ((bytes[ipOffset + 6] & 0x1f) << 8) | bytes[ipOffset + 7];
    if (bytes[ipOffset + 9] !== IPPROTO_TCP || fragmentOffset !== 0) return -1;
    addressStart = ipOffset + 12;
    addressEnd = ipOffset + 20;
    flagsIndex = ipOffset + (bytes[ipOffset] & 0x0f) * 4 + 13;
  } else if (version === 6) {
    if (bytes[ipOffset + 6] !== IPPROTO_TCP) return -1;
    addressStart = ipOffset + 8;
    addressEnd = ipOffset + 40;
    flagsIndex = ipOffset + 40 + 13;
  } else {
    return -1;
  }
  if (flagsIndex >= end || (bytes[flagsIndex] & TCP_RST) === 0) return -1;
  return hash53(bytes, addressStart, addressEnd);
}
