import type { PacketObservation } from '../capture/observation';
import type { Logger } from '../common/log';
import { TcpFlag } from '../decode/types';
import type { ResetFinding } from '../protocol/finding';
import { FlowPacketRing, SNAP_BYTES, type FlowPacketRingOptions, type RingPacket } from './flow-packet-ring';
import { encodeTcpHeaders } from './header-encoder';
import { encodePcapng, msToNs, type PcapngPacket } from './pcapng-writer';
import { EvidenceStore, type EvidenceStoreOptions } from './evidence-store';

/**
 * The agent's evidence captures: every captured TCP packet goes into the flow
 * ring; when a new reset finding is made, its flow's recent packets (the RST
 * among them) become a pcapng with a section comment naming the finding and its
 * verdict and a packet comment on the RST, written to the bounded store. Packets
 * are written as captured, from the IP header on (LINKTYPE_RAW), cut at SNAP_BYTES;
 * only a packet the capture gave no bytes for has its headers rebuilt from the
 * decoded fields (header-encoder.ts), and the section comment says so.
 */
export interface EvidenceRecorderOptions extends EvidenceStoreOptions, FlowPacketRingOptions {
  nodeName: string;
  log: Logger;
}

/** LINKTYPE_RAW: each packet starts at its IP header. */
const LINKTYPE_RAW = 101;

export class EvidenceRecorder {
  readonly ring: FlowPacketRing;
  readonly store: EvidenceStore;
  private readonly log: Logger;

  constructor(private readonly options: EvidenceRecorderOptions) {
    this.ring = new FlowPacketRing(options);
    this.store = new EvidenceStore(options);
    this.log = options.log.child({ component: 'evidence' });
  }

  record(observation: PacketObservation): void {
    this.ring.record(observation);
  }

  /** Writes the capture of a new reset finding; null when its flow has no packets (never captured, or evicted). */
  captureFinding(finding: ResetFinding): Buffer | null {
    const packets = this.ring.packetsOf(finding.src, finding.dst);
    if (packets.length === 0) return null;
    const pcapng = buildEvidencePcapng(finding, packets, this.options.nodeName);
    try {
      this.store.save(finding.id, pcapng);
    } catch (err) {
      this.log.warn({ err, findingId: finding.id, dir: this.store.dir }, 'could not write the evidence capture; it is still attached to the finding');
    }
    return pcapng;
  }
}

/** The pcapng of one finding: the flow's packets, the finding's RST marked with a comment. */
export function buildEvidencePcapng(finding: ResetFinding, packets: readonly RingPacket[], nodeName: string): Buffer {
  const resetTimeMs = Date.parse(finding.time);
  // The finding's RST: from its sender to its receiver, nearest the finding's time.
  let resetIndex = -1;
  packets.forEach(({ observation }, index) => {
    const { ip, tcp } = observation.packet;
    if (tcp === null || (tcp.flags & TcpFlag.RST) === 0 || ip.src !== finding.src.ip || tcp.srcPort !== finding.src.port) return;
    if (resetIndex < 0 || Math.abs(observation.timeMs - resetTimeMs) <= Math.abs(packets[resetIndex].observation.timeMs - resetTimeMs)) resetIndex = index;
  });
  const records: PcapngPacket[] = [];
  let rebuilt = 0;
  packets.forEach(({ observation, ipBytes }, index) => {
    const comment = index === resetIndex ? `rstprobe finding ${finding.id}: ${finding.cause}, sent by ${finding.sentBy}` : undefined;
    const timeNs = msToNs(observation.timeMs);
    if (ipBytes !== null) {
      records.push({ timeNs, bytes: ipBytes, originalBytes: Math.max(ipBytes.length, observation.packet.ip.totalBytes), comment });
      return;
    }
    const headers = encodeTcpHeaders(observation.packet);
    if (headers === null) return;
    rebuilt += 1;
    records.push({ timeNs, bytes: headers.bytes, originalBytes: headers.originalBytes, comment });
  });
  const sender = `${finding.src.ip}:${finding.src.port}`;
  const receiver = `${finding.dst.ip}:${finding.dst.port}`;
  return encodePcapng({
    comment: [
      `rstprobe finding ${finding.id} on node ${nodeName}`,
      `reset ${sender} -> ${receiver}: cause ${finding.cause}, sent by ${finding.sentBy}${finding.kernelReason === null ? '' : `, kernel reason ${finding.kernelReason}`}`,
      ...finding.evidence,
      rebuilt === 0
        ? `packets as captured from the IP header on, cut at ${SNAP_BYTES} bytes`
        : `${records.length - rebuilt} packets as captured from the IP header on (cut at ${SNAP_BYTES} bytes), ${rebuilt} with headers rebuilt from the decoded fields (no payload, TCP checksum 0)`,
    ].join('\n'),
    linkType: LINKTYPE_RAW,
    snapBytes: SNAP_BYTES,
    interfaceName: nodeName,
    packets: records,
  });
}
