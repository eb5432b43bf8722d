import { socketText } from '../flows/flow-key';
import type { Endpoint, ResetFinding } from '../protocol/finding';

/**
 * The default `analyze` output: findings grouped by sender, receiver, cause and
 * sent-by into one row each (count summed, first and last seen), with the advice
 * under each row. The receiver is named without its port: a client's ephemeral
 * ports would otherwise split one problem into many rows.
 */
export interface FindingGroup {
  sender: string;
  receiver: string;
  cause: string;
  sentBy: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  advice: string;
}

export function groupFindings(findings: readonly ResetFinding[]): FindingGroup[] {
  const groups = new Map<string, FindingGroup>();
  for (const finding of findings) {
    const sender = endpointText(finding.src, true);
    const receiver = endpointText(finding.dst, false);
    const key = [sender, receiver, finding.cause, finding.sentBy].join('\u0000');
    const group = groups.get(key);
    if (group === undefined) {
      groups.set(key, {
        sender,
        receiver,
        cause: finding.cause,
        sentBy: finding.sentBy,
        count: finding.count,
        firstSeen: finding.time,
        lastSeen: finding.lastSeen,
        advice: finding.advice,
      });
      continue;
    }
    group.count += finding.count;
    if (finding.time < group.firstSeen) group.firstSeen = finding.time;
    if (finding.lastSeen > group.lastSeen) group.lastSeen = finding.lastSeen;
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || a.firstSeen.localeCompare(b.firstSeen));
}

const HEADERS = ['SENDER', 'RECEIVER', 'CAUSE', 'SENT BY', 'COUNT', 'FIRST SEEN', 'LAST SEEN'] as const;

export function formatFindingsTable(findings: readonly ResetFinding[]): string {
  const groups = groupFindings(findings);
  if (groups.length === 0) return 'no TCP resets found\n';
  const rows = groups.map((group) => [group.sender, group.receiver, group.cause, group.sentBy, String(group.count), group.firstSeen, group.lastSeen]);
  const widths = HEADERS.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column].length)));
  const line = (cells: readonly string[]): string => cells.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd();
  const out = [line(HEADERS)];
  groups.forEach((group, index) => {
    out.push(line(rows[index]));
    out.push(`  advice: ${group.advice}`);
  });
  return `${out.join('\n')}\n`;
}

function endpointText(endpoint: Endpoint, withPort: boolean): string {
  const address = withPort ? socketText(endpoint) : endpoint.ip;
  if (endpoint.pod !== null) return `${address} (${endpoint.pod.namespace}/${endpoint.pod.name})`;
  if (endpoint.node !== null) return `${address} (node ${endpoint.node})`;
  return address;
}
