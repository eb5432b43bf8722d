/**
 * Which paths this node measures (issue 5): the `--pmtu-targets` addresses always;
 * with Kubernetes, only when this node runs a gateway pod (label selector, default
 * istio=ingressgateway), towards every node running pods those gateways talk to —
 * from the SYNs the capture saw leave the gateways — or every other node while none
 * have been seen. Per node: its address (the underlay) and one pod address on it
 * (the overlay, or the routed pod network). Only gateway nodes probe, so the work is
 * gateways × nodes, never nodes × nodes.
 */
import { isIP } from 'node:net';
import type { ClusterView, NodeRecord, PodRecord } from '../attribution/kubernetes/types';
import type { PmtuTarget } from './pmtu-finding';

export const DEFAULT_GATEWAY_SELECTOR: Readonly<Record<string, string>> = { istio: 'ingressgateway' };
/** A cap on one cycle's targets: 2 per node, so up to 256 nodes are covered. */
export const MAX_TARGETS_PER_CYCLE = 512;

export interface TargetSelection {
  targets: PmtuTarget[];
  /** IPs of the gateway pods on this node (the capture's peer tracking follows them). */
  gatewayIps: string[];
  /** Why these targets, for logs. */
  reason: string;
}

export function selectTargets(
  nodeName: string,
  staticTargets: readonly string[],
  cluster: ClusterView | null,
  gatewaySelector: Readonly<Record<string, string>>,
  observedPeers: readonly string[],
  nowMs = Date.now(),
): TargetSelection {
  const targets = new Map<string, PmtuTarget>();
  for (const ip of staticTargets) targets.set(ip, { ip, node: null, pod: null });
  if (cluster === null || !cluster.synced) {
    return { targets: [...targets.values()], gatewayIps: [], reason: cluster === null ? 'no Kubernetes: --pmtu-targets only' : 'Kubernetes not synced yet' };
  }
  const gateways = cluster.podsMatching({ ...gatewaySelector }).filter((pod) => pod.nodeName === nodeName && pod.deletingAtMs === null);
  const gatewayIps = gateways.flatMap((pod) => pod.ips);
  if (gateways.length === 0) return { targets: [...targets.values()], gatewayIps, reason: 'no gateway pod on this node' };

  const peerPodsByNode = new Map<string, PodRecord>();
  const peerNodes = new Set<string>();
  for (const ip of observedPeers) {
    const pod = cluster.podByIp(ip, nowMs);
    const node = pod?.nodeName ?? cluster.nodeForPodIp(ip)?.name ?? cluster.nodeByAddress(ip)?.name ?? null;
    if (node === null || node === nodeName) continue;
    peerNodes.add(node);
    if (pod !== null && !pod.hostNetwork && !peerPodsByNode.has(node)) peerPodsByNode.set(node, pod);
  }
  const nodes: NodeRecord[] =
    peerNodes.size > 0
      ? [...peerNodes].map((name) => cluster.node(name)).filter((node): node is NodeRecord => node !== null)
      : cluster.nodes().filter((node) => node.name !== nodeName);
  const family = preferredFamily(gatewayIps);
  for (const node of nodes) {
    if (targets.size >= MAX_TARGETS_PER_CYCLE) break;
    const nodeIp = pickAddress(node.addresses, family);
    if (nodeIp !== null && !targets.has(nodeIp)) targets.set(nodeIp, { ip: nodeIp, node: node.name, pod: null });
    const pod = peerPodsByNode.get(node.name) ?? cluster.podsOnNode(node.name).find((candidate) => !candidate.hostNetwork && candidate.ips.length > 0 && candidate.phase === 'Running' && candidate.deletingAtMs === null);
    const podIp = pod === undefined ? null : pickAddress(pod.ips, family);
    if (pod !== undefined && podIp !== null && !targets.has(podIp)) {
      targets.set(podIp, { ip: podIp, node: node.name, pod: { namespace: pod.namespace, name: pod.name, uid: pod.uid, container: null } });
    }
  }
  const reason = peerNodes.size > 0 ? `gateway pods talk to ${peerNodes.size} other node(s)` : 'no gateway traffic seen yet: every other node';
  return { targets: [...targets.values()], gatewayIps, reason };
}

function preferredFamily(ips: readonly string[]): 4 | 6 {
  return ips.length > 0 && ips.every((ip) => isIP(ip) === 6) ? 6 : 4;
}

function pickAddress(addresses: readonly string[], family: 4 | 6): string | null {
  return addresses.find((ip) => isIP(ip) === family) ?? addresses.find((ip) => isIP(ip) !== 0) ?? null;
}

/** Parses `k=v,k2=v2` (the --gateway-selector flag); null when malformed. */
export function parseLabelSelector(text: string): Record<string, string> | null {
  const selector: Record<string, string> = {};
  for (const part of text.split(',')) {
    const match = /^\s*([A-Za-z0-9][-A-Za-z0-9_./]*)\s*=\s*([-A-Za-z0-9_.]*)\s*$/.exec(part);
    if (match === null) return null;
    selector[match[1]!] = match[2]!;
  }
  return Object.keys(selector).length > 0 ? selector : null;
}
