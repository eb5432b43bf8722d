/**
 * Writes pcap and pcapng files byte by byte from a list of frames, with every
 * knob a reader must handle: byte order, µs/ns pcap magic, pcapng sections with
 * several interfaces (own link type, snap length, if_tsresol), EPB/SPB/obsolete
 * PB, unknown blocks. Independent of src/ on purpose: the reader is checked
 * against files this writer made, and against tshark reading the same files.
 */
export interface FixturePacket {
  frame: Uint8Array;
  /** Capture time, ns since the epoch. */
  timeNs: bigint;
  /** Length on the wire; default the frame's length. */
  originalBytes?: number;
  /** pcapng interface index in its section; default 0. */
  interfaceId?: number;
  /** pcapng block: default 'epb'. */
  block?: 'epb' | 'spb' | 'pb';
  /** pcapng opt_comment on the packet. */
  comment?: string;
}

export interface PcapOptions {
  linkType: number;
  littleEndian?: boolean;
  nanos?: boolean;
  snapBytes?: number;
}

export function writePcap(packets: readonly FixturePacket[], options: PcapOptions): Buffer {
  const little = options.littleEndian ?? true;
  const parts: Buffer[] = [];
  const header = Buffer.alloc(24);
  const u32 = (buf: Buffer, value: number, at: number): void => void (little ? buf.writeUInt32LE(value >>> 0, at) : buf.writeUInt32BE(value >>> 0, at));
  const u16 = (buf: Buffer, value: number, at: number): void => void (little ? buf.writeUInt16LE(value, at) : buf.writeUInt16BE(value, at));
  u32(header, options.nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  u16(header, 2, 4);
  u16(header, 4, 6);
  u32(header, options.snapBytes ?? 262144, 16);
  u32(header, options.linkType, 20);
  parts.push(header);
  for (const packet of packets) {
    const record = Buffer.alloc(16);
    const seconds = packet.timeNs / 1_000_000_000n;
    const fractionNs = packet.timeNs % 1_000_000_000n;
    u32(record, Number(seconds), 0);
    u32(record, Number(options.nanos ? fractionNs : fractionNs / 1000n), 4);
    u32(record, packet.frame.length, 8);
    u32(record, packet.originalBytes ?? packet.frame.length, 12);
    parts.push(record, Buffer.from(packet.frame));
  }
  return Buffer.concat(parts);
}

export interface PcapngInterface {
  linkType: number;
  snapBytes?: number;
  /** if_tsresol byte: 6 µs (default), 9 ns, 0x80|n for 2^-n. */
  tsresol?: number;
  name?: string;
}

export interface PcapngSection {
  littleEndian?: boolean;
  interfaces: PcapngInterface[];
  packets: FixturePacket[];
  /** Blocks of unknown types to put before the packets. */
  unknownBlocks?: Array<{ type: number; body: Uint8Array }>;
  comment?: string;
}

const pad4 = (bytes: number): number => (bytes + 3) & ~3;

function block(little: boolean, type: number, body: Buffer): Buffer {
  const length = 12 + pad4(body.length);
  const out = Buffer.alloc(length);
  const u32 = (value: number, at: number): void => void (little ? out.writeUInt32LE(value >>> 0, at) : out.writeUInt32BE(value >>> 0, at));
  u32(type, 0);
  u32(length, 4);
  body.copy(out, 8);
  u32(length, length - 4);
  return out;
}

function options(little: boolean, list: Array<[number, Buffer]>): Buffer {
  if (list.length === 0) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  for (const [code, value] of [...list, [0, Buffer.alloc(0)] as [number, Buffer]]) {
    const head = Buffer.alloc(4);
    if (little) {
      head.writeUInt16LE(code, 0);
      head.writeUInt16LE(value.length, 2);
    } else {
      head.writeUInt16BE(code, 0);
      head.writeUInt16BE(value.length, 2);
    }
    parts.push(head, value, Buffer.alloc(pad4(value.length) - value.length));
  }
  return Buffer.concat(parts);
}

function ticksPerSecond(tsresol: number): bigint {
  return tsresol & 0x80 ? 2n ** BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
}

export function writePcapng(sections: readonly PcapngSection[]): Buffer {
  const parts: Buffer[] = [];
  for (const section of sections) {
    const little = section.littleEndian ?? true;
    const shb = Buffer.alloc(16);
    if (little) {
      shb.writeUInt32LE(0x1a2b3c4d, 0);
      shb.writeUInt16LE(1, 4);
    } else {
      shb.writeUInt32BE(0x1a2b3c4d, 0);
      shb.writeUInt16BE(1, 4);
    }
    shb.writeBigInt64LE(-1n, 8); // section length unknown
    const shbOptions = section.comment === undefined ? Buffer.alloc(0) : options(little, [[1, Buffer.from(section.comment)]]);
    parts.push(block(little, 0x0a0d0d0a, Buffer.concat([shb, shbOptions])));
    for (const iface of section.interfaces) {
      const body = Buffer.alloc(8);
      if (little) {
        body.writeUInt16LE(iface.linkType, 0);
        body.writeUInt32LE(iface.snapBytes ?? 262144, 4);
      } else {
        body.writeUInt16BE(iface.linkType, 0);
        body.writeUInt32BE(iface.snapBytes ?? 262144, 4);
      }
      const list: Array<[number, Buffer]> = [];
      if (iface.name !== undefined) list.push([2, Buffer.from(iface.name)]);
      if (iface.tsresol !== undefined) list.push([9, Buffer.from([iface.tsresol])]);
      parts.push(block(little, 1, Buffer.concat([body, options(little, list)])));
    }
    for (const unknown of section.unknownBlocks ?? []) parts.push(block(little, unknown.type, Buffer.from(unknown.body)));
    for (const packet of section.packets) {
      const interfaceId = packet.interfaceId ?? 0;
      const iface = section.interfaces[interfaceId];
      const frame = Buffer.from(packet.frame);
      const originalBytes = packet.originalBytes ?? frame.length;
      if (packet.block === 'spb') {
        const head = Buffer.alloc(4);
        if (little) head.writeUInt32LE(originalBytes, 0);
        else head.writeUInt32BE(originalBytes, 0);
        parts.push(block(little, 3, Buffer.concat([head, frame])));
        continue;
      }
      const ticks = (packet.timeNs * ticksPerSecond(iface.tsresol ?? 6)) / 1_000_000_000n;
      const head = Buffer.alloc(20);
      const u32 = (value: number, at: number): void => void (little ? head.writeUInt32LE(value >>> 0, at) : head.writeUInt32BE(value >>> 0, at));
      if (packet.block === 'pb') {
        if (little) head.writeUInt16LE(interfaceId, 0);
        else head.writeUInt16BE(interfaceId, 0);
      } else {
        u32(interfaceId, 0);
      }
      u32(Number(ticks >> 32n), 4);
      u32(Number(ticks & 0xffffffffn), 8);
      u32(frame.length, 12);
      u32(originalBytes, 16);
      const padded = Buffer.concat([frame, Buffer.alloc(pad4(frame.length) - frame.length)]);
      const packetOptions = packet.comment === undefined ? Buffer.alloc(0) : options(little, [[1, Buffer.from(packet.comment)]]);
      parts.push(block(little, packet.block === 'pb' ? 2 : 6, Buffer.concat([head, padded, packetOptions])));
    }
  }
  return Buffer.concat(parts);
}
