import { basename } from 'node:path';
import type { Attributor } from '../attribution/attributor';
import { DuplicateFilter, packetIdentity } from '../capture/dedup';
import type { PacketObservation } from '../capture/observation';
import { readCaptureFile } from '../capture-file/capture-file-reader';
import type { CaptureReadSummary, CapturedPacket } from '../capture-file/types';
import { decodeFrame } from '../decode/decode';
import { ResetAnalyzer } from '../diagnose/reset-analyzer';
import type { ResetFinding } from '../protocol/finding';

export interface CaptureAnalysisOptions {
  attributor: Attributor;
  /** The finding's `node`; default the file's name (where the capture was taken is not in the file). */
  nodeName?: string;
  onProgress?: (diskBytesRead: number, diskBytesTotal: number) => void;
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

/** Capture time between analyzer ticks, as the live agent's TICK_MS in wall time. */
const TICK_MS = 250;

/**
 * Offline diagnosis of one capture file with the live agent's ResetAnalyzer. The
 * capture's clock drives everything: each packet's time is the analyzer's `now`,
 * and `tick` is called as capture time passes, so flow expiry and rollup windows
 * behave as they would have live. No kernel events exist offline, so RSTs are
 * judged at once and `kernelReason` stays null. Copies of one packet seen on two
 * interfaces (a `tcpdump -i any` on a node) count once, as live.
 */
export async function analyzeCaptureFile(path: string, options: CaptureAnalysisOptions): Promise<CaptureAnalysisResult> {
  const findings = new Map<string, ResetFinding>();
  const analyzer = new ResetAnalyzer({
    nodeName: options.nodeName ?? basename(path),
    attributor: options.attributor,
    routes: () => null,
    kernelEventsActive: () => false,
    onFinding: (finding) => void findings.set(finding.id, finding),
  });
  const dedup = new DuplicateFilter();
  const counts = { tcpPackets: 0, duplicates: 0, decodeErrors: 0 };
  let firstPacketMs: number | null = null;
  let nowMs = Number.NEGATIVE_INFINITY;
  let lastTickMs = Number.NEGATIVE_INFINITY;

  const onPacket = (packet: CapturedPacket): void => {
    const result = decodeFrame(packet.linkType, packet.bytes);
    if (!result.ok) {
      counts.decodeErrors++;
      return;
    }
    const decoded = result.packet;
    if (decoded.tcp === null) return;
    counts.tcpPackets++;
    const timeMs = packet.timeMs;
    firstPacketMs ??= timeMs;
    // Records of several interfaces may interleave slightly out of order: the clock only moves forward.
    if (timeMs > nowMs) nowMs = timeMs;
    const identity = packetIdentity(packet.bytes, decoded.ip.offset);
    if (identity >= 0 && dedup.duplicateOf(identity, timeMs, decoded.ip.ttl) !== null) {
      counts.duplicates++;
      return;
    }
    const observation: PacketObservation = { timeMs, ifindex: decoded.link.ifindex, pktType: decoded.link.pktType, packet: decoded };
    if (identity >= 0) dedup.remember(identity, observation);
    analyzer.observe(observation);
    if (nowMs - lastTickMs >= TICK_MS) {
      analyzer.tick(nowMs);
      lastTickMs = nowMs;
    }
  };

  const read = await readCaptureFile(path, onPacket, { onProgress: options.onProgress });
  if (Number.isFinite(nowMs)) analyzer.tick(nowMs, true);
  return {
    path,
    read,
    findings: [...findings.values()].sort((a, b) => a.time.localeCompare(b.time)),
    ...counts,
    firstPacketMs,
    lastPacketMs: Number.isFinite(nowMs) ? nowMs : null,
  };
}
