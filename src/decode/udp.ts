/** UDP header (RFC 768). */
import { readU16 } from './bytes';
import { DecodeError, type UdpInfo } from './types';

export const UDP_HEADER_BYTES = 8;

/**
 * Decodes the UDP header at `offset`. A length of 0 is only legal in IPv6
 * jumbograms (RFC 2675 §4); then the IP layer's `datagramBytes` is the length.
 */
export function decodeUdp(bytes: Uint8Array, offset: number, datagramBytes: number): UdpInfo | DecodeError {
  if (offset + UDP_HEADER_BYTES > bytes.length) {
    return new DecodeError('truncated', 'udp', `UDP header needs ${UDP_HEADER_BYTES} bytes`, offset);
  }
  let lengthBytes = readU16(bytes, offset + 4);
  if (lengthBytes === 0) lengthBytes = datagramBytes;
  if (lengthBytes < UDP_HEADER_BYTES) {
    return new DecodeError('malformed', 'udp', `length ${lengthBytes} below the ${UDP_HEADER_BYTES}-byte header`, offset + 4);
  }
  return { srcPort: readU16(bytes, offset), dstPort: readU16(bytes, offset + 2), lengthBytes };
}
