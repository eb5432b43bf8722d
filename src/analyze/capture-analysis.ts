import { basename } from 'node:path';
import type { Attributor } from '../attribution/attributor';
import { DuplicateFilter, packetIdentity } from '../capture/dedup';
import type { PacketObservation } from '../capture/observation';
import { readCaptureFile } from '../capture-file/capture-file-reader';
import type { CaptureReadSummary, CapturedPacket } from '../capture-file/types';
import { decodeFrame } from '../decode/decode';
import type { LinkType } from '../decode/types';
import { ResetAnalyzer } from '../diagnose/reset-analyzer';
import type { ResetFinding } from '../protocol/finding';
import { readSegment, SegmentKind, type PlainSegmentInfo } from './plain-segment';
import { SegmentCoalescer } from './segment-coalescer';

export interface CaptureAnalysisOptions {
  attributor: Attributor;
  /** The finding's `node`; default the file's name (where the capture was taken is not in the file). */
  nodeName?: string;
  onProgress?: (diskBytesRead: number, diskBytesTotal: number) => void;
  /** Hold plain segments and decode only the latest per direction (default true; false decodes every packet). */
  coalesce?: boolean;
}

export interface CaptureAnalysisResult {
  path: string;
  read: CaptureReadSummary;
  /** Every finding in its final state (count and lastSeen after the whole file), oldest first. */
  findings: ResetFinding[];
  tcpPackets: number;
  duplicates: number;
  decodeErrors: number;
  /** Capture time of the first and last packet, ms since the epoch; null for an empty capture. */
  firstPacketMs: number | null;
  lastPacketMs: number | null;
}

/**
 * Capture time between analyzer ticks. Live, ticks publish rollup updates every
 * 250 ms; offline only the final state is printed, so a tick only has to expire
 * state and time out SYNs, for which a second is fine-grained enough.
 */
const TICK_MS = 1_000;

/**
 * Offline diagnosis of one capture file with the live agent's ResetAnalyzer. The
 * capture's clock drives everything: each packet's time is the analyzer's `now`,
 * and `tick` is called as capture time passes, so flow expiry and rollup windows
 * behave as they would have live. No kernel events exist offline, so RSTs are
 * judged at once and `kernelReason` stays null. Copies of one packet seen on two
 * interfaces (a `tcpdump -i any` on a node) count once, as live. Plain ACK/data
 * segments go through the SegmentCoalescer, which decodes only the latest of each
 * connection direction before it matters (see there).
 */
export async function analyzeCaptureFile(path: string, options: CaptureAnalysisOptions): Promise<CaptureAnalysisResult> {
  const findings = new Map<string, ResetFinding>();
  const analyzer = new ResetAnalyzer({
    nodeName: options.nodeName ?? basename(path),
    attributor: options.attributor,
    routes: () => null,
    kernelEventsActive: () => false,
    // A capture file normally holds every segment (tcpdump's default snap length keeps them all).
    captureMode: 'headers',
    onFinding: (finding) => void findings.set(finding.id, finding),
  });
  const dedup = new DuplicateFilter();
  const counts = { tcpPackets: 0, duplicates: 0, decodeErrors: 0 };
  // Capture clock: [first packet, now, last tick]. Doubles in a typed array, not in
  // `let`s the closures share: a fractional ms stored in a closure variable is a new
  // heap number on every packet (2M packets, 2M allocations).
  const clock = new Float64Array([Number.NaN, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]);
  const FIRST = 0;
  const NOW = 1;
  const LAST_TICK = 2;

  /** Decodes a frame and hands it to the analyzer; `checkDuplicate` false for held frames (checked when held). */
  const analyse = (linkType: LinkType, bytes: Buffer, timeMs: number, checkDuplicate: boolean): void => {
    const result = decodeFrame(linkType, bytes);
    if (!result.ok) {
      counts.decodeErrors++;
      return;
    }
    const decoded = result.packet;
    if (decoded.tcp === null) return;
    const identity = checkDuplicate ? packetIdentity(bytes, decoded.ip.offset) : -1;
    if (identity >= 0 && dedup.duplicateOf(identity, timeMs, decoded.ip.ttl) !== null) {
      counts.duplicates++;
      return;
    }
    const observation: PacketObservation = { timeMs, ifindex: decoded.link.ifindex, pktType: decoded.link.pktType, packet: decoded };
    if (identity >= 0) dedup.remember(identity, observation);
    analyzer.observe(observation);
  };
  const coalesce = options.coalesce ?? true;
  const coalescer = new SegmentCoalescer((linkType, bytes, timeMs) => analyse(linkType, bytes, timeMs, false));
  const segment: PlainSegmentInfo = { key: 0, check: 0, direction: 0, sameness: 0, ttl: 0, ttlIndex: 0, hasPayload: false };

  const onPacket = (packet: CapturedPacket): void => {
    const timeMs = packet.timeMs;
    if (Number.isNaN(clock[FIRST])) clock[FIRST] = timeMs;
    // Records of several interfaces may interleave slightly out of order: the clock only moves forward.
    if (timeMs > clock[NOW]) clock[NOW] = timeMs;
    const { buffer, offset, capturedBytes } = packet;
    const kind = readSegment(packet.linkType, buffer, offset, offset + capturedBytes, segment);
    if (kind !== SegmentKind.OTHER) counts.tcpPackets++;
    if (kind === SegmentKind.PLAIN && coalesce) {
      coalescer.plain(packet, segment);
    } else {
      if (kind === SegmentKind.CONTROL) coalescer.control(segment, timeMs);
      analyse(packet.linkType, packet.bytes, timeMs, true);
    }
    const nowMs = clock[NOW];
    if (nowMs - clock[LAST_TICK] >= TICK_MS) {
      coalescer.expire(nowMs);
      analyzer.tick(nowMs);
      clock[LAST_TICK] = nowMs;
    }
  };

  const read = await readCaptureFile(path, onPacket, { onProgress: options.onProgress, beforeRefill: () => coalescer.detach() });
  coalescer.releaseAll();
  const nowMs = clock[NOW];
  if (Number.isFinite(nowMs)) analyzer.tick(nowMs, true);
  return {
    path,
    read,
    findings: [...findings.values()].sort((a, b) => a.time.localeCompare(b.time)),
    ...counts,
    firstPacketMs: Number.isNaN(clock[FIRST]) ? null : clock[FIRST],
    lastPacketMs: Number.isFinite(nowMs) ? nowMs : null,
  };
}
