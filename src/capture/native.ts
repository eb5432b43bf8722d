/**
 * Loads the native addon (native/, built by `npm install` through node-gyp) and
 * reads the frame batches it produces. The record layout is documented in
 * native-binding.ts; this file is the only reader of it.
 */
import { existsSync } from 'node:fs';
import { endianness } from 'node:os';
import { dirname, join } from 'node:path';
import { CaptureError } from '../common/errors';
import { FRAME_RECORD_HEADER_BYTES, type NativeBinding } from './native-binding';

const ADDON_RELATIVE_PATH = join('native', 'build', 'Release', 'rstprobe_native.node');
const BINDING_FUNCTIONS = ['openPacketRing', 'openPollReader', 'sampleClocks', 'interfaceIndex'] as const;

let cachedBinding: NativeBinding | undefined;

/**
 * The package root: the nearest ancestor of `fromDir` holding `native/binding.gyp`.
 * Works from the sources (src/capture) and the compiled tree (dist/src/capture).
 */
export function findPackageRoot(fromDir: string = __dirname): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'native', 'binding.gyp'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Loads the addon once per process; throws CaptureError naming the fix when it is missing. */
export function loadNativeBinding(): NativeBinding {
  if (cachedBinding !== undefined) return cachedBinding;
  const root = findPackageRoot();
  if (root === undefined) {
    throw new CaptureError(`native addon not found: no native/binding.gyp above ${__dirname}; reinstall rstprobe with \`npm install\``);
  }
  const addonPath = join(root, ADDON_RELATIVE_PATH);
  let binding: NativeBinding;
  try {
    binding = require(addonPath) as NativeBinding;
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new CaptureError(
      `native addon ${addonPath} cannot be loaded (${reason}): run \`npm install\` (or \`npm run build\`) in ${root} to build it`,
      { cause: err },
    );
  }
  const missing = BINDING_FUNCTIONS.filter((name) => typeof binding[name] !== 'function');
  if (missing.length > 0) {
    throw new CaptureError(
      `native addon ${addonPath} is out of date (missing ${missing.join(', ')}): run \`npm run build\` in ${root} to rebuild it`,
    );
  }
  cachedBinding = binding;
  return binding;
}

/** One frame of a batch. `bytes` is a view into the batch, not a copy. */
export interface CapturedFrame {
  /** Capture time, CLOCK_REALTIME, in ms since the epoch (µs precision). */
  timeMs: number;
  ifindex: number;
  /** EtherType in host order: 0x0800 IPv4, 0x86dd IPv6, … */
  protocol: number;
  /** PACKET_HOST=0 … PACKET_OUTGOING=4 (linux/if_packet.h). */
  pktType: number;
  /** 802.1Q tag control information when the kernel reported one. */
  vlanTci: number | null;
  /** ARPHRD_* (linux/if_arp.h): 1 Ethernet, 772 loopback, … */
  hatype: number;
  /** Length of the packet on the wire; `bytes.length` may be smaller (snap length). */
  wireBytes: number;
  /** Captured bytes, starting at the network header. */
  bytes: Buffer;
}

const VLAN_VALID_FLAG = 0x01;
/** Record fields are little-endian; a Uint32Array reads host order. */
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/**
 * A reusable view of one record of a batch, for the hot path: reading a record
 * allocates nothing. Fields are valid only during the visit; `bytes` makes a view.
 */
export class FrameCursor {
  batch: Buffer = Buffer.alloc(0);
  /** Offset of the frame's first byte (the network header) in `batch`. */
  dataOffset = 0;
  capturedBytes = 0;
  wireBytes = 0;
  timeMs = 0;
  ifindex = 0;
  protocol = 0;
  pktType = 0;
  vlanTci: number | null = null;
  hatype = 0;

  get bytes(): Buffer {
    return this.batch.subarray(this.dataOffset, this.dataOffset + this.capturedBytes);
  }
}

/**
 * Visits the `frameCount` records of a batch from PacketRing.start's onBatch with
 * one reused cursor. Throws CaptureError if the batch does not hold that many
 * well-formed records.
 */
export function forEachRecord(batch: Buffer, frameCount: number, visit: (cursor: FrameCursor) => void, cursor = new FrameCursor()): void {
  cursor.batch = batch;
  // Records start 8-byte aligned; a batch from the addon starts aligned too, so its
  // u32 fields can be read through one typed-array view (fast path, no bounds calls).
  const words = LITTLE_ENDIAN_HOST && batch.byteOffset % 4 === 0 ? new Uint32Array(batch.buffer, batch.byteOffset, batch.length >>> 2) : null;
  let offset = 0;
  for (let index = 0; index < frameCount; index++) {
    if (offset + FRAME_RECORD_HEADER_BYTES > batch.length) {
      throw new CaptureError(`corrupt frame batch: record ${index} of ${frameCount} starts past its end (${batch.length} bytes)`);
    }
    const word = offset >>> 2;
    const recordBytes = words !== null ? words[word] : batch.readUInt32LE(offset);
    const capturedBytes = words !== null ? words[word + 1] : batch.readUInt32LE(offset + 4);
    if (recordBytes < FRAME_RECORD_HEADER_BYTES + capturedBytes || offset + recordBytes > batch.length || recordBytes % 8 !== 0) {
      throw new CaptureError(`corrupt frame batch: record ${index} at offset ${offset} claims ${recordBytes} bytes`);
    }
    const flags = batch[offset + 27];
    cursor.dataOffset = offset + FRAME_RECORD_HEADER_BYTES;
    cursor.capturedBytes = capturedBytes;
    if (words !== null) {
      cursor.wireBytes = words[word + 2];
      cursor.timeMs = words[word + 3] * 1000 + words[word + 4] / 1e6;
      cursor.ifindex = words[word + 5] | 0;
    } else {
      cursor.wireBytes = batch.readUInt32LE(offset + 8);
      cursor.timeMs = batch.readUInt32LE(offset + 12) * 1000 + batch.readUInt32LE(offset + 16) / 1e6;
      cursor.ifindex = batch.readInt32LE(offset + 20);
    }
    cursor.protocol = batch[offset + 24] | (batch[offset + 25] << 8);
    cursor.pktType = batch[offset + 26];
    cursor.vlanTci = (flags & VLAN_VALID_FLAG) !== 0 ? batch[offset + 28] | (batch[offset + 29] << 8) : null;
    cursor.hatype = batch[offset + 32] | (batch[offset + 33] << 8);
    visit(cursor);
    offset += recordBytes;
  }
}

/** Like forEachRecord, with a CapturedFrame of its own per record (`bytes` a view, not a copy). */
export function forEachFrame(batch: Buffer, frameCount: number, visit: (frame: CapturedFrame) => void): void {
  forEachRecord(batch, frameCount, (cursor) =>
    visit({
      timeMs: cursor.timeMs,
      wireBytes: cursor.wireBytes,
      ifindex: cursor.ifindex,
      protocol: cursor.protocol,
      pktType: cursor.pktType,
      vlanTci: cursor.vlanTci,
      hatype: cursor.hatype,
      bytes: cursor.bytes,
    }),
  );
}
