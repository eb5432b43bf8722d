import type { CaptureFileProblem } from './types';

/**
 * One capture format's record loop, driven by the capture-file reader: it parses
 * whole records from a buffer window and says how far it got, so the reader can
 * keep the unparsed tail and read more behind it.
 */
export interface RecordParser {
  /** Set when the file cannot be read past a point; the reader stops there. */
  problem: CaptureFileProblem | null;
  /** Packet records read, delivered or not (unsupported link types). */
  packets: number;
  unsupportedLinkTypes: Map<number, number>;
  /**
   * Parses whole records in buf[start, end), delivering packets; returns the position
   * of the first byte not consumed. `baseOffset` is the file offset of buf[0].
   */
  parse(buf: Buffer, start: number, end: number, baseOffset: number): number;
  /** Message for a file that ends `leftBytes` into a record that starts at buf[at]. */
  describeCutOff(leftBytes: number, buf: Buffer, at: number): string;
}
