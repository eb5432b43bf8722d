import { CaptureFileError } from '../common/errors';
import { openByteSource } from './byte-source';
import { PCAP_FILE_HEADER_BYTES, PcapRecordParser, readPcapFileHeader } from './pcap-records';
import { PCAPNG_SHB_TYPE, PcapngBlockParser } from './pcapng-blocks';
import type { RecordParser } from './record-parser';
import type { CaptureReadSummary, CapturedPacket } from './types';

export interface ReadOptions {
  /** Called after each buffer with disk bytes read and the file's size on disk. */
  onProgress?: (diskBytesRead: number, diskBytesTotal: number) => void;
  /** Read buffer; larger than any record the parsers accept. Default 4 MiB. */
  bufferBytes?: number;
}

const DEFAULT_BUFFER_BYTES = 4 << 20;
const MIN_BUFFER_BYTES = 2 << 20;

/**
 * Streams the packets of a pcap or pcapng file (gzip-compressed or not) to
 * `onPacket`, with one read buffer for the whole file: memory stays constant
 * whatever the file's size. A record that straddles two reads is moved to the
 * front of the buffer and completed by the next read, so no packet is copied
 * otherwise.
 *
 * Throws CaptureFileError when nothing can be read (unopenable file, bad magic).
 * A problem further in (cut-off record, corrupt length) stops the reading and is
 * returned in `summary.problem`; the packets before it were delivered.
 */
export async function readCaptureFile(path: string, onPacket: (packet: CapturedPacket) => void, options: ReadOptions = {}): Promise<CaptureReadSummary> {
  let source;
  try {
    source = await openByteSource(path);
  } catch (err) {
    throw new CaptureFileError(`cannot open ${path}: ${(err as Error).message}; check the path and its permissions`, { cause: err });
  }
  try {
    // The buffer must hold the largest record a parser accepts (1 MiB pcapng block) with room to spare.
    const buffer = Buffer.allocUnsafe(Math.max(options.bufferBytes ?? DEFAULT_BUFFER_BYTES, MIN_BUFFER_BYTES));
    let end = await source.fill(buffer, 0);
    let parser: RecordParser;
    let format: CaptureReadSummary['format'];
    let pos = 0;
    const pcapHeader = readPcapFileHeader(buffer.subarray(0, end));
    if (pcapHeader !== null) {
      parser = new PcapRecordParser(pcapHeader, onPacket);
      format = pcapHeader.nanos ? 'pcap-ns' : 'pcap';
      pos = PCAP_FILE_HEADER_BYTES;
    } else if (end >= 4 && buffer.readUInt32BE(0) === PCAPNG_SHB_TYPE) {
      parser = new PcapngBlockParser(onPacket);
      format = 'pcapng';
    } else {
      const magic = buffer.subarray(0, Math.min(4, end)).toString('hex') || 'empty';
      const what = source.gzip ? 'gzip-compressed file' : 'file';
      throw new CaptureFileError(
        `${path}: byte 0: not a pcap or pcapng ${what} (magic ${magic}); give a capture written by tcpdump -w, dumpcap or Wireshark`,
      );
    }

    let baseOffset = 0;
    for (;;) {
      pos = parser.parse(buffer, pos, end, baseOffset);
      options.onProgress?.(source.diskBytesRead, source.diskBytesTotal);
      if (parser.problem !== null) break;
      // Keep the unparsed tail (at most one record) at the front and read behind it.
      const left = end - pos;
      if (pos > 0) {
        buffer.copy(buffer, 0, pos, end);
        baseOffset += pos;
      }
      pos = 0;
      end = left;
      const added = await source.fill(buffer, end);
      end += added;
      if (added === 0) {
        if (left > 0) {
          const gzipNote = source.error ? ` (gzip: ${source.error.message})` : '';
          parser.problem = { offset: baseOffset, message: `${parser.describeCutOff(left, buffer, 0)}${gzipNote}` };
        } else if (source.error) {
          parser.problem = { offset: baseOffset, message: `the gzip stream ends early: ${source.error.message}` };
        }
        break;
      }
    }
    return {
      format,
      gzip: source.gzip,
      packets: parser.packets,
      bytes: baseOffset + pos,
      unsupportedLinkTypes: parser.unsupportedLinkTypes,
      problem: parser.problem,
    };
  } finally {
    await source.close();
  }
}
