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
  const aFirst = a.ip < b.ip || (a.ip === b.ip && a.port <= b.port);
  return aFirst ? directionalKey(a, b) : directionalKey(b, a);
}
