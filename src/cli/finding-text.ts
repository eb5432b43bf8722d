import { socketText } from '../flows/flow-key';
import type { Endpoint, Finding } from '../protocol/finding';

/** One human-readable line for a finding, for terminals (the JSON form is the contract). */
export function formatFindingLine(finding: Finding): string {
  if (finding.kind === 'pmtu') {
    const flags = [finding.mismatch ? 'MISMATCH' : '', finding.blackHole ? 'BLACK HOLE' : ''].filter(Boolean).join(' ');
    return `${finding.lastSeen} pmtu ${finding.from.ip} -> ${finding.to.ip}: ${finding.pmtu} bytes (local ${finding.localMtu}) ${flags}`.trimEnd();
  }
  const reason = finding.kernelReason === null ? '' : ` ${finding.kernelReason}`;
  const times = finding.count > 1 ? ` x${finding.count}` : '';
  return `${finding.lastSeen} ${finding.kind} ${endpointText(finding.src)} -> ${endpointText(finding.dst)} cause=${finding.cause} sentBy=${finding.sentBy}${reason}${times}`;
}

function endpointText(endpoint: Endpoint): string {
  const address = socketText(endpoint);
  const who = endpoint.pod !== null ? ` (${endpoint.pod.namespace}/${endpoint.pod.name})` : endpoint.node !== null ? ` (node ${endpoint.node})` : '';
  const process = endpoint.process !== null ? ` [${endpoint.process.comm}:${endpoint.process.pid}]` : '';
  return `${address}${who}${process}`;
}
