import { normaliseLinkType } from './link-types';
import type { RecordParser } from './record-parser';
import { CapturedPacket, MAX_CAPLEN_BYTES, type CaptureFileProblem } from './types';

/**
 * Classic pcap (pcap-savefile(5); draft-ietf-opsawg-pcap §4-5): a 24-byte file
 * header, then records of a 16-byte header (seconds, µs or ns fraction, caplen,
 * original length) and caplen bytes. The magic number's byte order is the
 * writer's, and says whether the fraction is micro- or nanoseconds.
 */
export const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOS = 0xa1b23c4d;
export const PCAP_FILE_HEADER_BYTES = 24;
const RECORD_HEADER_BYTES = 16;

/** Unsigned 32-bit reads without Buffer's argument checks (the loop checks bounds once per record). */
const le32 = (buf: Buffer, at: number): number => (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16)) + buf[at + 3] * 0x1000000;
const be32 = (buf: Buffer, at: number): number => buf[at] * 0x1000000 + ((buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]);

export interface PcapFileHeader {
  littleEndian: boolean;
  nanos: boolean;
  snapBytes: number;
  fileLinkType: number;
}

/** Reads the file header's magic; null when the bytes are not pcap. */
export function pcapMagic(head: Buffer): { littleEndian: boolean; nanos: boolean } | null {
  if (head.length < 4) return null;
  const big = head.readUInt32BE(0);
  const little = head.readUInt32LE(0);
  if (big === PCAP_MAGIC_MICROS || big === PCAP_MAGIC_NANOS) return { littleEndian: false, nanos: big === PCAP_MAGIC_NANOS };
  if (little === PCAP_MAGIC_MICROS || little === PCAP_MAGIC_NANOS) return { littleEndian: true, nanos: little === PCAP_MAGIC_NANOS };
  return null;
}

export function readPcapFileHeader(head: Buffer): PcapFileHeader | null {
  const magic = pcapMagic(head);
  if (magic === null || head.length < PCAP_FILE_HEADER_BYTES) return null;
  const u32 = (at: number): number => (magic.littleEndian ? head.readUInt32LE(at) : head.readUInt32BE(at));
  return { ...magic, snapBytes: u32(16), fileLinkType: u32(20) };
}

export class PcapRecordParser implements RecordParser {
  problem: CaptureFileProblem | null = null;
  packets = 0;
  readonly unsupportedLinkTypes = new Map<number, number>();
  private readonly packet: CapturedPacket;
  private readonly fractionPerMs: number;
  private readonly maxCaplen: number;
  private readonly supported: boolean;

  constructor(
    private readonly header: PcapFileHeader,
    private readonly onPacket: (packet: CapturedPacket) => void,
  ) {
    const linkType = normaliseLinkType(header.fileLinkType);
    this.supported = linkType !== null;
    this.packet = new CapturedPacket();
    this.packet.linkType = linkType ?? 0;
    this.fractionPerMs = header.nanos ? 1_000_000 : 1_000;
    // A snap length of 0 is "unlimited" in some writers; the hard cap still applies.
    this.maxCaplen = header.snapBytes > 0 ? Math.min(header.snapBytes, MAX_CAPLEN_BYTES) : MAX_CAPLEN_BYTES;
  }

  parse(buf: Buffer, start: number, end: number, baseOffset: number): number {
    const little = this.header.littleEndian;
    const packet = this.packet;
    let pos = start;
    while (end - pos >= RECORD_HEADER_BYTES) {
      const caplen = little ? le32(buf, pos + 8) : be32(buf, pos + 8);
      if (caplen > this.maxCaplen) {
        const limit = caplen > MAX_CAPLEN_BYTES ? `the ${MAX_CAPLEN_BYTES}-byte limit` : `the file's snap length ${this.header.snapBytes}`;
        this.problem = { offset: baseOffset + pos, message: `packet record claims ${caplen} captured bytes, more than ${limit}: the file is corrupt from here` };
        return pos;
      }
      const recordEnd = pos + RECORD_HEADER_BYTES + caplen;
      if (recordEnd > end) break;
      this.packets++;
      if (this.supported) {
        const seconds = little ? le32(buf, pos) : be32(buf, pos);
        const fraction = little ? le32(buf, pos + 4) : be32(buf, pos + 4);
        packet.timeMs = seconds * 1000 + fraction / this.fractionPerMs;
        packet.originalBytes = little ? le32(buf, pos + 12) : be32(buf, pos + 12);
        packet.set(buf, pos + RECORD_HEADER_BYTES, caplen);
        packet.fileOffset = baseOffset + pos;
        this.onPacket(packet);
      } else {
        this.unsupportedLinkTypes.set(this.header.fileLinkType, (this.unsupportedLinkTypes.get(this.header.fileLinkType) ?? 0) + 1);
      }
      pos = recordEnd;
    }
    return pos;
  }

  describeCutOff(leftBytes: number, buf: Buffer, at: number): string {
    if (leftBytes < RECORD_HEADER_BYTES) return `the file ends inside a packet record header (${leftBytes} of ${RECORD_HEADER_BYTES} bytes)`;
    const caplen = this.header.littleEndian ? buf.readUInt32LE(at + 8) : buf.readUInt32BE(at + 8);
    return `the last packet record is cut off (${leftBytes - RECORD_HEADER_BYTES} of ${caplen} captured bytes present)`;
  }
}
