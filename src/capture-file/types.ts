import type { LinkType } from '../decode/types';

/**
 * One packet record of a capture file. The reader hands the same object to every
 * call, and its bytes live in the reader's buffer: valid only during the callback
 * (copy what must outlive it). `buffer[offset, offset + capturedBytes)` are the
 * captured bytes; `bytes` makes a view of them on first use (the hot path reads
 * `buffer` directly and allocates nothing).
 */
export class CapturedPacket {
  /** Link type of the interface the packet was captured on (pcap LINKTYPE_*, normalised). */
  linkType: LinkType = 0;
  /** Capture time in ms since the epoch; fractions carry µs/ns. */
  timeMs = 0;
  buffer: Buffer = EMPTY;
  offset = 0;
  capturedBytes = 0;
  /** Length of the packet on the wire (may exceed `capturedBytes` when cut by the snap length). */
  originalBytes = 0;
  /** pcapng interface index within its section; 0 for pcap. */
  interfaceId = 0;
  /** Byte offset of the record in the (decompressed) file. */
  fileOffset = 0;
  private view: Buffer | null = null;

  /** Points the packet at its next record. */
  set(buffer: Buffer, offset: number, capturedBytes: number): void {
    this.buffer = buffer;
    this.offset = offset;
    this.capturedBytes = capturedBytes;
    this.view = null;
  }

  /** The captured bytes (a view into the read buffer). */
  get bytes(): Buffer {
    this.view ??= this.buffer.subarray(this.offset, this.offset + this.capturedBytes);
    return this.view;
  }
}

const EMPTY = Buffer.alloc(0);

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
