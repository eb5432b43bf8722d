/**
 * A minimal pcapng writer (draft-ietf-opsawg-pcapng): one section (SHB with an
 * optional comment), one interface (IDB with link type, snap length and
 * nanosecond timestamps), and Enhanced Packet Blocks with optional comments.
 * Little-endian, as the SHB's byte-order magic says.
 */
export interface PcapngPacket {
  /** Capture time in ns since the epoch. */
  timeNs: bigint;
  bytes: Uint8Array;
  /** Length on the wire; default `bytes.length`. */
  originalBytes?: number;
  comment?: string;
}

export interface PcapngCapture {
  /** Section comment (opt_comment of the SHB). */
  comment?: string;
  linkType: number;
  snapBytes: number;
  /** Interface name (if_name), e.g. the node's name. */
  interfaceName?: string;
  packets: readonly PcapngPacket[];
}

const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_END = 0;
const OPT_COMMENT = 1;
const IF_NAME = 2;
const IF_TSRESOL = 9;
/** if_tsresol 9: timestamps in units of 10^-9 s. */
const NANOSECONDS = 9;

const pad4 = (bytes: number): number => (bytes + 3) & ~3;

function encodeOptions(options: Array<[number, Buffer]>): Buffer {
  if (options.length === 0) return Buffer.alloc(0);
  const total = options.reduce((sum, [, value]) => sum + 4 + pad4(value.length), 4);
  const out = Buffer.alloc(total);
  let at = 0;
  for (const [code, value] of options) {
    out.writeUInt16LE(code, at);
    out.writeUInt16LE(value.length, at + 2);
    value.copy(out, at + 4);
    at += 4 + pad4(value.length);
  }
  out.writeUInt16LE(OPT_END, at); // opt_endofopt, length 0
  return out;
}

/** One pcapng block, little-endian: type, total length, the body padded to 4 bytes, total length again. */
export function pcapngBlock(type: number, body: Buffer): Buffer {
  const length = 12 + pad4(body.length);
  const out = Buffer.alloc(length);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(length, 4);
  body.copy(out, 8);
  out.writeUInt32LE(length, length - 4);
  return out;
}

const comment = (text: string | undefined): Array<[number, Buffer]> => (text === undefined ? [] : [[OPT_COMMENT, Buffer.from(text, 'utf8')]]);

export function encodePcapng(capture: PcapngCapture): Buffer {
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  shb.writeUInt16LE(1, 4); // major version
  shb.writeUInt16LE(0, 6); // minor version
  shb.writeBigInt64LE(-1n, 8); // section length not given
  const parts = [pcapngBlock(SHB, Buffer.concat([shb, encodeOptions(comment(capture.comment))]))];

  const idb = Buffer.alloc(8);
  idb.writeUInt16LE(capture.linkType, 0);
  idb.writeUInt32LE(capture.snapBytes, 4);
  const idbOptions: Array<[number, Buffer]> = [[IF_TSRESOL, Buffer.from([NANOSECONDS])]];
  if (capture.interfaceName !== undefined) idbOptions.unshift([IF_NAME, Buffer.from(capture.interfaceName, 'utf8')]);
  parts.push(pcapngBlock(IDB, Buffer.concat([idb, encodeOptions(idbOptions)])));

  for (const packet of capture.packets) {
    const head = Buffer.alloc(20);
    head.writeUInt32LE(0, 0); // interface 0
    head.writeUInt32LE(Number(packet.timeNs >> 32n), 4);
    head.writeUInt32LE(Number(packet.timeNs & 0xffffffffn), 8);
    head.writeUInt32LE(packet.bytes.length, 12);
    head.writeUInt32LE(packet.originalBytes ?? packet.bytes.length, 16);
    const data = Buffer.alloc(pad4(packet.bytes.length));
    data.set(packet.bytes);
    parts.push(pcapngBlock(EPB, Buffer.concat([head, data, encodeOptions(comment(packet.comment))])));
  }
  return Buffer.concat(parts);
}

/** ms since the epoch (with a µs/ns fraction) as integer ns. */
export function msToNs(timeMs: number): bigint {
  const wholeMs = Math.floor(timeMs);
  return BigInt(wholeMs) * 1_000_000n + BigInt(Math.round((timeMs - wholeMs) * 1e6));
}
