/**
 * IPv6 fixed header (RFC 8200 §3) and the extension headers in front of the
 * upper layer (RFC 8200 §4): hop-by-hop, routing, fragment, destination options,
 * and AH (RFC 4302). ESP (50) and No Next Header (59) end the walk: what follows
 * them cannot be read.
 */
import { addressTexts } from './address';
import { readU16, readU32 } from './bytes';
import { DecodeError, type IpInfo, type Ipv4Fragment } from './types';

export const IPV6_HEADER_BYTES = 40;

/** Extension header numbers (IANA "IPv6 Extension Header Types"). */
export const Ipv6NextHeader = {
  HOP_BY_HOP: 0,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  NO_NEXT_HEADER: 59,
  DESTINATION_OPTIONS: 60,
} as const;

const FRAGMENT_HEADER_BYTES = 8; // RFC 8200 §4.5
const FRAGMENT_OFFSET_MASK = 0xfff8; // offset in 8-byte units, already shifted by 3 bits
const FRAGMENT_MORE_FLAG = 0x0001;

export function isIpv6ExtensionHeader(nextHeader: number): boolean {
  return (
    nextHeader === Ipv6NextHeader.HOP_BY_HOP ||
    nextHeader === Ipv6NextHeader.ROUTING ||
    nextHeader === Ipv6NextHeader.FRAGMENT ||
    nextHeader === Ipv6NextHeader.AH ||
    nextHeader === Ipv6NextHeader.DESTINATION_OPTIONS
  );
}

/**
 * Decodes the IPv6 header at `offset` and walks its extension headers. `protocol`
 * is the first header that is not an extension header; the walk also stops after
 * a fragment header with a non-zero offset, whose data is not a header.
 * IPv6 routers never fragment (RFC 8200 §5), so `dontFragment` is always true;
 * `ipId` is the fragment header's identification when there is one.
 * A payload length of 0 (jumbogram, RFC 2675, or Linux BIG TCP) means "whatever was captured".
 */
export function decodeIpv6(bytes: Uint8Array, offset: number): IpInfo | DecodeError {
  if (offset + IPV6_HEADER_BYTES > bytes.length) {
    return new DecodeError('truncated', 'ipv6', `IPv6 header needs ${IPV6_HEADER_BYTES} bytes`, offset);
  }
  const version = bytes[offset] >> 4;
  if (version !== 6) return new DecodeError('malformed', 'ipv6', `version ${version}, expected 6`, offset);
  const payloadLength = readU16(bytes, offset + 4);
  const totalBytes = payloadLength === 0 ? bytes.length - offset : IPV6_HEADER_BYTES + payloadLength;

  const extensionHeaders: number[] = [];
  let fragment: Ipv4Fragment | null = null;
  let nextHeader = bytes[offset + 6];
  let at = offset + IPV6_HEADER_BYTES;
  while (isIpv6ExtensionHeader(nextHeader)) {
    if (at + 2 > bytes.length) {
      return new DecodeError('truncated', 'ipv6', `extension header ${nextHeader} is cut off`, at);
    }
    let headerBytes: number;
    if (nextHeader === Ipv6NextHeader.FRAGMENT) headerBytes = FRAGMENT_HEADER_BYTES;
    else if (nextHeader === Ipv6NextHeader.AH) headerBytes = (bytes[at + 1] + 2) * 4; // RFC 4302 §2.2: 4-octet units minus 2
    else headerBytes = (bytes[at + 1] + 1) * 8; // RFC 8200 §4.3: 8-octet units, not counting the first 8
    if (at + headerBytes > bytes.length) {
      return new DecodeError('truncated', 'ipv6', `extension header ${nextHeader} needs ${headerBytes} bytes`, at);
    }
    extensionHeaders.push(nextHeader);
    if (nextHeader === Ipv6NextHeader.FRAGMENT) {
      const offsetField = readU16(bytes, at + 2);
      fragment = {
        id: readU32(bytes, at + 4),
        offsetBytes: offsetField & FRAGMENT_OFFSET_MASK,
        moreFragments: (offsetField & FRAGMENT_MORE_FLAG) !== 0,
      };
    }
    nextHeader = bytes[at];
    at += headerBytes;
    if (fragment !== null && fragment.offsetBytes !== 0) break;
  }
  const headerBytes = at - offset;
  if (headerBytes > totalBytes) {
    return new DecodeError('malformed', 'ipv6', `headers of ${headerBytes} bytes exceed the packet's ${totalBytes}`, offset + 4);
  }
  return {
    version: 6,
    src: addressTexts.ipv6(bytes, offset + 8),
    dst: addressTexts.ipv6(bytes, offset + 24),
    ttl: bytes[offset + 7],
    ipId: fragment === null ? null : fragment.id,
    dontFragment: true,
    protocol: nextHeader,
    headerBytes,
    totalBytes,
    fragment,
    optionTypes: [],
    extensionHeaders,
    offset,
    payloadOffset: at,
  };
}
