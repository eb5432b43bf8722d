import type { LinkType } from '../decode/types';
import { normaliseLinkType } from './link-types';
import type { RecordParser } from './record-parser';
import { CapturedPacket, MAX_CAPLEN_BYTES, type CaptureFileProblem } from './types';

/**
 * pcapng (draft-ietf-opsawg-pcapng): blocks of [type, total length, body, total
 * length]. A Section Header Block (SHB) starts each section and fixes its byte
 * order; Interface Description Blocks (IDB) give each interface its link type,
 * snap length and timestamp resolution; packets come in Enhanced (EPB), Simple
 * (SPB) and the obsolete Packet Blocks. Every other block is skipped.
 */
export const PCAPNG_SHB_TYPE = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const BLOCK_IDB = 0x00000001;
const BLOCK_PB = 0x00000002; // obsolete Packet Block (§ appendix A)
const BLOCK_SPB = 0x00000003;
const BLOCK_EPB = 0x00000006;
/** Smallest block: type, length, trailer length. */
const MIN_BLOCK_BYTES = 12;
/** Blocks rstprobe reads must fit its buffer; a packet block holds at most 256 KiB of packet plus options. */
export const MAX_READ_BLOCK_BYTES = 1 << 20;
const OPT_END = 0;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

interface InterfaceInfo {
  linkType: LinkType | null;
  fileLinkType: number;
  snapBytes: number;
  ticksPerMs: number;
  offsetMs: number;
}

const pad4 = (bytes: number): number => (bytes + 3) & ~3;
/** Unsigned little-endian 32-bit read without Buffer's argument checks (callers check bounds). */
const le32 = (buf: Buffer, at: number): number => (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16)) + buf[at + 3] * 0x1000000;
/** Smallest Enhanced Packet Block: header, interface, timestamp, lengths, trailer. */
const MIN_EPB_BYTES = 32;

export class PcapngBlockParser implements RecordParser {
  problem: CaptureFileProblem | null = null;
  packets = 0;
  sections = 0;
  readonly unsupportedLinkTypes = new Map<number, number>();
  private little = true;
  private interfaces: InterfaceInfo[] = [];
  private skipRemaining = 0;
  private lastTimeMs = 0;
  private readonly packet = new CapturedPacket();

  constructor(private readonly onPacket: (packet: CapturedPacket) => void) {}

  /** Unsigned reads in the section's byte order, without Buffer's argument checks (callers check bounds per block). */
  private u32(buf: Buffer, at: number): number {
    return this.little
      ? (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16)) + buf[at + 3] * 0x1000000
      : buf[at] * 0x1000000 + ((buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]);
  }

  private u16(buf: Buffer, at: number): number {
    return this.little ? buf[at] | (buf[at + 1] << 8) : (buf[at] << 8) | buf[at + 1];
  }

  private fail(offset: number, message: string): void {
    this.problem = { offset, message };
  }

  parse(buf: Buffer, start: number, end: number, baseOffset: number): number {
    let pos = start;
    for (;;) {
      if (this.skipRemaining > 0) {
        const skipped = Math.min(this.skipRemaining, end - pos);
        pos += skipped;
        this.skipRemaining -= skipped;
        if (this.skipRemaining > 0) return pos;
      }
      if (end - pos < MIN_BLOCK_BYTES) return pos;
      // Fast path for the common block, as lean as a pcap record: a little-endian EPB, whole
      // in the buffer, well-formed, on a known interface of a supported link type. Anything
      // else (and any doubt) takes the general path below, which checks and reports.
      if (this.little && end - pos >= MIN_EPB_BYTES && le32(buf, pos) === BLOCK_EPB) {
        const length = le32(buf, pos + 4);
        if (length >= MIN_EPB_BYTES && length <= MAX_READ_BLOCK_BYTES && (length & 3) === 0 && length <= end - pos && le32(buf, pos + length - 4) === length) {
          const interfaceId = le32(buf, pos + 8);
          const caplen = le32(buf, pos + 20);
          const info = interfaceId < this.interfaces.length ? this.interfaces[interfaceId] : undefined;
          if (info !== undefined && info.linkType !== null && caplen <= MAX_CAPLEN_BYTES && 28 + pad4(caplen) + 4 <= length && (info.snapBytes === 0 || caplen <= info.snapBytes)) {
            const packet = this.packet;
            const timeMs = (le32(buf, pos + 12) * 4294967296 + le32(buf, pos + 16)) / info.ticksPerMs + info.offsetMs;
            this.packets++;
            this.lastTimeMs = timeMs;
            packet.timeMs = timeMs;
            packet.linkType = info.linkType;
            packet.interfaceId = interfaceId;
            packet.set(buf, pos + 28, caplen);
            packet.originalBytes = le32(buf, pos + 24);
            packet.fileOffset = baseOffset + pos;
            this.onPacket(packet);
            pos += length;
            continue;
          }
        }
      }
      const type = this.u32(buf, pos);
      if (type === PCAPNG_SHB_TYPE) {
        // The type reads the same in both orders; the byte-order magic after the length decides.
        const magicLe = buf.readUInt32LE(pos + 8);
        if (magicLe === BYTE_ORDER_MAGIC) this.little = true;
        else if (buf.readUInt32BE(pos + 8) === BYTE_ORDER_MAGIC) this.little = false;
        else {
          this.fail(baseOffset + pos, `section header block has byte-order magic 0x${magicLe.toString(16)}, not 0x1a2b3c4d`);
          return pos;
        }
      }
      const length = this.u32(buf, pos + 4);
      if (length < MIN_BLOCK_BYTES || length % 4 !== 0) {
        this.fail(baseOffset + pos, `block of type 0x${type.toString(16)} claims length ${length}, which does not add up (at least ${MIN_BLOCK_BYTES}, a multiple of 4)`);
        return pos;
      }
      if (length > MAX_READ_BLOCK_BYTES) {
        if (type === PCAPNG_SHB_TYPE || type === BLOCK_IDB || type === BLOCK_EPB || type === BLOCK_SPB || type === BLOCK_PB) {
          this.fail(baseOffset + pos, `block of type 0x${type.toString(16)} claims length ${length}, more than a packet or interface block can hold`);
          return pos;
        }
        this.skipRemaining = length; // a large block we do not read (e.g. a decryption secrets block)
        continue;
      }
      if (end - pos < length) return pos;
      const trailer = this.u32(buf, pos + length - 4);
      if (trailer !== length) {
        this.fail(baseOffset + pos, `block of type 0x${type.toString(16)} has length ${length} in its header but ${trailer} in its trailer`);
        return pos;
      }
      switch (type) {
        case PCAPNG_SHB_TYPE:
          this.sections++;
          this.interfaces = [];
          break;
        case BLOCK_IDB:
          this.readInterface(buf, pos, length);
          break;
        case BLOCK_EPB:
        case BLOCK_PB:
          this.readEnhancedPacket(buf, pos, length, type, baseOffset);
          break;
        case BLOCK_SPB:
          this.readSimplePacket(buf, pos, length, baseOffset);
          break;
        default:
          break;
      }
      if (this.problem !== null) return pos;
      pos += length;
    }
  }

  private readInterface(buf: Buffer, pos: number, length: number): void {
    const fileLinkType = this.u16(buf, pos + 8);
    const info: InterfaceInfo = {
      linkType: normaliseLinkType(fileLinkType),
      fileLinkType,
      snapBytes: this.u32(buf, pos + 12),
      ticksPerMs: 1_000, // default resolution 10^-6 s
      offsetMs: 0,
    };
    const optionsEnd = pos + length - 4;
    let at = pos + 16;
    while (at + 4 <= optionsEnd) {
      const code = this.u16(buf, at);
      const valueBytes = this.u16(buf, at + 2);
      if (code === OPT_END || at + 4 + valueBytes > optionsEnd) break;
      if (code === IF_TSRESOL && valueBytes >= 1) {
        const resolution = buf[at + 4];
        // High bit set: a negative power of 2; clear: a negative power of 10.
        const ticksPerSecond = resolution & 0x80 ? 2 ** (resolution & 0x7f) : 10 ** resolution;
        info.ticksPerMs = ticksPerSecond / 1000;
      } else if (code === IF_TSOFFSET && valueBytes >= 8) {
        const seconds = this.little ? buf.readBigInt64LE(at + 4) : buf.readBigInt64BE(at + 4);
        info.offsetMs = Number(seconds) * 1000;
      }
      at += 4 + pad4(valueBytes);
    }
    this.interfaces.push(info);
  }

  private readEnhancedPacket(buf: Buffer, pos: number, length: number, type: number, baseOffset: number): void {
    // EPB: interface id (32 bits); PB: interface id and drop count (16 bits each).
    const interfaceId = type === BLOCK_EPB ? this.u32(buf, pos + 8) : this.u16(buf, pos + 8);
    const tsHigh = this.u32(buf, pos + 12);
    const tsLow = this.u32(buf, pos + 16);
    const caplen = this.u32(buf, pos + 20);
    const originalBytes = this.u32(buf, pos + 24);
    if (caplen > MAX_CAPLEN_BYTES || 28 + pad4(caplen) + 4 > length) {
      this.fail(baseOffset + pos, `packet block claims ${caplen} captured bytes, which does not fit its block length ${length}${caplen > MAX_CAPLEN_BYTES ? ` or the ${MAX_CAPLEN_BYTES}-byte limit` : ''}`);
      return;
    }
    const info = this.interfaces[interfaceId];
    if (info === undefined) {
      this.fail(baseOffset + pos, `packet block names interface ${interfaceId}, but the section describes ${this.interfaces.length}`);
      return;
    }
    if (info.snapBytes > 0 && caplen > info.snapBytes) {
      this.fail(baseOffset + pos, `packet block claims ${caplen} captured bytes, more than interface ${interfaceId}'s snap length ${info.snapBytes}`);
      return;
    }
    // The time goes straight into the packet: a double passed as an argument is a new heap number per call.
    this.packet.timeMs = (tsHigh * 4294967296 + tsLow) / info.ticksPerMs + info.offsetMs;
    this.deliver(info, interfaceId, buf, pos + 28, caplen, originalBytes, baseOffset + pos);
  }

  private readSimplePacket(buf: Buffer, pos: number, length: number, baseOffset: number): void {
    const info = this.interfaces[0];
    if (info === undefined) {
      this.fail(baseOffset + pos, 'simple packet block before any interface description block');
      return;
    }
    const originalBytes = this.u32(buf, pos + 8);
    // The captured length is implied: the packet, cut to the snap length and to the block (§4.4).
    let caplen = Math.min(originalBytes, length - 16);
    if (info.snapBytes > 0) caplen = Math.min(caplen, info.snapBytes);
    // An SPB carries no timestamp: it takes the previous packet's, so time never runs backwards.
    this.packet.timeMs = this.lastTimeMs;
    this.deliver(info, 0, buf, pos + 12, caplen, originalBytes, baseOffset + pos);
  }

  /** Delivers the packet whose `timeMs` the caller has set. */
  private deliver(info: InterfaceInfo, interfaceId: number, buf: Buffer, at: number, caplen: number, originalBytes: number, fileOffset: number): void {
    this.packets++;
    const packet = this.packet;
    this.lastTimeMs = packet.timeMs;
    if (info.linkType === null) {
      this.unsupportedLinkTypes.set(info.fileLinkType, (this.unsupportedLinkTypes.get(info.fileLinkType) ?? 0) + 1);
      return;
    }
    packet.linkType = info.linkType;
    packet.interfaceId = interfaceId;
    packet.set(buf, at, caplen);
    packet.originalBytes = originalBytes;
    packet.fileOffset = fileOffset;
    this.onPacket(packet);
  }

  describeCutOff(leftBytes: number, buf: Buffer, at: number): string {
    if (this.skipRemaining > 0) return `the file ends inside a skipped block (${this.skipRemaining} bytes missing)`;
    if (leftBytes < 8) return `the file ends inside a block header (${leftBytes} of 8 bytes)`;
    return `the last block is cut off (${leftBytes} of ${this.u32(buf, at + 4)} bytes present)`;
  }
}
