/**
 * TCP header (RFC 9293 §3.1) and its options: MSS (RFC 9293 §3.2), window scale
 * and timestamps (RFC 7323), SACK-permitted and SACK blocks (RFC 2018).
 * Unknown options are skipped by their length; a length that cannot be right
 * (below 2, past the header, wrong for a known kind) makes the segment malformed.
 */
import { readU16, readU32 } from './bytes';
import { DecodeError, type TcpInfo, type TcpOptions } from './types';

export const TCP_MIN_HEADER_BYTES = 20;

export const TcpOptionKind = {
  END_OF_LIST: 0,
  NO_OPERATION: 1,
  MSS: 2,
  WINDOW_SCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMP: 8,
} as const;

const MSS_OPTION_BYTES = 4;
const WINDOW_SCALE_OPTION_BYTES = 3;
const SACK_PERMITTED_OPTION_BYTES = 2;
const TIMESTAMP_OPTION_BYTES = 10;
const SACK_BLOCK_BYTES = 8; // left and right edge, 32 bits each

function malformedOption(kind: number, optionBytes: number, at: number): DecodeError {
  return new DecodeError('malformed', 'tcp', `option ${kind} has length ${optionBytes}`, at);
}

/** Decodes the options in `bytes[start, end)` into `options`; returns an error or null. */
function decodeOptions(bytes: Uint8Array, start: number, end: number, options: TcpOptions): DecodeError | null {
  for (let at = start; at < end; ) {
    const kind = bytes[at];
    if (kind === TcpOptionKind.END_OF_LIST) break;
    if (kind === TcpOptionKind.NO_OPERATION) {
      at++;
      continue;
    }
    const optionBytes = at + 1 < end ? bytes[at + 1] : 0;
    if (optionBytes < 2 || at + optionBytes > end) return malformedOption(kind, optionBytes, at);
    switch (kind) {
      case TcpOptionKind.MSS:
        if (optionBytes !== MSS_OPTION_BYTES) return malformedOption(kind, optionBytes, at);
        options.mss = readU16(bytes, at + 2);
        break;
      case TcpOptionKind.WINDOW_SCALE:
        if (optionBytes !== WINDOW_SCALE_OPTION_BYTES) return malformedOption(kind, optionBytes, at);
        options.windowScale = bytes[at + 2];
        break;
      case TcpOptionKind.SACK_PERMITTED:
        if (optionBytes !== SACK_PERMITTED_OPTION_BYTES) return malformedOption(kind, optionBytes, at);
        options.sackPermitted = true;
        break;
      case TcpOptionKind.SACK:
        if (optionBytes < 2 + SACK_BLOCK_BYTES || (optionBytes - 2) % SACK_BLOCK_BYTES !== 0) {
          return malformedOption(kind, optionBytes, at);
        }
        for (let block = at + 2; block < at + optionBytes; block += SACK_BLOCK_BYTES) {
          options.sackBlocks.push([readU32(bytes, block), readU32(bytes, block + 4)]);
        }
        break;
      case TcpOptionKind.TIMESTAMP:
        if (optionBytes !== TIMESTAMP_OPTION_BYTES) return malformedOption(kind, optionBytes, at);
        options.timestamp = { value: readU32(bytes, at + 2), echo: readU32(bytes, at + 6) };
        break;
      default:
        break; // unknown kinds are skipped by length (RFC 9293 §3.2, MUST-68)
    }
    at += optionBytes;
  }
  return null;
}

/**
 * Decodes the TCP header at `offset`. `segmentBytes` is the TCP length the IP
 * header claims (IP total minus IP headers); the header must lie within it and
 * be captured in full, the payload need not be.
 */
export function decodeTcp(bytes: Uint8Array, offset: number, segmentBytes: number): TcpInfo | DecodeError {
  if (offset + TCP_MIN_HEADER_BYTES > bytes.length) {
    return new DecodeError('truncated', 'tcp', `TCP header needs ${TCP_MIN_HEADER_BYTES} bytes`, offset);
  }
  const headerBytes = (bytes[offset + 12] >> 4) * 4;
  if (headerBytes < TCP_MIN_HEADER_BYTES) {
    return new DecodeError('malformed', 'tcp', `data offset ${headerBytes} bytes below ${TCP_MIN_HEADER_BYTES}`, offset + 12);
  }
  if (offset + headerBytes > bytes.length) {
    return new DecodeError('truncated', 'tcp', `TCP header with options needs ${headerBytes} bytes`, offset);
  }
  if (headerBytes > segmentBytes) {
    return new DecodeError('malformed', 'tcp', `header of ${headerBytes} bytes exceeds the segment's ${segmentBytes}`, offset + 12);
  }
  const options: TcpOptions = { mss: null, windowScale: null, sackPermitted: false, sackBlocks: [], timestamp: null };
  if (headerBytes > TCP_MIN_HEADER_BYTES) {
    const optionError = decodeOptions(bytes, offset + TCP_MIN_HEADER_BYTES, offset + headerBytes, options);
    if (optionError !== null) return optionError;
  }
  return {
    srcPort: readU16(bytes, offset),
    dstPort: readU16(bytes, offset + 2),
    seq: readU32(bytes, offset + 4),
    ack: readU32(bytes, offset + 8),
    flags: bytes[offset + 13],
    window: readU16(bytes, offset + 14),
    headerBytes,
    payloadBytes: segmentBytes - headerBytes,
    options,
  };
}
