/**
 * Entry points of the packet decoders: a captured frame with its link type, or a
 * live AF_PACKET SOCK_DGRAM frame that starts at the network header. Pure
 * functions: they never throw and return a typed error for bytes they cannot use.
 */
import { decodeIcmp } from './icmp';
import { decodeIpv4 } from './ipv4';
import { decodeIpv6 } from './ipv6';
import { decodeDgramLink, decodeLink, EtherType } from './link';
import { decodeTcp } from './tcp';
import { DecodeError, type DecodeResult, type IcmpInfo, type LinkInfo, type LinkType, type TcpInfo, type UdpInfo } from './types';
import { decodeUdp } from './udp';

/** IP protocol numbers (IANA "Assigned Internet Protocol Numbers"). */
export const IpProtocol = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ICMPV6: 58,
} as const;

function fail(error: DecodeError): DecodeResult {
  return { ok: false, error };
}

function decodeFromNetwork(link: LinkInfo, bytes: Uint8Array): DecodeResult {
  let ip;
  if (link.etherType === EtherType.IPV4) ip = decodeIpv4(bytes, link.networkOffset);
  else if (link.etherType === EtherType.IPV6) ip = decodeIpv6(bytes, link.networkOffset);
  else return fail(new DecodeError('unsupported', 'network', `EtherType 0x${link.etherType.toString(16)}`, link.networkOffset));
  if (ip instanceof DecodeError) return fail(ip);

  let tcp: TcpInfo | null = null;
  let udp: UdpInfo | null = null;
  let icmp: IcmpInfo | null = null;
  // Only a first fragment carries the transport header.
  if (ip.fragment === null || ip.fragment.offsetBytes === 0) {
    const transportBytes = ip.totalBytes - ip.headerBytes;
    const at = ip.payloadOffset;
    if (ip.protocol === IpProtocol.TCP) {
      const decoded = decodeTcp(bytes, at, transportBytes);
      if (decoded instanceof DecodeError) return fail(decoded);
      tcp = decoded;
    } else if (ip.protocol === IpProtocol.UDP) {
      const decoded = decodeUdp(bytes, at, transportBytes);
      if (decoded instanceof DecodeError) return fail(decoded);
      udp = decoded;
    } else if ((ip.protocol === IpProtocol.ICMP && ip.version === 4) || (ip.protocol === IpProtocol.ICMPV6 && ip.version === 6)) {
      const decoded = decodeIcmp(bytes, at, ip.version);
      if (decoded instanceof DecodeError) return fail(decoded);
      icmp = decoded;
    }
  }
  return { ok: true, packet: { link, ip, tcp, udp, icmp } };
}

/** Decodes a captured frame of the given pcap link type. */
export function decodeFrame(linkType: LinkType, frame: Uint8Array): DecodeResult {
  const link = decodeLink(linkType, frame);
  if (link instanceof DecodeError) return fail(link);
  return decodeFromNetwork(link, frame);
}

/**
 * Decodes a frame that starts at the network header (AF_PACKET SOCK_DGRAM), given
 * the EtherType the socket reported. For 0x8100/0x88a8 the kernel left the VLAN tag
 * in the data: [TCI, inner EtherType] precede the IP header. `link.type` is RAW.
 */
export function decodeNetwork(etherType: number, bytes: Uint8Array): DecodeResult {
  const link = decodeDgramLink(etherType, bytes);
  if (link instanceof DecodeError) return fail(link);
  return decodeFromNetwork(link, bytes);
}
