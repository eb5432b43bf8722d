import type { PacketObservation } from '../../src/capture/observation';
import { decodeFrame } from '../../src/decode/decode';
import { LinkType } from '../../src/decode/types';
import { buildTcp, type TcpBuildOptions } from './packet-builder';

/** A decoded TCP packet observation built from builder options (raw IP link). */
export function tcpObservation(
  options: Omit<TcpBuildOptions, 'link'>,
  timeMs: number,
  meta: { pktType?: number; ifindex?: number } = {},
): PacketObservation {
  const result = decodeFrame(LinkType.RAW, buildTcp({ ...options, link: 'raw' }));
  if (!result.ok) throw new Error(`test packet did not decode: ${result.error.message}`);
  return { timeMs, ifindex: meta.ifindex ?? 2, pktType: meta.pktType ?? 0, packet: result.packet };
}
