import { CaptureFileError } from '../common/errors';
import { openByteSource } from './byte-source';
import { PCAP_FILE_HEADER_BYTES, PcapRecordParser, readPcapFileHeader, type PcapFileHeader } from './pcap-records';
import { MAX_READ_BLOCK_BYTES, PCAPNG_SHB_TYPE, PcapngBlockParser } from './pcapng-blocks';
import type { RecordParser } from './record-parser';
import type { CaptureReadSummary, CapturedPacket } from './types';

export interface ReadOptions {
  /** Called after each buffer with disk bytes read and the file's size on disk. */
  onProgress?: (diskBytesRead: number, diskBytesTotal: number) => void;
  /** Called before the read buffer is overwritten: packet bytes kept by reference must be copied now. */
  beforeRefill?: () => void;
  /** Read buffer; larger than any record the parsers accept. Default 4 MiB. */
  bufferBytes?: number;
  /**
   * A record parser of the caller's for the file's format, in place of the
   * TypeScript ones (which then call no `onPacket`): the native scanner of
   * src/analyze/native-scan.ts. It must leave at most one record unparsed, as they do.
   */
  parserFor?: (format: CaptureParserFormat) => RecordParser;
}

/** What a record parser must know of a file: its format, and for pcap the file header. */
export type CaptureParserFormat = { format: 'pcap'; header: PcapFileHeader } | { format: 'pcapng' };

const DEFAULT_BUFFER_BYTES = 4 << 20;
const MIN_BUFFER_BYTES = 2 << 20;
/** Larger than the largest record a parser leaves unparsed (a 1 MiB pcapng block). */
const HEAD_ROOM_BYTES = MAX_READ_BLOCK_BYTES + 64;

/**
 * Streams the packets of a pcap or pcapng file (gzip-compressed or not) to
 * `onPacket`, with one read buffer for the whole file: memory stays constant
 * whatever the file's size. The next chunk is read while the current one is
 * parsed; a record that straddles two chunks is moved in front of the next one,
 * so no packet is copied otherwise.
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
    // Two buffers: one is parsed while the next chunk is read into the other. Each
    // has a head room in front of its chunk where the unparsed tail of the other
    // (at most one record, smaller than the head room) is moved before parsing on.
    const chunkBytes = Math.max(options.bufferBytes ?? DEFAULT_BUFFER_BYTES, MIN_BUFFER_BYTES);
    const buffers = [Buffer.allocUnsafe(HEAD_ROOM_BYTES + chunkBytes), Buffer.allocUnsafe(HEAD_ROOM_BYTES + chunkBytes)];
    let current = 0;
    let buffer = buffers[current];
    let end = HEAD_ROOM_BYTES + (await source.fill(buffer, HEAD_ROOM_BYTES, buffer.length));
    let pos = HEAD_ROOM_BYTES;
    let parser: RecordParser;
    let format: CaptureReadSummary['format'];
    const head = buffer.subarray(pos, end);
    const pcapHeader = readPcapFileHeader(head);
    if (pcapHeader !== null) {
      parser = options.parserFor?.({ format: 'pcap', header: pcapHeader }) ?? new PcapRecordParser(pcapHeader, onPacket);
      format = pcapHeader.nanos ? 'pcap-ns' : 'pcap';
      pos += PCAP_FILE_HEADER_BYTES;
    } else if (head.length >= 4 && head.readUInt32BE(0) === PCAPNG_SHB_TYPE) {
      parser = options.parserFor?.({ format: 'pcapng' }) ?? new PcapngBlockParser(onPacket);
      format = 'pcapng';
    } else {
      const magic = head.subarray(0, 4).toString('hex') || 'empty';
      const what = source.gzip ? 'gzip-compressed file' : 'file';
      throw new CaptureFileError(
        `${path}: byte 0: not a pcap or pcapng ${what} (magic ${magic}); give a capture written by tcpdump -w, dumpcap or Wireshark`,
      );
    }

    /** File offset of buffer[0] of the buffer being parsed. */
    let baseOffset = -HEAD_ROOM_BYTES;
    let next = source.fill(buffers[1 - current], HEAD_ROOM_BYTES, buffers[1 - current].length);
    for (;;) {
      pos = parser.parse(buffer, pos, end, baseOffset);
      options.onProgress?.(source.diskBytesRead, source.diskBytesTotal);
      if (parser.problem !== null) {
        await next.catch(() => 0);
        break;
      }
      options.beforeRefill?.();
      const left = end - pos;
      const other = buffers[1 - current];
      if (left > HEAD_ROOM_BYTES) throw new Error(`capture-file reader: ${left} unparsed bytes exceed the head room`); // parsers never leave more
      buffer.copy(other, HEAD_ROOM_BYTES - left, pos, end);
      const added = await next;
      baseOffset += end - HEAD_ROOM_BYTES; // the other buffer's chunk starts where this one's ended
      current = 1 - current;
      buffer = other;
      pos = HEAD_ROOM_BYTES - left;
      end = HEAD_ROOM_BYTES + added;
      if (added === 0) {
        if (left > 0) {
          const gzipNote = source.error ? ` (gzip: ${source.error.message})` : '';
          parser.problem = { offset: baseOffset + pos, message: `${parser.describeCutOff(left, buffer, pos)}${gzipNote}` };
        } else if (source.error) {
          parser.problem = { offset: baseOffset + pos, message: `the gzip stream ends early: ${source.error.message}` };
        }
        break;
      }
      next = source.fill(buffers[1 - current], HEAD_ROOM_BYTES, buffers[1 - current].length);
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
