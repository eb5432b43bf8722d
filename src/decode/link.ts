/**
 * Link-layer headers: Ethernet II with 802.1Q/802.1ad tags, Linux cooked capture
 * (SLL, SLL2), raw IP and BSD loopback. Each returns where the network header
 * starts and which EtherType it carries.
 */
import { readU16, readU32, readU32Le } from './bytes';
import { DecodeError, LinkType, type LinkInfo } from './types';

/** EtherTypes (IEEE 802 numbers, https://www.iana.org/assignments/ieee-802-numbers). */
export const EtherType = {
  IPV4: 0x0800,
  IPV6: 0x86dd,
  /** 802.1Q customer VLAN tag. */
  VLAN: 0x8100,
  /** 802.1ad service VLAN tag (QinQ outer tag). */
  QINQ: 0x88a8,
  /** Pre-802.1ad QinQ outer tag some switches still send. */
  QINQ_LEGACY: 0x9100,
} as const;

const ETHERNET_HEADER_BYTES = 14; // dst MAC 6, src MAC 6, EtherType 2
const VLAN_TAG_BYTES = 4; // after the TPID: TCI 2, inner EtherType 2 (IEEE 802.1Q §9.6)
const VLAN_ID_MASK = 0x0fff; // low 12 bits of the TCI
/** Smallest value of the type/length field that is an EtherType; below it is an 802.3 length. */
const ETHERTYPE_MIN = 0x0600;

/** https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html */
const SLL_HEADER_BYTES = 16;
const SLL_PROTOCOL_OFFSET = 14;
/** https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html */
const SLL2_HEADER_BYTES = 20;
const SLL2_IFINDEX_OFFSET = 4;
const SLL2_PKTTYPE_OFFSET = 10;

/** https://www.tcpdump.org/linktypes/LINKTYPE_NULL.html — family in the capturing host's byte order. */
const NULL_HEADER_BYTES = 4;
const BSD_AF_INET = 2;
/** AF_INET6 differs between BSDs: NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30. */
const BSD_AF_INET6_VALUES: readonly number[] = [24, 28, 30];

export function isVlanTpid(etherType: number): boolean {
  return etherType === EtherType.VLAN || etherType === EtherType.QINQ || etherType === EtherType.QINQ_LEGACY;
}

/**
 * Steps over VLAN tag remainders ([TCI, inner EtherType], 4 bytes each) starting at
 * `link.networkOffset` while `link.etherType` is a tag protocol, collecting the IDs.
 * Shared by Ethernet, cooked captures and AF_PACKET SOCK_DGRAM frames, where the
 * kernel leaves an un-offloaded tag in front of the network header.
 */
export function skipVlanTags(frame: Uint8Array, link: LinkInfo, layer: string): DecodeError | null {
  while (isVlanTpid(link.etherType)) {
    const at = link.networkOffset;
    if (at + VLAN_TAG_BYTES > frame.length) {
      return new DecodeError('truncated', layer, `VLAN tag needs ${VLAN_TAG_BYTES} bytes`, at);
    }
    link.vlanIds.push(readU16(frame, at) & VLAN_ID_MASK);
    link.etherType = readU16(frame, at + 2);
    link.networkOffset = at + VLAN_TAG_BYTES;
  }
  return null;
}

function decodeEthernet(frame: Uint8Array): LinkInfo | DecodeError {
  if (frame.length < ETHERNET_HEADER_BYTES) {
    return new DecodeError('truncated', 'ethernet', `Ethernet header needs ${ETHERNET_HEADER_BYTES} bytes`, 0);
  }
  const link: LinkInfo = {
    type: LinkType.ETHERNET,
    etherType: readU16(frame, 12),
    vlanIds: [],
    pktType: null,
    ifindex: null,
    networkOffset: ETHERNET_HEADER_BYTES,
  };
  const tagError = skipVlanTags(frame, link, 'ethernet');
  if (tagError !== null) return tagError;
  if (link.etherType < ETHERTYPE_MIN) {
    return new DecodeError('unsupported', 'ethernet', `802.3 length field ${link.etherType}, not an EtherType`, link.networkOffset - 2);
  }
  return link;
}

function decodeSll(frame: Uint8Array): LinkInfo | DecodeError {
  if (frame.length < SLL_HEADER_BYTES) {
    return new DecodeError('truncated', 'sll', `SLL header needs ${SLL_HEADER_BYTES} bytes`, 0);
  }
  const link: LinkInfo = {
    type: LinkType.LINUX_SLL,
    etherType: readU16(frame, SLL_PROTOCOL_OFFSET),
    vlanIds: [],
    pktType: readU16(frame, 0),
    ifindex: null,
    networkOffset: SLL_HEADER_BYTES,
  };
  return skipVlanTags(frame, link, 'sll') ?? link;
}

function decodeSll2(frame: Uint8Array): LinkInfo | DecodeError {
  if (frame.length < SLL2_HEADER_BYTES) {
    return new DecodeError('truncated', 'sll2', `SLL2 header needs ${SLL2_HEADER_BYTES} bytes`, 0);
  }
  const link: LinkInfo = {
    type: LinkType.LINUX_SLL2,
    etherType: readU16(frame, 0),
    vlanIds: [],
    pktType: frame[SLL2_PKTTYPE_OFFSET],
    ifindex: readU32(frame, SLL2_IFINDEX_OFFSET) | 0, // a signed int in the kernel
    networkOffset: SLL2_HEADER_BYTES,
  };
  return skipVlanTags(frame, link, 'sll2') ?? link;
}

function decodeNull(frame: Uint8Array): LinkInfo | DecodeError {
  if (frame.length < NULL_HEADER_BYTES) {
    return new DecodeError('truncated', 'null', `loopback header needs ${NULL_HEADER_BYTES} bytes`, 0);
  }
  // The writer's byte order is unknown: try little-endian, then big-endian.
  let family = readU32Le(frame, 0);
  if (family !== BSD_AF_INET && !BSD_AF_INET6_VALUES.includes(family)) family = readU32(frame, 0);
  let etherType: number;
  if (family === BSD_AF_INET) etherType = EtherType.IPV4;
  else if (BSD_AF_INET6_VALUES.includes(family)) etherType = EtherType.IPV6;
  else return new DecodeError('unsupported', 'null', `loopback address family ${family}`, 0);
  return { type: LinkType.NULL, etherType, vlanIds: [], pktType: null, ifindex: null, networkOffset: NULL_HEADER_BYTES };
}

function decodeRawIp(linkType: LinkType, frame: Uint8Array): LinkInfo | DecodeError {
  if (frame.length < 1) return new DecodeError('truncated', 'raw', 'empty frame', 0);
  const version = frame[0] >> 4;
  let etherType: number;
  if (version === 4 && linkType !== LinkType.IPV6) etherType = EtherType.IPV4;
  else if (version === 6 && linkType !== LinkType.IPV4) etherType = EtherType.IPV6;
  else return new DecodeError('malformed', 'raw', `IP version ${version} on link type ${linkType}`, 0);
  return { type: linkType, etherType, vlanIds: [], pktType: null, ifindex: null, networkOffset: 0 };
}

/** Decodes the link header of a captured frame; the network layer starts at `networkOffset`. */
export function decodeLink(linkType: LinkType, frame: Uint8Array): LinkInfo | DecodeError {
  switch (linkType) {
    case LinkType.ETHERNET:
      return decodeEthernet(frame);
    case LinkType.LINUX_SLL:
      return decodeSll(frame);
    case LinkType.LINUX_SLL2:
      return decodeSll2(frame);
    case LinkType.NULL:
      return decodeNull(frame);
    case LinkType.RAW:
    case LinkType.IPV4:
    case LinkType.IPV6:
      return decodeRawIp(linkType, frame);
    default:
      return new DecodeError('unsupported', 'link', `link type ${String(linkType)}`, 0);
  }
}

/**
 * Link info for a frame that starts at the network header (AF_PACKET SOCK_DGRAM),
 * whose EtherType came from the socket address. A VLAN EtherType means the kernel
 * left the tag in the data: [TCI, inner EtherType] precede the IP header.
 */
export function decodeDgramLink(etherType: number, frame: Uint8Array): LinkInfo | DecodeError {
  const link: LinkInfo = { type: LinkType.RAW, etherType, vlanIds: [], pktType: null, ifindex: null, networkOffset: 0 };
  return skipVlanTags(frame, link, 'vlan') ?? link;
}
