import { join } from 'node:path';
import { findPackageRoot } from '../capture/native';
import type { CaptureParserFormat } from '../capture-file/capture-file-reader';
import type { RecordParser } from '../capture-file/record-parser';
import type { CaptureFileProblem } from '../capture-file/types';

/**
 * The contract of the addon's capture scanner (native/src/capture_scan.h): the
 * scan stage of capture-scan.ts in C++ — pcap/pcapng framing, readSegment, the
 * SegmentCoalescer and the tick clock, following the TypeScript line for line —
 * which writes its output as scan-batch.ts records. The TypeScript scan is the
 * reference; test/analyze/native-scan.test.ts holds the two to the same output.
 *
 * Failures: a TypeError (or RangeError) naming a bad argument. A corrupt file is
 * not a failure: `state().problem` says where and what, as RecordParser.problem.
 */
export interface NativeScannerOptions {
  format: 'pcap' | 'pcapng';
  /** pcap only: the file header (pcap-records.ts PcapFileHeader). */
  littleEndian?: boolean;
  nanos?: boolean;
  snapBytes?: number;
  fileLinkType?: number;
  /** Hold plain segments (SegmentCoalescer) or pass every packet on. */
  coalesce: boolean;
}

export interface NativeScanState {
  /** Packet records read, delivered or not (RecordParser.packets). */
  packets: number;
  tcpPackets: number;
  /** pcapng section header blocks read. */
  sections: number;
  firstPacketMs: number | null;
  lastPacketMs: number | null;
  problem: CaptureFileProblem | null;
  /** Pairs [file link type, packets] in first-seen order. */
  unsupportedLinkTypes: number[];
}

export interface NativeCaptureScanner {
  /**
   * RecordParser.parse: scans whole records of buffer[start, end) (`baseOffset`
   * is the file offset of buffer[0]), returns where the first unparsed record
   * starts. Copies what it holds out of `buffer` before it returns.
   */
  parse(buffer: Buffer, start: number, end: number, baseOffset: number): number;
  /** The records written since the last call, in an ArrayBuffer of their own; null when none. */
  takeOutput(): ArrayBuffer | null;
  /** The end of the file: everything still held is written out. */
  finish(): void;
  state(): NativeScanState;
  /** RecordParser.describeCutOff. */
  describeCutOff(leftBytes: number, buffer: Buffer, at: number): string;
}

export interface NativeScanBinding {
  openCaptureScanner(options: NativeScannerOptions): NativeCaptureScanner;
}

const ADDON_RELATIVE_PATH = join('native', 'build', 'Release', 'rstprobe_native.node');
let cached: NativeScanBinding | null | undefined;

/**
 * The addon's scanner, or null when the addon is not built or predates it: the
 * TypeScript scan then does the same work, slower. (The live agent needs the
 * addon; offline analysis only runs faster with it.)
 */
export function loadScanBinding(): NativeScanBinding | null {
  if (cached !== undefined) return cached;
  cached = null;
  const root = findPackageRoot(__dirname);
  if (root === undefined) return cached;
  try {
    const binding = require(join(root, ADDON_RELATIVE_PATH)) as Partial<NativeScanBinding>;
    if (typeof binding.openCaptureScanner === 'function') cached = binding as NativeScanBinding;
  } catch {
    // not built: the TypeScript scan
  }
  return cached;
}

/** A RecordParser driving the native scanner; its output goes to `onOutput` after each chunk. */
export class NativeScanParser implements RecordParser {
  problem: CaptureFileProblem | null = null;
  packets = 0;
  readonly unsupportedLinkTypes = new Map<number, number>();
  private readonly scanner: NativeCaptureScanner;

  constructor(
    binding: NativeScanBinding,
    format: CaptureParserFormat,
    coalesce: boolean,
    private readonly onOutput: (records: ArrayBuffer) => void,
  ) {
    this.scanner = binding.openCaptureScanner(format.format === 'pcap' ? { format: 'pcap', ...format.header, coalesce } : { format: 'pcapng', coalesce });
  }

  parse(buf: Buffer, start: number, end: number, baseOffset: number): number {
    const pos = this.scanner.parse(buf, start, end, baseOffset);
    this.sync();
    return pos;
  }

  describeCutOff(leftBytes: number, buf: Buffer, at: number): string {
    return this.scanner.describeCutOff(leftBytes, buf, at);
  }

  /** After the last chunk: releases what is held; returns the final state. */
  finish(): NativeScanState {
    this.scanner.finish();
    return this.sync();
  }

  private sync(): NativeScanState {
    const output = this.scanner.takeOutput();
    if (output !== null) this.onOutput(output);
    const state = this.scanner.state();
    this.packets = state.packets;
    if (state.problem !== null) this.problem = state.problem;
    const pairs = state.unsupportedLinkTypes;
    for (let index = 0; index < pairs.length; index += 2) this.unsupportedLinkTypes.set(pairs[index], pairs[index + 1]);
    return state;
  }
}
