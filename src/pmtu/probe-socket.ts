/**
 * Raw sockets for path-MTU probes (raw-socket 1.8.1: createSocket, setOption,
 * send/recv through libuv polling). One ICMP socket both sends echo requests and
 * receives every ICMP message of this network namespace — replies and the errors
 * routers send; for the UDP method a second raw socket sends the datagrams.
 *
 * Both are put in "probe" PMTU mode (ip(7) IP_MTU_DISCOVER = IP_PMTUDISC_PROBE,
 * ipv6(7) IPV6_MTU_DISCOVER = IPV6_PMTUDISC_PROBE): DF set / no fragmentation, and
 * the kernel's cached path MTU is ignored, so a probe bigger than what the kernel
 * learnt is still sent instead of refused or fragmented; only the interface MTU
 * refuses (EMSGSIZE). Needs CAP_NET_RAW.
 */
import { PrivilegeError, RstprobeError } from '../common/errors';
import { CAP_NET_RAW, hasCapability } from '../agent/privileges';
import type { IpFamily, ProbeMethod } from './probe-packet';

const raw = require('raw-socket') as RawSocketModule;

interface RawSocket {
  setOption(level: number, option: number, value: number): void;
  send(buffer: Buffer, offset: number, length: number, address: string, callback: (error: Error | null, bytes: number) => void): void;
  on(event: 'message', listener: (buffer: Buffer, source: string) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  pauseRecv(): void;
  close(): void;
}
interface RawSocketModule {
  createSocket(options: { protocol: number; addressFamily: number; bufferSize?: number }): RawSocket;
  AddressFamily: { IPv4: number; IPv6: number };
}

// linux/in.h and linux/in6.h
const IPPROTO_IP = 0;
const IPPROTO_IPV6 = 41;
const IPPROTO_ICMP = 1;
const IPPROTO_UDP = 17;
const IPPROTO_ICMPV6 = 58;
const IP_MTU_DISCOVER = 10;
const IP_PMTUDISC_PROBE = 3;
const IPV6_MTU_DISCOVER = 23;
const IPV6_PMTUDISC_PROBE = 3;
const IPV6_CHECKSUM = 7;
/** Offset of the UDP checksum, for IPV6_CHECKSUM (RFC 3542 §3.1). */
const UDP_CHECKSUM_OFFSET = 6;
/** Enough for the headers of any answer; longer replies are cut, which is fine. */
const RECEIVE_BUFFER_BYTES = 2048;

/** A probe the kernel refused to send; `errno` is the name (EMSGSIZE: bigger than the interface MTU). */
export class ProbeSendError extends RstprobeError {
  constructor(
    readonly errno: string,
    message: string,
  ) {
    super('RSTPROBE_ERR_PMTU_SEND', `path-MTU probe not sent: ${message} (${errno})`);
  }
}

/** What path-prober.ts needs of the sockets; tests and the bench may supply their own. */
export interface ProbeSockets {
  send(packet: Buffer, targetIp: string): Promise<void>;
  onMessage(listener: (message: Buffer, sourceIp: string) => void): void;
  close(): void;
}

export type ProbeSocketFactory = (family: IpFamily, method: ProbeMethod) => ProbeSockets;

/** strerror texts raw-socket throws, back to errno names. */
const ERRNO_BY_TEXT: Record<string, string> = {
  'Message too long': 'EMSGSIZE',
  'Operation not permitted': 'EPERM',
  'Permission denied': 'EACCES',
  'Network is unreachable': 'ENETUNREACH',
  'No route to host': 'EHOSTUNREACH',
  'No buffer space available': 'ENOBUFS',
  'Resource temporarily unavailable': 'EAGAIN',
  'Connection refused': 'ECONNREFUSED',
};

export function requireRawSocketPrivilege(): void {
  if (!hasCapability(CAP_NET_RAW)) {
    throw new PrivilegeError(
      'path-MTU probes need CAP_NET_RAW (raw ICMP sockets): run as root (sudo), or grant NET_RAW (setcap cap_net_raw+ep, or securityContext.capabilities.add)',
    );
  }
}

function openRaw(family: IpFamily, protocol: number): RawSocket {
  try {
    return raw.createSocket({ protocol, addressFamily: family === 4 ? raw.AddressFamily.IPv4 : raw.AddressFamily.IPv6, bufferSize: RECEIVE_BUFFER_BYTES });
  } catch (err) {
    throw new PrivilegeError(`cannot open a raw socket (${(err as Error).message}): path-MTU probes need CAP_NET_RAW; run as root or grant NET_RAW`, { cause: err });
  }
}

function setProbeMode(socket: RawSocket, family: IpFamily): void {
  if (family === 4) socket.setOption(IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE);
  else socket.setOption(IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE);
}

/** The real sockets (raw-socket). */
export function openProbeSockets(family: IpFamily, method: ProbeMethod): ProbeSockets {
  requireRawSocketPrivilege();
  const icmp = openRaw(family, family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6);
  let udp: RawSocket | null = null;
  try {
    setProbeMode(icmp, family);
    if (method === 'udp') {
      udp = openRaw(family, IPPROTO_UDP);
      udp.pauseRecv(); // it would otherwise read every UDP datagram of the namespace
      setProbeMode(udp, family);
      if (family === 6) udp.setOption(IPPROTO_IPV6, IPV6_CHECKSUM, UDP_CHECKSUM_OFFSET);
    }
  } catch (err) {
    icmp.close();
    udp?.close();
    throw err;
  }
  const sender = udp ?? icmp;
  const listeners: Array<(message: Buffer, sourceIp: string) => void> = [];
  icmp.on('message', (message, source) => {
    for (const listener of listeners) listener(message, source);
  });
  // A failed recv is emitted as 'error'; the socket stays usable, so it is only ignored.
  icmp.on('error', () => undefined);
  udp?.on('error', () => undefined);
  let closed = false;
  return {
    send: (packet, targetIp) =>
      new Promise<void>((resolve, reject) => {
        if (closed) {
          reject(new ProbeSendError('EBADF', 'probe sockets are closed'));
          return;
        }
        sender.send(packet, 0, packet.length, targetIp, (error) => {
          if (error === null || error === undefined) resolve();
          else reject(new ProbeSendError(ERRNO_BY_TEXT[error.message] ?? 'EIO', error.message));
        });
      }),
    onMessage: (listener) => void listeners.push(listener),
    close: () => {
      if (closed) return;
      closed = true;
      icmp.close();
      udp?.close();
    },
  };
}
