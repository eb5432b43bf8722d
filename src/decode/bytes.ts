/**
 * Big-endian (network order) reads straight from the bytes. Cheaper than a DataView
 * per packet, and the decoders check bounds before reading, so no checks here.
 */

export function readU16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] << 8) | bytes[offset + 1];
}

export function readU32(bytes: Uint8Array, offset: number): number {
  // Multiplication instead of `<< 24` keeps the result unsigned.
  return bytes[offset] * 0x1000000 + ((bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]);
}

/** Little-endian u32, for host-order fields written on little-endian machines (BSD loopback family). */
export function readU32Le(bytes: Uint8Array, offset: number): number {
  return bytes[offset + 3] * 0x1000000 + ((bytes[offset + 2] << 16) | (bytes[offset + 1] << 8) | bytes[offset]);
}
