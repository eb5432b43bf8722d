/**
 * IPv4 header (RFC 791 §3.1): options, fragmentation fields, lengths.
 * The header and its options must be captured in full; the payload may be cut
 * by the snap length, so lengths come from the header, not from the capture.
 */
import { addressTexts } from './address';
import { readU16 } from './bytes';
import { DecodeError, type IpInfo } from './types';

export const IPV4_MIN_HEADER_BYTES = 20;
const FLAG_DONT_FRAGMENT = 0x4000; // RFC 791 §3.1, flags bit 1
const FLAG_MORE_FRAGMENTS = 0x2000; // flags bit 2
const FRAGMENT_OFFSET_MASK = 0x1fff; // in 8-byte units
/** RFC 791 §3.1 option types with no length byte. */
const OPTION_END_OF_LIST = 0;
const OPTION_NO_OPERATION = 1;

/**
 * Decodes the IPv4 header at `offset`. A total length of 0 is taken as "whatever
 * was captured": Linux writes 0 in BIG TCP/GSO packets over 64 KiB (net/ipv4/ip_output.c).
 */
export function decodeIpv4(bytes: Uint8Array, offset: number): IpInfo | DecodeError {
  if (offset + IPV4_MIN_HEADER_BYTES > bytes.length) {
    return new DecodeError('truncated', 'ipv4', `IPv4 header needs ${IPV4_MIN_HEADER_BYTES} bytes`, offset);
  }
  const version = bytes[offset] >> 4;
  if (version !== 4) return new DecodeError('malformed', 'ipv4', `version ${version}, expected 4`, offset);
  const headerBytes = (bytes[offset] & 0x0f) * 4;
  if (headerBytes < IPV4_MIN_HEADER_BYTES) {
    return new DecodeError('malformed', 'ipv4', `header length ${headerBytes} below ${IPV4_MIN_HEADER_BYTES}`, offset);
  }
  if (offset + headerBytes > bytes.length) {
    return new DecodeError('truncated', 'ipv4', `IPv4 header with options needs ${headerBytes} bytes`, offset);
  }
  let totalBytes = readU16(bytes, offset + 2);
  if (totalBytes === 0) totalBytes = bytes.length - offset;
  if (totalBytes < headerBytes) {
    return new DecodeError('malformed', 'ipv4', `total length ${totalBytes} below header length ${headerBytes}`, offset + 2);
  }

  const optionTypes: number[] = [];
  const optionsEnd = offset + headerBytes;
  for (let at = offset + IPV4_MIN_HEADER_BYTES; at < optionsEnd; ) {
    const type = bytes[at];
    if (type === OPTION_END_OF_LIST) break;
    if (type === OPTION_NO_OPERATION) {
      at++;
      continue;
    }
    const optionBytes = at + 1 < optionsEnd ? bytes[at + 1] : 0;
    if (optionBytes < 2 || at + optionBytes > optionsEnd) {
      return new DecodeError('malformed', 'ipv4', `option ${type} has length ${optionBytes}`, at);
    }
    optionTypes.push(type);
    at += optionBytes;
  }

  const flagsAndOffset = readU16(bytes, offset + 6);
  const ipId = readU16(bytes, offset + 4);
  const offsetBytes = (flagsAndOffset & FRAGMENT_OFFSET_MASK) * 8;
  const moreFragments = (flagsAndOffset & FLAG_MORE_FRAGMENTS) !== 0;
  return {
    version: 4,
    src: addressTexts.ipv4(bytes, offset + 12),
    dst: addressTexts.ipv4(bytes, offset + 16),
    ttl: bytes[offset + 8],
    ipId,
    dontFragment: (flagsAndOffset & FLAG_DONT_FRAGMENT) !== 0,
    protocol: bytes[offset + 9],
    headerBytes,
    totalBytes,
    fragment: offsetBytes !== 0 || moreFragments ? { id: ipId, offsetBytes, moreFragments } : null,
    optionTypes,
    extensionHeaders: [],
    offset,
    payloadOffset: offset + headerBytes,
  };
}
