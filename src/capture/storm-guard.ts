/**
 * Keeps a reset storm from costing a full analysis per packet. RSTs are grouped
 * into classes by (source address, destination address); each class may have
 * STORM_RATE_PER_SECOND RSTs analysed in full (token bucket, STORM_BURST deep). Past
 * that, a RST is only counted, inside the addon (native/src/storm_guard.cc), and never
 * copied to JavaScript; the counts come back through ring.stormCounts() and are added
 * to the finding of the class's last analysed RST. This file holds what both sides
 * must agree on: the budget and the class key, which the addon computes the same way
 * (test/capture/native.test.ts pins the two together on real packets).
 */

import { hash53 } from './dedup';

const IPPROTO_TCP = 6;
const TCP_RST = 0x04;

/** RSTs of one class the addon counted without analysing, between two drains. */
export interface StormClassCount {
  classKey: number;
  count: number;
  firstMs: number;
  lastMs: number;
}

/** The live capture's budget: RSTs per second and bucket depth per class, and classes tracked. */
export const STORM_RATE_PER_SECOND = 25;
export const STORM_BURST = 50;
export const STORM_MAX_CLASSES = 20_000;

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
