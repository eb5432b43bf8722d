import { basename } from 'node:path';
import type { Attributor } from '../attribution/attributor';
import { DuplicateFilter, packetIdentity } from '../capture/dedup';
import type { PacketObservation } from '../capture/observation';
import type { CaptureReadSummary } from '../capture-file/types';
import { decodeFrame } from '../decode/decode';
import { ResetAnalyzer } from '../diagnose/reset-analyzer';
import type { ResetFinding } from '../protocol/finding';
import type { ScanOptions, ScanSink } from './capture-scan';
import { scanInWorker } from './scan-thread';

export interface CaptureAnalysisOptions {
  attributor: Attributor;
  /** The finding's `node`; default the file's name (where the capture was taken is not in the file). */
  nodeName?: string;
  onProgress?: (diskBytesRead: number, diskBytesTotal: number) => void;
  /** Hold plain segments and decode only the latest per direction (default true; false decodes every packet). */
  coalesce?: boolean;
  /** Where the scan stage runs: a worker thread (default, the diagnosis runs alongside) or this one. */
  scanThread?: 'worker' | 'main';
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
 * Offline diagnosis of one capture file with the live agent's ResetAnalyzer. The
 * capture's clock drives everything: each packet's time is the analyzer's `now`,
 * and `tick` is called as capture time passes, so flow expiry and rollup windows
 * behave as they would have live. No kernel events exist offline, so RSTs are
 * judged at once and `kernelReason` stays null. Copies of one packet seen on two
 * interfaces (a `tcpdump -i any` on a node) count once, as live. Plain ACK/data
 * segments go through the SegmentCoalescer, which decodes only the latest of each
 * connection direction before it matters (see there).
 *
 * Two stages: the scan (capture-scan.ts: read, classify, coalesce) runs on a
 * worker thread by default, the diagnosis (decode, flows, verdicts) here; the
 * scan's output is the same on either thread.
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
    // Only the final state of each finding is printed: no snapshot per update.
    updates: 'live',
    onFinding: (finding) => void findings.set(finding.id, finding),
  });
  const dedup = new DuplicateFilter();
  const counts = { duplicates: 0, decodeErrors: 0 };

  const diagnosis: ScanSink = {
    /** Decodes a frame and hands it to the analyzer. */
    frame(linkType, buffer, start, length, timeMs, checkDuplicate) {
      const bytes = buffer.subarray(start, start + length);
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
    },
    tick(nowMs) {
      analyzer.tick(nowMs);
    },
  };

  const scanOptions: ScanOptions = { coalesce: options.coalesce, onProgress: options.onProgress };
  // The scan's modules (reader, native scanner) load on this thread only when it scans here.
  const scan =
    options.scanThread === 'main'
      ? await (require('./capture-scan') as typeof import('./capture-scan')).scanCaptureFile(path, diagnosis, scanOptions)
      : await scanInWorker(path, diagnosis, scanOptions);
  if (scan.lastPacketMs !== null) analyzer.tick(scan.lastPacketMs, true);
  return {
    path,
    read: scan.read,
    findings: [...findings.values()].sort((a, b) => a.time.localeCompare(b.time)),
    tcpPackets: scan.tcpPackets,
    ...counts,
    firstPacketMs: scan.firstPacketMs,
    lastPacketMs: scan.lastPacketMs,
  };
}
