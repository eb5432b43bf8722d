/** Public surface of the packet decoders. */
export * from './types';
export { decodeFrame, decodeNetwork, IpProtocol } from './decode';
export { formatIpv4, formatIpv6, parseIpAddress, parseIpv4, parseIpv6 } from './address';
export { EtherType } from './link';
export { Ipv6NextHeader } from './ipv6';
export { TcpOptionKind } from './tcp';
export { Icmpv4Type, Icmpv6Type } from './icmp';
export { internetChecksum, pseudoHeaderSum } from './checksum';
