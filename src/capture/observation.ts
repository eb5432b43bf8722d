import type { DecodedPacket } from '../decode/types';

/** PACKET_OUTGOING from linux/if_packet.h: the frame was sent by this host. */
export const PACKET_OUTGOING = 4;

/** One decoded packet as seen by a capture (live or from a file). */
export interface PacketObservation {
  /** Wall-clock capture time in ms since the epoch (µs precision in the fraction). */
  timeMs: number;
  /** Interface the packet was seen on, when known. */
  ifindex: number | null;
  /** PACKET_HOST(0) … PACKET_OUTGOING(4), when known. */
  pktType: number | null;
  packet: DecodedPacket;
  /** Storm class of a RST (resetClassKey, ≥ 0), so counted-only RSTs of a storm join its finding; absent otherwise. */
  stormClass?: number;
  /**
   * The captured frame (from its link header) and where its IP header starts in it,
   * for evidence captures of the bytes as they were. A view into the capture's buffer,
   * which later batches reuse: set only while the 'packet' event runs (cleared when it
   * returns); whoever keeps bytes copies them then.
   */
  frame?: Uint8Array;
  frameIpOffset?: number;
}
