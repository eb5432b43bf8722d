/**
 * Loads the native addon (native/, built by `npm install` through node-gyp) and
 * reads the frame batches it produces. The record layout is documented in
 * native-binding.ts; this file is the only reader of it.
 */
import { existsSync } from 'node:fs';
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

/**
 * Visits the `frameCount` records of a batch from PacketRing.start's onBatch.
 * Throws CaptureError if the batch does not hold that many well-formed records.
 */
export function forEachFrame(batch: Buffer, frameCount: number, visit: (frame: CapturedFrame) => void): void {
  let offset = 0;
  for (let index = 0; index < frameCount; index++) {
    if (offset + FRAME_RECORD_HEADER_BYTES > batch.length) {
      throw new CaptureError(`corrupt frame batch: record ${index} of ${frameCount} starts past its end (${batch.length} bytes)`);
    }
    const recordBytes = batch.readUInt32LE(offset);
    const capturedBytes = batch.readUInt32LE(offset + 4);
    if (recordBytes < FRAME_RECORD_HEADER_BYTES + capturedBytes || offset + recordBytes > batch.length) {
      throw new CaptureError(`corrupt frame batch: record ${index} at offset ${offset} claims ${recordBytes} bytes`);
    }
    const flags = batch.readUInt8(offset + 27);
    const dataStart = offset + FRAME_RECORD_HEADER_BYTES;
    visit({
      timeMs: batch.readUInt32LE(offset + 12) * 1000 + batch.readUInt32LE(offset + 16) / 1e6,
      wireBytes: batch.readUInt32LE(offset + 8),
      ifindex: batch.readInt32LE(offset + 20),
      protocol: batch.readUInt16LE(offset + 24),
      pktType: batch.readUInt8(offset + 26),
      vlanTci: (flags & VLAN_VALID_FLAG) !== 0 ? batch.readUInt16LE(offset + 28) : null,
      hatype: batch.readUInt16LE(offset + 32),
      bytes: batch.subarray(dataStart, dataStart + capturedBytes),
    });
    offset += recordBytes;
  }
}
