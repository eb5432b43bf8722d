/**
 * Flow keys. A directional key names one direction of a TCP connection; the flow
 * key is the same for both directions (the lower endpoint first).
 */

export interface SocketAddress {
  ip: string;
  port: number;
}

export function socketText(address: SocketAddress): string {
  return address.ip.includes(':') ? `[${address.ip}]:${address.port}` : `${address.ip}:${address.port}`;
}

/** Key of the direction src → dst. */
export function directionalKey(src: SocketAddress, dst: SocketAddress): string {
  return `${src.ip} ${src.port} ${dst.ip} ${dst.port}`;
}

/** Key shared by both directions of a connection. */
export function flowKey(a: SocketAddress, b: SocketAddress): string {
  return flowKeyOf(a.ip, a.port, b.ip, b.port);
}

/** flowKey from the four fields, without building address objects (the per-packet path). */
export function flowKeyOf(aIp: string, aPort: number, bIp: string, bPort: number): string {
  const aFirst = aIp < bIp || (aIp === bIp && aPort <= bPort);
  return aFirst ? `${aIp} ${aPort} ${bIp} ${bPort}` : `${bIp} ${bPort} ${aIp} ${aPort}`;
}
