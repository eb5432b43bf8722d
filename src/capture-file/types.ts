import type { LinkType } from '../decode/types';

/**
 * One packet record of a capture file. The reader hands the same object to every
 * call, and `bytes` is a view into its read buffer: both are valid only during
 * the callback (copy what must outlive it).
 */
export interface CapturedPacket {
  /** Link type of the interface the packet was captured on (pcap LINKTYPE_*, normalised). */
  linkType: LinkType;
  /** Capture time in ms since the epoch; fractions carry µs/ns. */
  timeMs: number;
  /** The captured bytes (caplen of them). */
  bytes: Buffer;
  /** Length of the packet on the wire (may exceed `bytes.length` when cut by the snap length). */
  originalBytes: number;
  /** pcapng interface index within its section; 0 for pcap. */
  interfaceId: number;
  /** Byte offset of the record in the (decompressed) file. */
  fileOffset: number;
}

export type CaptureFormat = 'pcap' | 'pcap-ns' | 'pcapng';

/** A problem in a file: where (byte offset in the decompressed stream) and what. */
export interface CaptureFileProblem {
  offset: number;
  message: string;
}

export interface CaptureReadSummary {
  format: CaptureFormat;
  gzip: boolean;
  packets: number;
  /** Decompressed bytes consumed. */
  bytes: number;
  /** Packets whose link type rstprobe cannot decode, by link type number. */
  unsupportedLinkTypes: Map<number, number>;
  /** The problem that stopped reading early, if any: what was read before it stands. */
  problem: CaptureFileProblem | null;
}

/** Largest caplen accepted: tcpdump's MAXIMUM_SNAPLEN (262144, pcap-int.h). */
export const MAX_CAPLEN_BYTES = 256 * 1024;
