import { parseIpAddress } from '../decode/address';
import { internetChecksum } from '../decode/checksum';
import type { DecodedPacket, TcpOptions } from '../decode/types';

/**
 * Rebuilds the IP and TCP headers of a decoded segment as raw IP bytes
 * (LINKTYPE_RAW), for evidence captures. The live capture hands the agent decoded
 * packets, not frames, and the evidence only needs headers: addresses, ports,
 * sequence numbers, flags, window, TTL, IP ID and TCP options come back exactly;
 * IPv6 extension headers and the payload are not kept (the length fields still
 * say how long the packet was, so Wireshark shows the segment as cut by a snap
 * length). The TCP checksum cannot be rebuilt without the payload and is 0.
 */
const TCP_PROTOCOL = 6;
const IPV4_HEADER_BYTES = 20;
const IPV6_HEADER_BYTES = 40;
const TCP_HEADER_BYTES = 20;

/** TCP options in wire form (RFC 9293 §3.2, RFC 7323, RFC 2018), padded with NOPs to a multiple of 4. */
function encodeTcpOptions(options: TcpOptions): number[] {
  const bytes: number[] = [];
  if (options.mss !== null) bytes.push(2, 4, options.mss >> 8, options.mss & 0xff);
  if (options.sackPermitted) bytes.push(4, 2);
  if (options.timestamp !== null) {
    const { value, echo } = options.timestamp;
    bytes.push(8, 10, value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff, echo >>> 24, (echo >>> 16) & 0xff, (echo >>> 8) & 0xff, echo & 0xff);
  }
  if (options.windowScale !== null) bytes.push(3, 3, options.windowScale);
  // SACK blocks take what room the other options left (40 bytes in all).
  const blocks = options.sackBlocks.slice(0, Math.max(0, Math.floor((40 - bytes.length - 2) / 8)));
  if (blocks.length > 0) {
    bytes.push(5, 2 + blocks.length * 8);
    for (const [left, right] of blocks) {
      for (const edge of [left, right]) bytes.push(edge >>> 24, (edge >>> 16) & 0xff, (edge >>> 8) & 0xff, edge & 0xff);
    }
  }
  while (bytes.length % 4 !== 0) bytes.push(1); // NOP
  return bytes.slice(0, 40);
}

export interface EncodedHeaders {
  bytes: Buffer;
  /** Length of the packet on the wire (IP total length). */
  originalBytes: number;
}

/** Null when the packet is not TCP or its addresses cannot be encoded. */
export function encodeTcpHeaders(packet: DecodedPacket): EncodedHeaders | null {
  const { ip, tcp } = packet;
  if (tcp === null) return null;
  const src = parseIpAddress(ip.src);
  const dst = parseIpAddress(ip.dst);
  if (src === null || dst === null) return null;
  const options = encodeTcpOptions(tcp.options);
  // Pad to the original header length so the length fields come back as captured.
  while (options.length < Math.min(40, tcp.headerBytes - TCP_HEADER_BYTES)) options.push(1);
  const tcpBytes = TCP_HEADER_BYTES + options.length;
  const ipBytes = ip.version === 4 ? IPV4_HEADER_BYTES : IPV6_HEADER_BYTES;
  const out = Buffer.alloc(ipBytes + tcpBytes);
  const segmentBytes = tcpBytes + tcp.payloadBytes;
  if (ip.version === 4) {
    out[0] = 0x45;
    out.writeUInt16BE(Math.min(0xffff, IPV4_HEADER_BYTES + segmentBytes), 2);
    out.writeUInt16BE(ip.ipId ?? 0, 4);
    out[6] = ip.dontFragment ? 0x40 : 0;
    out[8] = ip.ttl;
    out[9] = TCP_PROTOCOL;
    out.set(src, 12);
    out.set(dst, 16);
    out.writeUInt16BE(internetChecksum(out, 0, IPV4_HEADER_BYTES), 10);
  } else {
    out[0] = 0x60;
    out.writeUInt16BE(Math.min(0xffff, segmentBytes), 4);
    out[6] = TCP_PROTOCOL;
    out[7] = ip.ttl;
    out.set(src, 8);
    out.set(dst, 24);
  }
  const at = ipBytes;
  out.writeUInt16BE(tcp.srcPort, at);
  out.writeUInt16BE(tcp.dstPort, at + 2);
  out.writeUInt32BE(tcp.seq >>> 0, at + 4);
  out.writeUInt32BE(tcp.ack >>> 0, at + 8);
  out[at + 12] = (tcpBytes / 4) << 4;
  out[at + 13] = tcp.flags & 0xff;
  out.writeUInt16BE(tcp.window, at + 14);
  out.set(options, at + TCP_HEADER_BYTES);
  return { bytes: out, originalBytes: ipBytes + segmentBytes };
}
