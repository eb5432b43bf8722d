import { newFindingId } from '../common/finding-id';
import type { PmtuFinding, PodRef } from '../protocol/finding';
import type { MtuComparison } from './mismatch';
import type { PathMeasurement } from './path-prober';

/** The target of a measurement as the finding names it (DESIGN.md, kind "pmtu"). */
export interface PmtuTarget {
  ip: string;
  node: string | null;
  pod: PodRef | null;
}

/**
 * Builds the `pmtu` finding of a finished measurement (pmtuBytes not null).
 * `evidence` lists how the answer was found, then the comparison's and the capture's lines.
 */
export function buildPmtuFinding(
  nodeName: string,
  target: PmtuTarget,
  measurement: PathMeasurement & { pmtuBytes: number },
  comparison: MtuComparison,
  passiveEvidence: readonly string[] = [],
  nowMs = Date.now(),
): PmtuFinding {
  const time = new Date(nowMs).toISOString();
  return {
    kind: 'pmtu',
    id: newFindingId(),
    node: nodeName,
    time,
    lastSeen: time,
    count: 1,
    from: { node: nodeName, ip: measurement.route.sourceIp },
    to: { ip: target.ip, node: target.node, pod: target.pod },
    pmtu: measurement.pmtuBytes,
    localMtu: measurement.route.localMtuBytes,
    mismatch: comparison.mismatch,
    blackHole: measurement.blackHole,
    icmpSeen: measurement.icmpSeen,
    probes: measurement.probes,
    durationMs: measurement.durationMs,
    advice: comparison.advice,
    evidence: [...measurementEvidence(measurement), ...comparison.evidence, ...passiveEvidence],
  };
}

/** How the search reached its answer, in words. */
export function measurementEvidence(measurement: PathMeasurement & { pmtuBytes: number }): string[] {
  const how = measurement.method === 'udp' ? 'UDP probes answered by port unreachable (ICMP echo got no answer)' : 'ICMP echo';
  const lines = [`${measurement.pmtuBytes}-byte packets reach ${measurement.targetIp} (${how}, ${measurement.probes} probes in ${measurement.durationMs} ms)`];
  const above = measurement.pmtuBytes + 1;
  switch (measurement.limitedBy) {
    case 'icmp': {
      const announced = [...new Set(measurement.announcedMtusBytes)].join(', ');
      lines.push(`${above}-byte packets draw ICMP ${measurement.family === 4 ? 'fragmentation needed' : 'packet too big'}${announced === '' ? '' : ` announcing MTU ${announced}`}`);
      break;
    }
    case 'silence':
      lines.push(`${above}-byte packets vanish without an ICMP error (repeated silence${measurement.lossSeen ? ', with loss seen on the path, so more tries' : ''})`);
      break;
    case 'local':
      lines.push(`the local route or interface ${measurement.route.ifname} refuses ${above}-byte packets`);
      break;
    case 'max':
      lines.push(`that is the largest size tried (${measurement.maxBytes}, the MTU of ${measurement.route.ifname} or --max)`);
      break;
    case 'unknown':
      lines.push(`the search stopped at its probe or time cap before the limit was pinned: ${measurement.pmtuBytes} is a lower bound`);
      break;
  }
  return lines;
}
