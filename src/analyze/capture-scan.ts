import { readCaptureFile } from '../capture-file/capture-file-reader';
import type { CaptureReadSummary, CapturedPacket } from '../capture-file/types';
import type { LinkType } from '../decode/types';
import { loadScanBinding, NativeScanParser, type NativeScanBinding } from './native-scan';
import { readSegment, SegmentKind, type PlainSegmentInfo } from './plain-segment';
import { readScanBatch } from './scan-batch';
import { SegmentCoalescer } from './segment-coalescer';

/**
 * The first stage of offline analysis: read the file, classify each record and
 * coalesce plain segments, and hand on only what the diagnosis must decode, in
 * the order it must see it. It needs nothing of the diagnosis, so it can run on
 * another thread (capture-scan-worker.ts) with its output packed (scan-batch.ts).
 */
export interface ScanSink {
  /**
   * A frame to decode, at buffer[start, start + length) (valid only during the call).
   * `checkDuplicate` is false for frames the coalescer held: it compared them already.
   */
  frame(linkType: LinkType, buffer: Buffer, start: number, length: number, timeMs: number, checkDuplicate: boolean): void;
  /** Capture time has reached `nowMs`: the analyzer's tick (expiry, SYN time-outs). */
  tick(nowMs: number): void;
  /**
   * Calls already packed as scan-batch.ts records (the native scanner's output),
   * records[0, usedBytes); the sink owns the buffer. A sink without this method
   * gets them replayed as `frame` and `tick` calls.
   */
  batch?(records: Buffer, usedBytes: number): void;
}

export interface ScanOptions {
  /** Hold plain segments and decode only the latest per direction (default true; false decodes every packet). */
  coalesce?: boolean;
  onProgress?: (diskBytesRead: number, diskBytesTotal: number) => void;
  /** The addon's scanner (default when the addon is built) or the TypeScript one (the reference). */
  scanner?: 'native' | 'typescript';
  /** The reader's buffer (ReadOptions.bufferBytes). */
  bufferBytes?: number;
}

export interface ScanResult {
  read: CaptureReadSummary;
  tcpPackets: number;
  /** Capture time of the first and last packet, ms since the epoch; null for an empty capture. */
  firstPacketMs: number | null;
  lastPacketMs: number | null;
}

/**
 * Capture time between analyzer ticks. Live, ticks publish rollup updates every
 * 250 ms; offline only the final state is printed, so a tick only has to expire
 * state and time out SYNs, for which a second is fine-grained enough.
 */
export const TICK_MS = 1_000;

/**
 * Scans one capture file into `sink`. Throws CaptureFileError when the file cannot
 * be read at all; a problem further in ends the scan and is in `read.problem`.
 */
export async function scanCaptureFile(path: string, sink: ScanSink, options: ScanOptions = {}): Promise<ScanResult> {
  const binding = options.scanner === 'typescript' ? null : loadScanBinding();
  return binding === null ? scanInTypeScript(path, sink, options) : scanNatively(binding, path, sink, options);
}

/** The native scanner (native-scan.ts) over the same reader: one call per chunk, its records handed on packed. */
async function scanNatively(binding: NativeScanBinding, path: string, sink: ScanSink, options: ScanOptions): Promise<ScanResult> {
  const parsers: NativeScanParser[] = []; // the one the reader asks for, once it knows the format
  const onOutput = (records: ArrayBuffer): void => {
    const batch = Buffer.from(records);
    if (sink.batch !== undefined) sink.batch(batch, batch.length);
    else readScanBatch(batch, batch.length, sink);
  };
  const read = await readCaptureFile(path, () => {}, {
    onProgress: options.onProgress,
    bufferBytes: options.bufferBytes,
    parserFor: (format) => {
      parsers.push(new NativeScanParser(binding, format, options.coalesce ?? true, onOutput));
      return parsers[0];
    },
  });
  const state = parsers[0].finish();
  return { read, tcpPackets: state.tcpPackets, firstPacketMs: state.firstPacketMs, lastPacketMs: state.lastPacketMs };
}

async function scanInTypeScript(path: string, sink: ScanSink, options: ScanOptions): Promise<ScanResult> {
  let tcpPackets = 0;
  // Capture clock: [first packet, now, last tick]. Doubles in a typed array, not in
  // `let`s the closures share: a fractional ms stored in a closure variable is a new
  // heap number on every packet (2M packets, 2M allocations).
  const clock = new Float64Array([Number.NaN, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]);
  const FIRST = 0;
  const NOW = 1;
  const LAST_TICK = 2;
  const coalesce = options.coalesce ?? true;
  const coalescer = new SegmentCoalescer((linkType, buffer, start, length, timeMs) => sink.frame(linkType, buffer, start, length, timeMs, false));
  const segment: PlainSegmentInfo = { key: 0, check: 0, direction: 0, sameness: 0, ttl: 0, ttlIndex: 0, hasPayload: false };

  const onPacket = (packet: CapturedPacket): void => {
    const timeMs = packet.timeMs;
    if (Number.isNaN(clock[FIRST])) clock[FIRST] = timeMs;
    // Records of several interfaces may interleave slightly out of order: the clock only moves forward.
    if (timeMs > clock[NOW]) clock[NOW] = timeMs;
    const { buffer, offset, capturedBytes } = packet;
    const kind = readSegment(packet.linkType, buffer, offset, offset + capturedBytes, segment);
    if (kind !== SegmentKind.OTHER) tcpPackets++;
    if (kind === SegmentKind.PLAIN && coalesce) {
      coalescer.plain(packet, segment);
    } else {
      if (kind === SegmentKind.CONTROL) coalescer.control(segment, timeMs);
      sink.frame(packet.linkType, buffer, offset, capturedBytes, timeMs, true);
    }
    const nowMs = clock[NOW];
    if (nowMs - clock[LAST_TICK] >= TICK_MS) {
      coalescer.expire(nowMs);
      sink.tick(nowMs);
      clock[LAST_TICK] = nowMs;
    }
  };

  const read = await readCaptureFile(path, onPacket, {
    onProgress: options.onProgress,
    bufferBytes: options.bufferBytes,
    beforeRefill: () => coalescer.detach(),
  });
  coalescer.releaseAll();
  const nowMs = clock[NOW];
  return {
    read,
    tcpPackets,
    firstPacketMs: Number.isNaN(clock[FIRST]) ? null : clock[FIRST],
    lastPacketMs: Number.isFinite(nowMs) ? nowMs : null,
  };
}
