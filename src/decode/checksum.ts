/**
 * The Internet checksum (RFC 1071): the ones' complement of the ones' complement
 * sum of 16-bit words. Used by the packet builder to write checksums and by
 * anyone who wants to verify one; the decoders do not verify checksums because
 * captured outgoing packets often carry partial checksums (checksum offload).
 */

/** Ones' complement sum of `bytes[start, end)` added to `initialSum`, not folded, not inverted. */
export function onesComplementSum(bytes: Uint8Array, start: number, end: number, initialSum = 0): number {
  let sum = initialSum;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i < end) sum += bytes[i] << 8; // odd length: pad with a zero byte (RFC 1071 §4.1)
  return sum;
}

/** Folds a running sum to 16 bits and inverts it: the value to put in a checksum field. */
export function finishChecksum(sum: number): number {
  let folded = sum;
  while (folded > 0xffff) folded = (folded & 0xffff) + Math.floor(folded / 0x10000);
  return ~folded & 0xffff;
}

/** Checksum of `bytes[start, end)`; 0 when the range already holds a correct checksum. */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length, initialSum = 0): number {
  return finishChecksum(onesComplementSum(bytes, start, end, initialSum));
}

/**
 * Sum of the pseudo-header TCP, UDP and ICMPv6 checksums cover: source and
 * destination address, upper-layer protocol and length (RFC 793 §3.1 for IPv4,
 * RFC 8200 §8.1 for IPv6 — the fields sum the same in either layout).
 */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, upperLayerBytes: number): number {
  let sum = onesComplementSum(src, 0, src.length) + onesComplementSum(dst, 0, dst.length);
  sum += protocol;
  sum += Math.floor(upperLayerBytes / 0x10000) + (upperLayerBytes & 0xffff);
  return sum;
}
